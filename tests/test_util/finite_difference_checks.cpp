#include "tests/test_util/finite_difference_checks.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace test_util {

::testing::AssertionResult VectorsClose(const Vector& actual, const Vector& expected, double rtol,
                                        double atol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  Index worst = -1;
  double worst_excess = 0.0;
  for (Index i = 0; i < actual.size(); ++i) {
    const double diff = std::abs(actual[i] - expected[i]);
    const double bound = rtol * std::abs(expected[i]) + atol;
    if (!(diff <= bound) && (worst < 0 || diff - bound > worst_excess)) {
      worst = i;
      worst_excess = diff - bound;
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "component " << worst << ": actual " << actual[worst] << " vs expected "
         << expected[worst] << " (|diff| " << std::abs(actual[worst] - expected[worst]) << ", rtol "
         << rtol << ", atol " << atol << ")";
}

double MaxRelativeError(const Vector& actual, const Vector& expected, double floor) {
  const double scale = std::max(expected.cwiseAbs().maxCoeff(), floor);
  return (actual - expected).cwiseAbs().maxCoeff() / scale;
}

Matrix CentralDifferenceJacobian(const std::function<Vector(const Vector&)>& g, const Vector& x,
                                 double step) {
  const Vector g0 = g(x);
  Matrix jac(g0.size(), x.size());
  Vector xp = x;
  for (Index j = 0; j < x.size(); ++j) {
    const double h = step * std::max(1.0, std::abs(x[j]));
    xp[j] = x[j] + h;
    const Vector plus = g(xp);
    xp[j] = x[j] - h;
    const Vector minus = g(xp);
    xp[j] = x[j];
    jac.col(j) = (plus - minus) / (2.0 * h);
  }
  return jac;
}

::testing::AssertionResult FieldDerivativesMatchFiniteDifferences(snode::VectorField& field,
                                                                  double t, const Vector& z,
                                                                  const Vector& theta, double rtol,
                                                                  double identity_rtol,
                                                                  unsigned seed) {
  const Index n = field.state_size();
  const Index p = field.num_params();
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Vector v(n), a(n);
  for (Index i = 0; i < n; ++i) v[i] = normal(rng);
  for (Index i = 0; i < n; ++i) a[i] = normal(rng);

  auto f_of_z = [&](const Vector& zz) {
    Vector out(n);
    field.F(t, zz, theta, out);
    return out;
  };
  auto f_of_theta = [&](const Vector& th) {
    Vector out(n);
    field.F(t, z, th, out);
    return out;
  };
  const Matrix jz = CentralDifferenceJacobian(f_of_z, z);
  const Matrix jtheta = CentralDifferenceJacobian(f_of_theta, theta);

  Vector jvp(n), vjp_state(n), vjp_params = Vector::Zero(p);
  field.Jvp(t, z, theta, v, jvp);
  field.VjpState(t, z, theta, a, vjp_state);
  field.VjpParams(t, z, theta, a, vjp_params);
  Vector fused_state(n), fused_params = Vector::Zero(p);
  field.Vjp(t, z, theta, a, fused_state, fused_params);
  Matrix dense(n, n);
  field.DenseJacobian(t, z, theta, dense);

  std::ostringstream failures;
  auto check = [&](const char* what, const Vector& actual, const Vector& expected, double tol) {
    const double err = MaxRelativeError(actual, expected, 1e-12);
    if (!(err <= tol)) failures << what << ": max relative error " << err << " > " << tol << "; ";
  };
  check("Jvp", jvp, jz * v, rtol);
  check("VjpState", vjp_state, jz.transpose() * a, rtol);
  if (p > 0) check("VjpParams", vjp_params, jtheta.transpose() * a, rtol);
  check("Vjp (state)", fused_state, vjp_state, 1e-13);
  if (p > 0) check("Vjp (params)", fused_params, vjp_params, 1e-13);
  const Vector dense_flat = Eigen::Map<const Vector>(dense.data(), dense.size());
  const Vector fd_flat = Eigen::Map<const Vector>(jz.data(), jz.size());
  check("DenseJacobian", dense_flat, fd_flat, rtol);
  // Adjoint identity ⟨a, Jv⟩ = ⟨Jᵀa, v⟩, exact up to rounding.
  const double lhs = a.dot(jvp), rhs = vjp_state.dot(v);
  const double scale = std::max({std::abs(lhs), std::abs(rhs), 1e-300});
  if (!(std::abs(lhs - rhs) <= identity_rtol * scale)) {
    failures << "adjoint identity: <a,Jv>=" << lhs << " vs <J^T a,v>=" << rhs << "; ";
  }
  // The VJP w.r.t. θ accumulates.
  if (p > 0) {
    Vector twice = vjp_params;
    field.VjpParams(t, z, theta, a, twice);
    check("VjpParams accumulates", twice, 2.0 * vjp_params, 1e-13);
  }
  if (failures.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << field.name() << ": " << failures.str();
}

}  // namespace test_util
