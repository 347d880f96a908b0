#include "models/analytic_fields.hpp"

#include "core/errors.hpp"

namespace snode {

// ---------------------------------------------------------------- DecayField
DecayField::DecayField(Index dimension) : dimension_(dimension) {
  Require(dimension > 0,
          "DecayField: dimension must be positive, got " + std::to_string(dimension));
}

std::string DecayField::name() const { return "decay" + std::to_string(dimension_); }

void DecayField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  CheckParams("F", theta.size());
  out = -theta.cwiseProduct(z);
}

void DecayField::Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                     VectorRef out) {
  CheckState("Jvp", "z", z.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  CheckParams("Jvp", theta.size());
  out = -theta.cwiseProduct(v);
}

void DecayField::VjpState(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                          VectorRef out) {
  CheckState("VjpState", "z", z.size());
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  CheckParams("VjpState", theta.size());
  out = -theta.cwiseProduct(a);
}

void DecayField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                           VectorRef grad) {
  CheckState("VjpParams", "z", z.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams", theta.size());
  CheckParams("VjpParams (grad)", grad.size());
  grad -= a.cwiseProduct(z);
}

void DecayField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  CheckState("DenseJacobian", "z", z.size());
  CheckParams("DenseJacobian", theta.size());
  Require(jac.rows() == dimension_ && jac.cols() == dimension_,
          name() + ": DenseJacobian: jac has the wrong shape");
  jac.setZero();
  jac.diagonal() = -theta;
}

std::unique_ptr<VectorField> DecayField::Clone() const {
  return std::make_unique<DecayField>(*this);
}

// ---------------------------------------------------------------- LinearField
LinearField::LinearField(Index dimension, Vector offset)
    : dimension_(dimension), offset_(std::move(offset)) {
  Require(dimension > 0,
          "LinearField: dimension must be positive, got " + std::to_string(dimension));
  if (offset_.size() == 0) offset_ = Vector::Zero(dimension);
  Require(offset_.size() == dimension, "LinearField: offset b has length " +
                                           std::to_string(offset_.size()) + ", expected " +
                                           std::to_string(dimension));
}

std::string LinearField::name() const { return "linear" + std::to_string(dimension_); }

namespace {
Eigen::Map<const Matrix> AsMatrix(ConstVectorRef theta, Index n) {
  return Eigen::Map<const Matrix>(theta.data(), n, n);
}
}  // namespace

void LinearField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  CheckParams("F", theta.size());
  out.noalias() = AsMatrix(theta, dimension_) * z;
  out += offset_;
}

void LinearField::Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                      VectorRef out) {
  CheckState("Jvp", "z", z.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  CheckParams("Jvp", theta.size());
  out.noalias() = AsMatrix(theta, dimension_) * v;
}

void LinearField::VjpState(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                           VectorRef out) {
  CheckState("VjpState", "z", z.size());
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  CheckParams("VjpState", theta.size());
  out.noalias() = AsMatrix(theta, dimension_).transpose() * a;
}

void LinearField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                            VectorRef grad) {
  CheckState("VjpParams", "z", z.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams", theta.size());
  CheckParams("VjpParams (grad)", grad.size());
  // ∂(Az)_i/∂A_ij = z_j, so aᵀ ∂f/∂A = a zᵀ, stored column-major like θ.
  Eigen::Map<Matrix>(grad.data(), dimension_, dimension_).noalias() += a * z.transpose();
}

void LinearField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  CheckState("DenseJacobian", "z", z.size());
  CheckParams("DenseJacobian", theta.size());
  Require(jac.rows() == dimension_ && jac.cols() == dimension_,
          name() + ": DenseJacobian: jac has the wrong shape");
  jac = AsMatrix(theta, dimension_);
}

std::unique_ptr<VectorField> LinearField::Clone() const {
  return std::make_unique<LinearField>(*this);
}

Vector LinearField::ParamsFromMatrix(const Matrix& a) {
  Require(a.rows() == a.cols(), "LinearField::ParamsFromMatrix: A must be square");
  return Eigen::Map<const Vector>(a.data(), a.size());
}

