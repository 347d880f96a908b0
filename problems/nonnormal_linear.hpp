#pragma once
// A stiff, strongly non-normal 4 × 4 linear system with an exact gradient by the matrix
// exponential: z' = A z on [0, T], z(0) = z0 = (1, 1, 1, 1), θ = vec(A) (the 16 entries,
// column-major as LinearField), L = cᵀ z(T) with c = (1, 1, 1, 1).
//
// A = Q U Qᵀ with U upper triangular, diagonal (−1, −s, −0.9 s, −0.8 s) for s = stiffness,
// off-diagonal U_ij = 5·sqrt(|U_ii U_jj|) (i < j), and Q the fixed Householder reflection
// I − 2vvᵀ/vᵀv, v = (1, 2, 3, 4): eigenvalues −1 and a cluster at −0.8 s … −s whose eigenvectors
// are nearly parallel. Nothing is random; the same stiffness gives the same A.
//
// Measured (s = 1e5, T = 1, bptt/dopri5, atol = rtol/100; error = max_i |g_i − e_i| /
// max(|e_i|, 1e-3‖e‖∞)): rtol 1e-6 → 2.1e-4, 1e-8 → 5.6e-7, 1e-9 → 1.3e-5, 3e-10 → 4.7e2,
// 1e-10 → 2.4e65; the loss stays right to rtol. Both passes take ~3e4 steps at h|λ_max| ≈ 3.
//
// Exact gradient, with Φ(t) = e^{At}:
//   dL/dz0 = Φ(T)ᵀ c,
//   dL/dA  = ∫_0^T Φ(T − s)ᵀ c z0ᵀ Φ(s)ᵀ ds,
// the latter the upper-right block of exp(T [[Aᵀ, c z0ᵀ], [0, Aᵀ]]) (Van Loan, 1978).
// Explicit adaptive methods (dopri5) run this at the edge of their stability region for
// T ≫ 1/s; it is the problem on which bptt's reverse pass amplifies round-off (adjoint/bptt.hpp).

#include "core/types.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

// A for a stiffness s ≥ 1 (ConfigError otherwise).
Matrix NonNormalMatrix(double stiffness);
Vector NonNormalInitialState();  // z0
Vector NonNormalWeights();       // c
// L = cᵀ e^{AT} z0 evaluated by the matrix exponential (for checks by differences).
double NonNormalClosedFormLoss(const Matrix& a, double horizon);
// [dL/dθ; dL/dz0] at A (θ = vec(A), column-major) for horizon T.
Vector NonNormalExactGradient(const Matrix& a, double horizon);

// name "nonnormal", stiffness s, one output at T, exact gradient set. ConfigError for
// stiffness < 1 or horizon ≤ 0.
ProblemSetup NonNormalLinearProblem(double stiffness = 1e5, double horizon = 1.0);

}  // namespace snode::problems
