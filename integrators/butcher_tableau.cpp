#include "integrators/butcher_tableau.hpp"

// arkode_butcher*.h use FILE without including <cstdio> (SUNDIALS 6.4.1).
#include <cstdio>
// clang-format off
#include <arkode/arkode_butcher.h>
#include <arkode/arkode_butcher_dirk.h>
#include <arkode/arkode_butcher_erk.h>
// clang-format on

#include <Eigen/LU>
#include <memory>
#include <type_traits>

#include "core/errors.hpp"

namespace snode {

namespace {

struct TableFree {
  void operator()(ARKodeButcherTable table) const noexcept { ARKodeButcherTable_Free(table); }
};
using TablePtr = std::unique_ptr<std::remove_pointer_t<ARKodeButcherTable>, TableFree>;

ButcherTableau FromArkode(const ARKodeButcherTable table) {
  ButcherTableau result;
  const int s = table->stages;
  result.stages = s;
  result.order = table->q;
  result.embedded_order = table->d != nullptr ? table->p : 0;
  result.a = Matrix::Zero(s, s);
  result.b = Vector::Zero(s);
  result.c = Vector::Zero(s);
  for (int i = 0; i < s; ++i) {
    for (int j = 0; j < s; ++j) result.a(i, j) = table->A[i][j];
    result.b[i] = table->b[i];
    result.c[i] = table->c[i];
  }
  if (table->d != nullptr) {
    result.b_embedded = Vector::Zero(s);
    for (int i = 0; i < s; ++i) result.b_embedded[i] = table->d[i];
  }
  return result;
}

ButcherTableau Make(int order, const Matrix& a, const Vector& b, const Vector& c) {
  ButcherTableau result;
  result.stages = static_cast<int>(b.size());
  result.order = order;
  result.a = a;
  result.b = b;
  result.c = c;
  return result;
}

}  // namespace

bool ButcherTableau::IsExplicit() const {
  for (Index i = 0; i < a.rows(); ++i) {
    for (Index j = i; j < a.cols(); ++j) {
      if (a(i, j) != 0.0) return false;
    }
  }
  return true;
}

ButcherTableau ExplicitTableau(const std::string& integrator_name) {
  if (integrator_name == "euler") {
    return Make(1, Matrix::Zero(1, 1), Vector::Ones(1), Vector::Zero(1));
  }
  if (integrator_name == "heun") {
    // Explicit trapezoidal rule; forward Euler is its first-order embedding.
    Matrix a = Matrix::Zero(2, 2);
    a(1, 0) = 1.0;
    ButcherTableau t = Make(2, a, Vector::Constant(2, 0.5), (Vector(2) << 0.0, 1.0).finished());
    t.embedded_order = 1;
    t.b_embedded = (Vector(2) << 1.0, 0.0).finished();
    return t;
  }
  if (integrator_name == "rk4") {
    // Classic Runge–Kutta 4 (ARKODE 6.4.1 has no named table for it).
    Matrix a = Matrix::Zero(4, 4);
    a(1, 0) = 0.5;
    a(2, 1) = 0.5;
    a(3, 2) = 1.0;
    const Vector b = (Vector(4) << 1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0).finished();
    const Vector c = (Vector(4) << 0.0, 0.5, 0.5, 1.0).finished();
    return Make(4, a, b, c);
  }
  if (integrator_name == "dopri5") {
    TablePtr table(ARKodeButcherTable_LoadERK(ARKODE_DORMAND_PRINCE_7_4_5));
    if (!table) throw ConfigError("ARKODE has no ARKODE_DORMAND_PRINCE_7_4_5 table");
    return FromArkode(table.get());
  }
  throw ConfigError("no explicit Butcher tableau for integrator '" + integrator_name +
                    "'; known: dopri5, euler, heun, rk4");
}

ButcherTableau ImplicitTableau(const std::string& integrator_name) {
  if (integrator_name == "backward_euler") {
    return Make(1, Matrix::Ones(1, 1), Vector::Ones(1), Vector::Ones(1));
  }
  if (integrator_name == "sdirk") {
    // Kennedy & Carpenter's ESDIRK4(3I)6L[2]SA (ARKODE's "43I6" variant): 6 stages (the
    // first explicit, γ = 1/4), order 4, embedding 3, L-stable, stiffly accurate (b is the last
    // row of A), stage order 2. Chosen over ARKODE's default ARKODE_SDIRK_5_3_4 (stage order 1),
    // which fails the error test repeatedly on Robertson kinetics (docs/integrators.md).
    TablePtr table(ARKodeButcherTable_LoadDIRK(ARKODE_ESDIRK43I6L2SA_6_3_4));
    if (!table) throw ConfigError("ARKODE has no ARKODE_ESDIRK43I6L2SA_6_3_4 table");
    return FromArkode(table.get());
  }
  throw ConfigError("no implicit Butcher tableau for integrator '" + integrator_name +
                    "'; known: backward_euler, sdirk");
}

double StabilityFunction(const ButcherTableau& tableau, double z) {
  const Index s = tableau.stages;
  const Matrix m = Matrix::Identity(s, s) - z * tableau.a;
  const Vector stage = m.partialPivLu().solve(Vector::Ones(s));
  return 1.0 + z * tableau.b.dot(stage);
}

}  // namespace snode
