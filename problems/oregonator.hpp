#pragma once
// The Oregonator (Field–Noyes model of the Belousov–Zhabotinsky reaction, Hairer–Wanner II):
//   z1' = s (z2 − z1 z2 + z1 − q z1²),   z2' = (−z2 − z1 z2 + z3) / s,   z3' = w (z1 − z3),
// with rate constants k = (s, q, w) = (77.27, 8.375e-6, 0.161) entering as θ = ln k, z(0) =
// (1, 2, 3), observed at OregonatorTimes() up to the horizon. The concentrations span
// 1 … 1e5 and the Jacobian's eigenvalues reach ≈ −1e4 during the bursts. The loss weights
// each species by the inverse of its typical size, L = Σ_t (1e-4 z1 + 1e-3 z2 + 1e-4 z3).
// No closed-form gradient: the reference is ForwardSensitivityGradient at a tight tolerance.

#include <vector>

#include "problems/problem.hpp"

namespace snode::problems {

// The observation times horizon·{0.1, 0.25, 0.5, 0.75, 1}.
std::vector<double> OregonatorTimes(double horizon);
// name "oregonator", stiffness = the horizon.
ProblemSetup MakeOregonator(double horizon = 60.0);

}  // namespace snode::problems
