#include "integrators/heun_integrator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "core/errors.hpp"
#include "integrators/integrator_support.hpp"

namespace snode {

namespace {

using detail::FormatTime;

// Controller limits: the step may shrink to 1/5 or grow 5× per step; 0.9 is the usual safety
// factor against repeated rejections.
constexpr double kSafety = 0.9;
constexpr double kMinFactor = 0.2;
constexpr double kMaxFactor = 5.0;

}  // namespace

HeunIntegrator::HeunIntegrator(IntegratorOptions options) : options_(std::move(options)) {
  options_.Validate();
}

void HeunIntegrator::CheckFinite(const Vector& v, const char* what, double t) const {
  if (v.allFinite()) return;
  throw NumericalError("integrator 'heun': " + std::string(what) +
                       " is NaN or Inf at t=" + FormatTime(t));
}

void HeunIntegrator::Step(const OdeProblem& problem, double t, double h) {
  VectorField& field = *problem.field;
  field.F(t, z_, problem.theta, k1_);
  CheckFinite(k1_, "f", t);
  stage_ = z_ + h * k1_;
  field.F(t + h, stage_, problem.theta, k2_);
  CheckFinite(k2_, "f", t + h);
  rhs_evals_ += 2;
  z_new_ = z_ + (0.5 * h) * (k1_ + k2_);
  error_ = (0.5 * h) * (k2_ - k1_);
}

double HeunIntegrator::ErrorNorm() const {
  const Vector weights =
      (options_.rtol * z_.cwiseAbs().cwiseMax(z_new_.cwiseAbs())).array() + options_.atol;
  return std::sqrt(error_.cwiseQuotient(weights).squaredNorm() / static_cast<double>(z_.size()));
}

Trajectory HeunIntegrator::Solve(const OdeProblem& problem) {
  const auto start = std::chrono::steady_clock::now();
  detail::RequireStopTimesOnly("heun", options_, problem);
  options_.Validate();
  problem.Validate();
  const Index n = problem.z0.size();
  z_ = problem.z0;
  z_new_.resize(n);
  k1_.resize(n);
  k2_.resize(n);
  stage_.resize(n);
  error_.resize(n);
  rhs_evals_ = 0;

  Trajectory trajectory;
  trajectory.times = problem.output_times;
  if (options_.record_steps) trajectory.step_times.push_back(problem.t0);
  IntegratorStats& stats = trajectory.stats;
  const bool fixed = options_.fixed_step > 0.0;
  double t = problem.t0;
  double h = fixed ? options_.fixed_step : options_.initial_step;

  for (const double tout : problem.output_times) {
    long steps_in_interval = 0;
    while (t < tout) {
      if (++steps_in_interval > options_.max_steps) {
        // Same error type and wording as the SUNDIALS-based integrators (IntegratorOptions).
        throw SundialsError(
            "HeunIntegrator::Solve", -1, "HEUN_TOO_MUCH_WORK",
            "at t=" + FormatTime(t) +
                " (integrator 'heun'); more than max_steps=" + std::to_string(options_.max_steps) +
                " steps before t=" + FormatTime(tout) + ": raise max_steps or loosen rtol");
      }
      if (!fixed && h == 0.0) {
        // First step: the usual ratio ‖z‖/‖f‖ (Hairer, Nørsett & Wanner II.4), scaled down.
        problem.field->F(t, z_, problem.theta, k1_);
        ++rhs_evals_;
        CheckFinite(k1_, "f", t);
        const double z_norm = z_.norm(), f_norm = k1_.norm();
        h = (z_norm < 1e-5 || f_norm < 1e-5) ? 1e-6 : 0.01 * z_norm / f_norm;
      }
      if (options_.max_step > 0.0) h = std::min(h, options_.max_step);
      // Land exactly on tout: shorten the last step of the interval (and do not leave a
      // sliver below round-off behind).
      double step = std::min(h, tout - t);
      const bool last = t + step >= tout || tout - (t + step) <= 1e-12 * std::abs(tout);
      if (last) step = tout - t;
      Step(problem, t, step);
      if (!fixed) {
        const double norm = ErrorNorm();
        const double factor = norm == 0.0
                                  ? kMaxFactor
                                  : std::clamp(kSafety / std::sqrt(norm), kMinFactor, kMaxFactor);
        if (norm > 1.0) {  // reject and retry with a smaller step
          ++stats.rejected_steps;
          h = step * factor;
          if (t + h == t) {
            throw NumericalError("integrator 'heun': step size underflow at t=" + FormatTime(t) +
                                 "; the problem may be stiff (use sdirk or cvodes_bdf)");
          }
          continue;
        }
        h = (last ? std::max(h, step) : step) * factor;
      }
      std::swap(z_, z_new_);
      t = last ? tout : t + step;
      ++stats.steps;
      if (options_.record_steps) trajectory.step_times.push_back(t);
    }
    CheckFinite(z_, "the state", t);
    trajectory.states.push_back(z_);
  }
  stats.rhs_evals = rhs_evals_;
  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return trajectory;
}

}  // namespace snode
