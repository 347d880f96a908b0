#pragma once
// One Runge–Kutta step of a Butcher tableau on the linear system z' = A z, every (diagonally
// implicit) stage solved exactly: the reference the integrator tests compare a declared tableau's
// step against.
#include <Eigen/LU>

#include "core/types.hpp"
#include "integrators/butcher_tableau.hpp"

namespace test_util {

// K_i = (I − h a_ii A)⁻¹ A (z + h Σ_{j<i} a_ij K_j);  z_new = z + h Σ_i b_i K_i.
inline snode::Vector LinearTableauStep(const snode::ButcherTableau& tableau, const snode::Matrix& a,
                                       const snode::Vector& z, double h) {
  const snode::Index n = z.size();
  snode::Matrix k(n, tableau.stages);
  for (int i = 0; i < tableau.stages; ++i) {
    snode::Vector y = z;
    for (int j = 0; j < i; ++j) y += h * tableau.a(i, j) * k.col(j);
    const snode::Matrix m = snode::Matrix::Identity(n, n) - h * tableau.a(i, i) * a;
    k.col(i) = m.partialPivLu().solve(a * y);
  }
  return z + h * (k * tableau.b);
}

}  // namespace test_util
