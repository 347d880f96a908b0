#pragma once
// Problems shared by the cvodes_adjoint test files: a problem from its parts, Lotka–Volterra
// with 10 outputs, a linear 3-state field with an output at t0, and the two-rate decay (W1b).

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"

namespace snode::test_util {

// A labelled problem with its loss, for tests that run one check over several problems.
struct ProblemCase {
  std::string label;
  OdeProblem problem;
  std::shared_ptr<Loss> loss;
};

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
  return problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), times);
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

// LinearProblem's loss: a linear functional at four of its five output times (the one at t0
// included) and the running cost g = (0.3, 0, −1)·z.
inline std::shared_ptr<LinearFunctionalLoss> LinearProblemLoss() {
  std::vector<Vector> weights = {Vector{{1.0, 0.0, 0.0}}, Vector{{0.5, -1.0, 2.0}}, Vector(),
                                 Vector{{0.0, 1.0, 1.0}}, Vector{{1.0, 1.0, 1.0}}};
  return std::make_shared<LinearFunctionalLoss>(weights, Vector{{0.3, 0.0, -1.0}});
}

// The two-rate decay z' = diag(−θ1, −θ2) z, θ = (1, λ), z0 = (1, 1), four output times
// 1e-3 … 1, its loss L = Σ_t (z1 + z2) and closed-form gradient (problems/decay.hpp).
inline std::vector<double> W1bTimes() { return problems::TwoRateDecayTimes(); }
inline OdeProblem W1bProblem(double lambda) { return problems::TwoRateDecayOde(lambda); }
inline LinearFunctionalLoss W1bLoss() { return problems::TwoRateDecayLoss(); }
inline void W1bExactGradient(const std::vector<double>& times, double lambda, Vector& dtheta,
                             Vector& dz0) {
  const Vector exact = problems::TwoRateDecayExactGradient(lambda, times);
  dtheta = exact.head(2);
  dz0 = exact.tail(2);
}

}  // namespace snode::test_util
