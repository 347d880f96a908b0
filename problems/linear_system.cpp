#include "problems/linear_system.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include "core/errors.hpp"

namespace snode::problems {
namespace {

// The system with the offset folded into an extra state fixed at 1 (the matrix itself when b is
// empty), and the matching initial state.
Matrix Augmented(const LinearSystem& system) {
  const Index n = system.a.rows();
  if (system.b.size() == 0) return system.a;
  Matrix augmented = Matrix::Zero(n + 1, n + 1);
  augmented.topLeftCorner(n, n) = system.a;
  augmented.topRightCorner(n, 1) = system.b;
  return augmented;
}

Vector AugmentedState(const LinearSystem& system, const Vector& z) {
  if (system.b.size() == 0) return z;
  Vector augmented(z.size() + 1);
  augmented << z, 1.0;
  return augmented;
}

void CheckSystem(const LinearSystem& system) {
  const Index n = system.a.rows();
  Require(system.a.cols() == n && system.z0.size() == n &&
              (system.b.size() == 0 || system.b.size() == n) &&
              system.weights.size() == system.times.size(),
          "LinearSystem: inconsistent sizes");
  for (std::size_t k = 0; k < system.times.size(); ++k) {
    Require(system.times[k] >= system.t0, "LinearSystem: an output time lies before t0");
    Require(system.weights[k].size() == 0 || system.weights[k].size() == n,
            "LinearSystem: a weight vector has the wrong length");
  }
}

}  // namespace

Vector LinearFunctionalGradient(const Matrix& a, const Vector& z0, const Vector& c,
                                double horizon) {
  const Index n = a.rows();
  Matrix block = Matrix::Zero(2 * n, 2 * n);
  block.topLeftCorner(n, n) = a.transpose();
  block.topRightCorner(n, n) = c * z0.transpose();
  block.bottomRightCorner(n, n) = a.transpose();
  const Matrix e = (block * horizon).exp();
  const Matrix dl_da = e.topRightCorner(n, n);
  Vector gradient(n * n + n);
  gradient.head(n * n) = Eigen::Map<const Vector>(dl_da.data(), n * n);  // column-major, as θ
  gradient.tail(n) = e.topLeftCorner(n, n) * c;                          // e^{AᵀT} c
  return gradient;
}

double LinearSystemLoss(const LinearSystem& system) {
  CheckSystem(system);
  const Index n = system.a.rows();
  const Matrix a = Augmented(system);
  const Vector z0 = AugmentedState(system, system.z0);
  double loss = 0.0;
  for (std::size_t k = 0; k < system.times.size(); ++k) {
    if (system.weights[k].size() == 0) continue;
    const Vector z = (a * (system.times[k] - system.t0)).exp() * z0;
    loss += system.weights[k].dot(z.head(n));
  }
  return loss;
}

Vector LinearSystemGradient(const LinearSystem& system) {
  CheckSystem(system);
  const Index n = system.a.rows();
  const Matrix a = Augmented(system);
  const Index m = a.rows();
  const Vector z0 = AugmentedState(system, system.z0);
  Vector sum = Vector::Zero(m * m + m);
  for (std::size_t k = 0; k < system.times.size(); ++k) {
    if (system.weights[k].size() == 0) continue;
    Vector c = Vector::Zero(m);
    c.head(n) = system.weights[k];
    sum += LinearFunctionalGradient(a, z0, c, system.times[k] - system.t0);
  }
  // Keep the blocks of A and z0 (drop b's column and the fixed extra state).
  Vector gradient(n * n + n);
  const Eigen::Map<const Matrix> dl_da(sum.data(), m, m);
  Eigen::Map<Matrix>(gradient.data(), n, n) = dl_da.topLeftCorner(n, n);
  gradient.tail(n) = sum.segment(m * m, n);
  return gradient;
}

}  // namespace snode::problems
