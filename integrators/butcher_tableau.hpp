#pragma once
// Butcher tableaus of the Runge–Kutta integrators, as plain Eigen data (no SUNDIALS types), so
// code outside the integrators (e.g. a discrete adjoint that replays accepted steps) uses exactly
// the coefficients the integrators use.
//
// One step of size h from (t_n, z_n) with s stages:
//   Z_i     = z_n + h Σ_j a(i,j) f(t_n + c_i h, Z_j),  i = 1..s   (a strictly lower triangular when
//                                                                explicit, lower triangular for
//                                                                DIRK)
//   z_{n+1} = z_n + h Σ_i b_i f(t_n + c_i h, Z_i)
//   embedded solution (error estimate) uses b_embedded instead of b.
//
// The "dopri5" and "sdirk" tableaus are loaded from ARKODE (ARKODE_DORMAND_PRINCE_7_4_5 and
// ARKODE_ESDIRK43I6L2SA_6_3_4), so they are bit-identical to what ERKStep/ARKStep use; "euler",
// "heun", "rk4" and "backward_euler" are defined here and handed to ARKODE by the integrators.

#include <string>

#include "core/types.hpp"

namespace snode {

struct ButcherTableau {
  int stages = 0;          // s
  int order = 0;           // q: order of the solution (weights b)
  int embedded_order = 0;  // p: order of the embedding (weights b_embedded), 0 if none
  Matrix a;                // s × s, row i holds a(i, 0..s-1)
  Vector b;                // length s
  Vector c;                // length s (nodes)
  Vector b_embedded;       // length s, or empty when the method has no embedding

  bool HasEmbedding() const { return b_embedded.size() > 0; }
  // True when a is strictly lower triangular.
  bool IsExplicit() const;
};

// Tableau of an explicit integrator: "euler", "heun", "rk4" or "dopri5".
// Throws ConfigError for any other name.
ButcherTableau ExplicitTableau(const std::string& integrator_name);

// Tableau of an implicit (diagonally implicit) integrator: "backward_euler" or "sdirk".
// Throws ConfigError for any other name.
ButcherTableau ImplicitTableau(const std::string& integrator_name);

// Linear stability function R(z) = 1 + z bᵀ (I − z A)⁻¹ 1 of a tableau at a real z
// (y_{n+1} = R(hλ) y_n for y' = λy). Used to document and test A/L-stability.
double StabilityFunction(const ButcherTableau& tableau, double z);

}  // namespace snode
