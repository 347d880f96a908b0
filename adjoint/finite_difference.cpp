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

  const Index num_params = problem.theta.size();
  result.dtheta.resize(num_params);
  for (Index i = 0; i < num_params; ++i) {
    const double h = StepFor(problem.theta[i]);
    // Divide by the representable step (θ+h) − (θ−h), not by 2h.
    const double up = problem.theta[i] + h, down = problem.theta[i] - h;
    perturbed.theta[i] = up;
    const double plus = loss_at();
    perturbed.theta[i] = down;
    const double minus = loss_at();
    perturbed.theta[i] = problem.theta[i];
    result.dtheta[i] = (plus - minus) / (up - down);
  }

  const Index n = problem.z0.size();
  result.dz0.resize(n);
  for (Index j = 0; j < n; ++j) {
    const double h = StepFor(problem.z0[j]);
    const double up = problem.z0[j] + h, down = problem.z0[j] - h;
    perturbed.z0[j] = up;
    const double plus = loss_at();
    perturbed.z0[j] = down;
    const double minus = loss_at();
    perturbed.z0[j] = problem.z0[j];
    result.dz0[j] = (plus - minus) / (up - down);
  }

  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace snode
