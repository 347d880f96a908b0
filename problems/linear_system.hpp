#pragma once
// The exact loss and gradient of a linear system z' = A z + b, z(t0) = z0, under a linear loss
// L = Σ_k w_kᵀ z(t_k), by the matrix exponential. Shared by the 4 × 4 non-normal problem
// (problems/nonnormal_linear.hpp) and the linear systems read from problem files
// (problems/problem_file.hpp).
//
// With Φ(t) = e^{At} and one term L = cᵀ z(T) of a system without offset (horizon h = T − t0):
//   dL/dz0 = Φ(h)ᵀ c,
//   dL/dA  = ∫_0^h Φ(h − s)ᵀ c z0ᵀ Φ(s)ᵀ ds,
// the latter the upper-right block of exp(h [[Aᵀ, c z0ᵀ], [0, Aᵀ]]) (Van Loan, 1978). An offset
// b is folded in by the augmented system [z; 1]' = [[A, b], [0, 0]] [z; 1]; the terms add up
// over the output times. Cost: one exponential of a 2(n + 1) × 2(n + 1) matrix per output time.

#include <vector>

#include "core/types.hpp"

namespace snode::problems {

// [vec(dL/dA) (column-major, as LinearField's θ); dL/dz0] for L = cᵀ e^{A·horizon} z0.
Vector LinearFunctionalGradient(const Matrix& a, const Vector& z0, const Vector& c, double horizon);

// A linear system with a linear loss: z' = a z + b (b empty: none), z(t0) = z0, observed at
// `times` (≥ t0) with the weights weights[k] (an empty vector: no term at time k).
struct LinearSystem {
  Matrix a;
  Vector b;
  Vector z0;
  double t0 = 0.0;
  std::vector<double> times;
  std::vector<Vector> weights;
};

// L = Σ_k w_kᵀ z(t_k) by the matrix exponential.
double LinearSystemLoss(const LinearSystem& system);
// [vec(dL/dA); dL/dz0], exact up to the exponential's round-off.
Vector LinearSystemGradient(const LinearSystem& system);

}  // namespace snode::problems
