#pragma once
// Problems shared by the cvodes_adjoint test files: a problem from its parts, Lotka–Volterra
// with 10 outputs, a linear 3-state field with an output at t0, and W1b's closed-form gradient.

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "core/ode_problem.hpp"
#include "models/analytic_fields.hpp"

namespace snode::test_util {

inline OdeProblem MakeProblem(std::shared_ptr<VectorField> field, Vector z0, Vector theta,
                              std::vector<double> times, double t0 = 0.0) {
  OdeProblem problem;
  problem.field = std::move(field);
  problem.z0 = std::move(z0);
  problem.theta = std::move(theta);
  problem.t0 = t0;
  problem.output_times = std::move(times);
  return problem;
}

// x' = αx − βxy, y' = δxy − γy with (α, β, δ, γ) = (1.5, 1, 1, 3), (1, 1), outputs 0.5, …, 5.
inline OdeProblem LotkaVolterraProblem() {
  std::vector<double> times;
  for (int i = 1; i <= 10; ++i) times.push_back(0.5 * i);
  return MakeProblem(std::make_shared<LotkaVolterraField>(), Vector{{1.0, 1.0}},
                     Vector{{1.5, 1.0, 1.0, 3.0}}, times);
}

// z' = A z with a fixed non-normal 3 × 3 A; the first output time equals t0.
inline OdeProblem LinearProblem() {
  Matrix a(3, 3);
  a << -0.5, 1.0, 0.2,  //
      -1.0, -0.3, 0.4,  //
      0.1, -0.2, -0.8;
  return MakeProblem(std::make_shared<LinearField>(3), Vector{{1.0, -0.5, 0.25}},
                     LinearField::ParamsFromMatrix(a), {0.0, 0.5, 1.0, 2.0, 3.0});
}

// W1b: z' = diag(−1, −λ) z, z0 = (1, 1), L = Σ_t (z1 + z2): dL/dθ and dL/dz0 in closed form.
inline void W1bExactGradient(const std::vector<double>& times, double lambda, Vector& dtheta,
                             Vector& dz0) {
  dtheta = Vector::Zero(2);
  dz0 = Vector::Zero(2);
  for (const double t : times) {
    dtheta(0) -= t * std::exp(-t);
    dtheta(1) -= t * std::exp(-lambda * t);
    dz0(0) += std::exp(-t);
    dz0(1) += std::exp(-lambda * t);
  }
}

}  // namespace snode::test_util
