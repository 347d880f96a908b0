#include "models/brusselator.hpp"

#include "core/errors.hpp"

namespace snode {

BrusselatorField::BrusselatorField(Index points) : points_(points) {
  Require(points >= 1,
          "BrusselatorField: points must be at least 1, got " + std::to_string(points));
}

std::string BrusselatorField::name() const {
  return "brusselator batch " + std::to_string(points_);
}

Vector BrusselatorField::ClassicParams() { return (Vector(2) << 1.0, 3.0).finished(); }

void BrusselatorField::CheckCall(const char* method, Index z_size, Index theta_size) const {
  CheckState(method, "z", z_size);
  CheckParams(method, theta_size);
}

void BrusselatorField::F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckCall("F", z.size(), theta.size());
  CheckState("F", "out", out.size());
  const double a = theta[0], b = theta[1];
  for (Index i = 0; i < points_; ++i) {
    const double u = z[2 * i], v = z[2 * i + 1];
    const double uuv = u * u * v;
    out[2 * i] = a + uuv - (b + 1.0) * u;
    out[2 * i + 1] = b * u - uuv;
  }
}

void BrusselatorField::Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                           VectorRef out) {
  CheckCall("Jvp", z.size(), theta.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  const double b = theta[1];
  for (Index i = 0; i < points_; ++i) {
    const double u = z[2 * i], w = z[2 * i + 1];
    const double du = v[2 * i], dv = v[2 * i + 1];
    // d(u²v) = 2uv du + u² dv
    const double d_uuv = 2.0 * u * w * du + u * u * dv;
    out[2 * i] = d_uuv - (b + 1.0) * du;
    out[2 * i + 1] = b * du - d_uuv;
  }
}

void BrusselatorField::VjpState(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                                VectorRef out) {
  CheckCall("VjpState", z.size(), theta.size());
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  const double b = theta[1];
  for (Index i = 0; i < points_; ++i) {
    const double u = z[2 * i], w = z[2 * i + 1];
    const double au = a[2 * i], av = a[2 * i + 1];
    const double diff = au - av;  // the adjoint of u²v
    out[2 * i] = 2.0 * u * w * diff - (b + 1.0) * au + b * av;
    out[2 * i + 1] = u * u * diff;
  }
}

void BrusselatorField::VjpParams(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                                 VectorRef grad) {
  CheckCall("VjpParams", z.size(), theta.size());
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams (grad)", grad.size());
  double ga = 0.0, gb = 0.0;
  for (Index i = 0; i < points_; ++i) {
    ga += a[2 * i];
    gb += (a[2 * i + 1] - a[2 * i]) * z[2 * i];
  }
  grad[0] += ga;
  grad[1] += gb;
}

void BrusselatorField::DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta,
                                     MatrixRef jac) {
  CheckCall("DenseJacobian", z.size(), theta.size());
  Require(jac.rows() == state_size() && jac.cols() == state_size(),
          name() + ": DenseJacobian: jac must be " + std::to_string(state_size()) + " square");
  const double b = theta[1];
  jac.setZero();
  for (Index i = 0; i < points_; ++i) {
    const double u = z[2 * i], w = z[2 * i + 1];
    jac(2 * i, 2 * i) = 2.0 * u * w - (b + 1.0);
    jac(2 * i, 2 * i + 1) = u * u;
    jac(2 * i + 1, 2 * i) = b - 2.0 * u * w;
    jac(2 * i + 1, 2 * i + 1) = -u * u;
  }
}

std::unique_ptr<VectorField> BrusselatorField::Clone() const {
  return std::make_unique<BrusselatorField>(*this);
}

}  // namespace snode