// ---------------------------------------------------------------- LotkaVolterraField
void LotkaVolterraField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  CheckParams("F", theta.size());
  const double x = z[0], y = z[1];
  const double alpha = theta[0], beta = theta[1], delta = theta[2], gamma = theta[3];
  out[0] = alpha * x - beta * x * y;
  out[1] = delta * x * y - gamma * y;
}

void LotkaVolterraField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta,
                                       MatrixRef jac) {
  CheckState("DenseJacobian", "z", z.size());
  CheckParams("DenseJacobian", theta.size());
  Require(jac.rows() == 2 && jac.cols() == 2, "lotka_volterra: DenseJacobian: jac must be 2x2");
  const double x = z[0], y = z[1];
  const double alpha = theta[0], beta = theta[1], delta = theta[2], gamma = theta[3];
  jac << alpha - beta * y, -beta * x, delta * y, delta * x - gamma;
}

void LotkaVolterraField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                             VectorRef out) {
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  Eigen::Matrix2d jac;
  DenseJacobian(t, z, theta, jac);
  out = jac * v;
}

void LotkaVolterraField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta,
                                  ConstVectorRef a, VectorRef out) {
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  Eigen::Matrix2d jac;
  DenseJacobian(t, z, theta, jac);
  out = jac.transpose() * a;
}

void LotkaVolterraField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                                   VectorRef grad) {
  CheckState("VjpParams", "z", z.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams", theta.size());
  CheckParams("VjpParams (grad)", grad.size());
  const double x = z[0], y = z[1];
  grad[0] += a[0] * x;
  grad[1] -= a[0] * x * y;
  grad[2] += a[1] * x * y;
  grad[3] -= a[1] * y;
}

std::unique_ptr<VectorField> LotkaVolterraField::Clone() const {
  return std::make_unique<LotkaVolterraField>(*this);
}

// ---------------------------------------------------------------- RobertsonField
Vector RobertsonField::ClassicRates() { return (Vector(3) << 0.04, 3e7, 1e4).finished(); }

void RobertsonField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  CheckParams("F", theta.size());
  const double k1 = theta[0], k2 = theta[1], k3 = theta[2];
  const double y1 = z[0], y2 = z[1], y3 = z[2];
  out[0] = -k1 * y1 + k3 * y2 * y3;
  out[2] = k2 * y2 * y2;
  out[1] = -out[0] - out[2];
}

void RobertsonField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  CheckState("DenseJacobian", "z", z.size());
  CheckParams("DenseJacobian", theta.size());
  Require(jac.rows() == 3 && jac.cols() == 3, "robertson: DenseJacobian: jac must be 3x3");
  const double k1 = theta[0], k2 = theta[1], k3 = theta[2];
  const double y2 = z[1], y3 = z[2];
  jac << -k1, k3 * y3, k3 * y2,                //
      k1, -2.0 * k2 * y2 - k3 * y3, -k3 * y2,  //
      0.0, 2.0 * k2 * y2, 0.0;
}

void RobertsonField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                         VectorRef out) {
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  Eigen::Matrix3d jac;
  DenseJacobian(t, z, theta, jac);
  out = jac * v;
}

void RobertsonField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                              VectorRef out) {
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  Eigen::Matrix3d jac;
  DenseJacobian(t, z, theta, jac);
  out = jac.transpose() * a;
}

void RobertsonField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                               VectorRef grad) {
  CheckState("VjpParams", "z", z.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams", theta.size());
  CheckParams("VjpParams (grad)", grad.size());
  const double y1 = z[0], y2 = z[1], y3 = z[2];
  // ∂f/∂k1 = (−y1, y1, 0); ∂f/∂k2 = (0, −y2², y2²); ∂f/∂k3 = (y2 y3, −y2 y3, 0).
  grad[0] += (a[1] - a[0]) * y1;
  grad[1] += (a[2] - a[1]) * y2 * y2;
  grad[2] += (a[0] - a[1]) * y2 * y3;
}

std::unique_ptr<VectorField> RobertsonField::Clone() const {
  return std::make_unique<RobertsonField>(*this);
}

}  // namespace snode
