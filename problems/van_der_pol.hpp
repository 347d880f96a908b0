#pragma once
// The van der Pol relaxation oscillator in Liénard form, θ = (μ):
//   x' = μ (x − x³/3 − y),   y' = x / μ,
// μ = 1e3 by default, z(0) = (2, −2/3) (on the slow branch y = x − x³/3), observed at
// t ∈ μ·{0.25, 0.5, 0.75, 1}, L = Σ_t x(t) + y(t). The slow phase ends at t ≈ (3/2 − ln 2) μ
// ≈ 0.81 μ with a relaxation jump of x from 1 to −2, so the horizon spans one jump; the Jacobian's
// stiff eigenvalue is μ (1 − x²) ≈ −3μ on the slow branch. No closed-form gradient: the
// reference is ForwardSensitivityGradient at a tight tolerance.

#include "problems/problem.hpp"

namespace snode::problems {

// name "van_der_pol", stiffness μ.
ProblemSetup MakeVanDerPol(double mu = 1e3);

}  // namespace snode::problems
