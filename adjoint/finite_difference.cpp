#include "adjoint/finite_difference.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace {

// Relative step of style.md §7 (also Ceres's default relative_step_size).
constexpr double kRelativeStep = 1e-6;

double StepFor(double x) { return kRelativeStep * std::max(1.0, std::abs(x)); }

}  // namespace

LossAndGradient CentralDifferenceGradient(const OdeProblem& problem, const Loss& loss,
                                          const GradientOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  options.Validate();
  problem.Validate();
  std::unique_ptr<Integrator> integrator =
      IntegratorRegistry().Create(options.integrator, options.integrator_options);

  LossAndGradient result;
  GradientStats& stats = result.stats;
  auto count = [&stats](const Trajectory& trajectory) {
    stats.forward_rhs_evals += trajectory.stats.rhs_evals;
    stats.forward_steps += trajectory.stats.steps;
  };

  Vector readout;
  result.loss = EvaluateLoss(problem, loss, *integrator, &readout, &result.forward);
  count(result.forward);
  result.dreadout = std::move(readout);

  // One perturbed copy; the field is shared, only z0/θ change.
  OdeProblem perturbed = problem;
  Trajectory scratch;
  auto loss_at = [&]() {
    const double value = EvaluateLoss(perturbed, loss, *integrator, nullptr, &scratch);
    count(scratch);
    return value;
  };

  // Central differences in every entry of `values` (θ or z0 of the perturbed copy).
  auto differentiate = [&](Vector& values, const Vector& base, Vector& out) {
    out.resize(base.size());
    for (Index i = 0; i < base.size(); ++i) {
      const double h = StepFor(base[i]);
      // Divide by the representable step (x+h) − (x−h), not by 2h.
      const double up = base[i] + h, down = base[i] - h;
      values[i] = up;
      const double plus = loss_at();
      values[i] = down;
      const double minus = loss_at();
      values[i] = base[i];
      out[i] = (plus - minus) / (up - down);
    }
  };
  differentiate(perturbed.theta, problem.theta, result.dtheta);
  differentiate(perturbed.z0, problem.z0, result.dz0);

  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace snode
