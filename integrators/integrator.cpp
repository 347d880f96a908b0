#include "integrators/integrator.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace snode {

void IntegratorOptions::Validate() const {
  // Validate() runs on every Solve: messages are built (lambdas) only when a check fails.
  Require(std::isfinite(rtol) && rtol > 0.0, [&] {
    return "integrator option rtol must be positive and finite, got " + std::to_string(rtol);
  });
  Require(std::isfinite(atol) && atol > 0.0, [&] {
    return "integrator option atol must be positive and finite, got " + std::to_string(atol);
  });
  Require(std::isfinite(fixed_step) && fixed_step >= 0.0, [&] {
    return "integrator option fixed_step must be positive (or 0 for adaptive), got " +
           std::to_string(fixed_step);
  });
  Require(std::isfinite(initial_step) && initial_step >= 0.0, [&] {
    return "integrator option initial_step must be >= 0, got " + std::to_string(initial_step);
  });
  Require(std::isfinite(max_step) && max_step >= 0.0, [&] {
    return "integrator option max_step must be >= 0, got " + std::to_string(max_step);
  });
  Require(initial_step_estimate == "hairer" || initial_step_estimate == "sundials", [&] {
    return "integrator option initial_step_estimate must be 'hairer' or 'sundials', got '" +
           initial_step_estimate + "'";
  });
  Require(step_controller == "i" || step_controller == "arkode", [&] {
    return "integrator option step_controller must be 'i' or 'arkode', got '" + step_controller +
           "'";
  });
  Require(max_steps > 0, [&] {
    return "integrator option max_steps must be positive, got " + std::to_string(max_steps);
  });
  Require(linear_solver == "dense" || linear_solver == "gmres" || linear_solver == "fgmres", [&] {
    return "integrator option linear_solver must be 'dense', 'gmres' or 'fgmres', got '" +
           linear_solver + "'";
  });
  Require(preconditioner == "auto" || preconditioner == "none" || preconditioner == "field" ||
              preconditioner == "band",
          [&] {
            return "integrator option preconditioner must be 'auto', 'none', 'field' or 'band', "
                   "got '" +
                   preconditioner + "'";
          });
  Require(max_nonlinear_iters > 0, "integrator option max_nonlinear_iters must be positive");
  Require(krylov_max_dim > 0, "integrator option krylov_max_dim must be positive");
  Require(!(interpolate_outputs && fixed_step > 0.0),
          "integrator option interpolate_outputs needs adaptive steps (fixed_step = 0); fixed "
          "steps are shortened to land on every output time instead");
}

void CheckDenseNewtonSize(Index n, const std::string& where) {
  Require(n <= kMaxDenseNewtonStates, [&] {
    const double mib = static_cast<double>(n) * static_cast<double>(n) * 8.0 / (1024.0 * 1024.0);
    return where + ": linear_solver 'dense' refuses " + std::to_string(n) + " states (limit " +
           std::to_string(kMaxDenseNewtonStates) + "; the Newton matrix alone " + "would take " +
           std::to_string(static_cast<long>(mib)) +
           " MiB); use linear_solver 'gmres' or 'fgmres' with a preconditioner (option " +
           "preconditioner: auto, field or band)";
  });
}

IntegratorStats& IntegratorStats::operator+=(const IntegratorStats& other) {
  const long phi_calls_this = steps, phi_calls_other = other.steps;
  if (phi_calls_this + phi_calls_other > 0) {
    krylov_dim_mean = (krylov_dim_mean * static_cast<double>(phi_calls_this) +
                       other.krylov_dim_mean * static_cast<double>(phi_calls_other)) /
                      static_cast<double>(phi_calls_this + phi_calls_other);
  }
  steps += other.steps;
  rejected_steps += other.rejected_steps;
  rhs_evals += other.rhs_evals;
  jvp_evals += other.jvp_evals;
  jacobian_evals += other.jacobian_evals;
  linear_iters += other.linear_iters;
  nonlinear_iters += other.nonlinear_iters;
  preconditioner_setups += other.preconditioner_setups;
  preconditioner_solves += other.preconditioner_solves;
  krylov_dim_max = std::max(krylov_dim_max, other.krylov_dim_max);
  wall_seconds += other.wall_seconds;
  if (first_step == 0.0) first_step = other.first_step;
  return *this;
}

}  // namespace snode
