#pragma once
// Linear decay problems with closed-form gradients.
//
// Decay (the seed's experiment): dy/dt = −λy, y(0) = 1, t ∈ [0, 1], L = y(1), θ = (λ):
//   dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ} (both underflow to 0 in double for λ ≳ 745).
//
// Two-rate decay: z' = diag(−θ1, −θ2) z, θ = (1, λ), z0 = (1, 1), output times
// t ∈ {1e-3, 1e-2, 1e-1, 1}, L = Σ_t z1(t) + z2(t):
//   dL/dθ_i = −Σ_t t e^{−θ_i t},  dL/dz0_i = Σ_t e^{−θ_i t}.
// Every exact component stays representable for any λ, so relative errors are meaningful.

#include <vector>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

// ---- decay dy/dt = −λy
// The ODE alone, observed at `times` (the experiment: {1}).
OdeProblem DecayOde(double lambda, std::vector<double> times = {1.0});
LinearFunctionalLoss DecayLoss();  // L = y(1)
Vector DecayExactGradient(double lambda);
ProblemSetup MakeDecay(double lambda);  // name "decay", stiffness λ

// ---- two-rate decay z' = diag(−1, −λ) z
std::vector<double> TwoRateDecayTimes();  // {1e-3, 1e-2, 1e-1, 1}
OdeProblem TwoRateDecayOde(double lambda);
LinearFunctionalLoss TwoRateDecayLoss();  // Σ_t z1(t) + z2(t) at TwoRateDecayTimes()
// [dL/dθ1, dL/dθ2, dL/dz0_1, dL/dz0_2] for θ = (1, λ), z0 = (1, 1) and the loss Σ_t z1 + z2
// over `times`.
Vector TwoRateDecayExactGradient(double lambda,
                                 const std::vector<double>& times = TwoRateDecayTimes());
ProblemSetup MakeTwoRateDecay(double lambda);  // name "two_rate_decay", stiffness λ

}  // namespace snode::problems
