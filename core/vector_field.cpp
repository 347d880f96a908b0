#include "core/vector_field.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode {

void VectorField::DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  const Index n = state_size();
  CheckState("DenseJacobian", "z", z.size());
  Require(jac.rows() == n && jac.cols() == n,
          name() + ": DenseJacobian: jac must be " + std::to_string(n) + "x" + std::to_string(n));
  Vector unit = Vector::Zero(n);
  for (Index j = 0; j < n; ++j) {
    unit[j] = 1.0;
    Jvp(t, z, theta, unit, jac.col(j));
    unit[j] = 0.0;
  }
}

void VectorField::VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta,
                               ConstMatrixRef a, VectorRef grad) {
  if (z.rows() != state_size() || a.rows() != state_size() || z.cols() != a.cols()) {
    throw ConfigError(name() + ": VjpParamsSum: z and a must both be " +
                      std::to_string(state_size()) + " x K, got " + std::to_string(z.rows()) +
                      " x " + std::to_string(z.cols()) + " and " + std::to_string(a.rows()) +
                      " x " + std::to_string(a.cols()));
  }
  for (Index k = 0; k < a.cols(); ++k) VjpParams(times[k], z.col(k), theta, a.col(k), grad);
}

void VectorField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("TimeDerivative", "out", out.size());
  if (IsAutonomous()) {
    out.setZero();
    return;
  }
  const double h = 1e-6 * std::max(1.0, std::abs(t));
  Vector f_minus(out.size());
  F(t + h, z, theta, out);
  F(t - h, z, theta, f_minus);
  out = (out - f_minus) / (2.0 * h);
}

void VectorField::JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                                 double* blocks) {
  CheckJacobianBlocks(block);
  CheckState("JacobianBlocks", "z", z.size());
  CheckParams("JacobianBlocks", theta.size());
  const Index n = state_size(), points = n / block;
  Vector comb(n), column(n);
  for (Index c = 0; c < block; ++c) {
    comb.setZero();
    for (Index i = 0; i < points; ++i) comb[i * block + c] = 1.0;
    Jvp(t, z, theta, comb, column);
    for (Index i = 0; i < points; ++i) {
      for (Index r = 0; r < block; ++r) blocks[(i * block + c) * block + r] = column[i * block + r];
    }
  }
}

void VectorField::CheckJacobianBlocks(Index block) const {
  if (block < 1 || state_size() % block != 0) {
    throw ConfigError(name() + ": JacobianBlocks: a block of " + std::to_string(block) +
                      " does not divide the state size " + std::to_string(state_size()));
  }
}

void VectorField::Linearize(double, ConstVectorRef, ConstVectorRef, double*) {
  throw ConfigError(name() + ": Linearize: the field offers no state linearisation");
}

void VectorField::VjpStateLinearized(const double*, ConstVectorRef, VectorRef) {
  throw ConfigError(name() + ": VjpStateLinearized: the field offers no state linearisation");
}

void VectorField::CheckState(const char* method, const char* argument, Index length) const {
  if (length != state_size()) {
    throw ConfigError(name() + ": " + method + ": " + argument + " has length " +
                      std::to_string(length) + ", expected state size " +
                      std::to_string(state_size()));
  }
}

void VectorField::CheckParams(const char* method, Index length) const {
  if (length != num_params()) {
    throw ConfigError(name() + ": " + method + ": theta has length " + std::to_string(length) +
                      ", expected " + std::to_string(num_params()) + " parameters");
  }
}

}  // namespace snode
