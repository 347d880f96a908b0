#pragma once
// An MLP field with a stiff linear part: f(z; θ) = A z + MLP(z; θ), n = 3, MLP 3-8-3 tanh
// (θ = its 59 weights, initial parameters of seed 7), A = V diag(−1, −1e3, −1e4) V⁻¹ with
// V = [[1, 0.5, 0], [0, 1, 0.5], [0, 0, 1]] (a fixed, mildly non-normal matrix; not a parameter).
// z(0) = (1, −0.5, 0.25), observed at t ∈ {1e-4, 1e-3, 1e-2, 0.1, 1}, L = Σ_t Σ_i z_i(t).
// No closed-form gradient: the reference is ForwardSensitivityGradient at a tight tolerance.

#include "core/types.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

// The linear part A for the given fast eigenvalues (−1 is always the slow one).
Matrix StiffMlpLinearPart(double fast1 = -1e3, double fast2 = -1e4);
// name "stiff_mlp", stiffness |fast2|.
ProblemSetup MakeStiffMlp(double fast1 = -1e3, double fast2 = -1e4);

}  // namespace snode::problems
