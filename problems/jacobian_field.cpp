#include "problems/jacobian_field.hpp"

#include <utility>

#include "core/errors.hpp"

namespace snode::problems {

JacobianField::JacobianField(std::string name, Index state_size, Index num_params)
    : name_(std::move(name)),
      n_(state_size),
      p_(num_params),
      dfdz_(state_size, state_size),
      dfdtheta_(state_size, num_params) {}

void JacobianField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "z", z.size());
  CheckState("F", "out", out.size());
  CheckParams("F", theta.size());
  Evaluate(t, z, theta, out);
}

void JacobianField::Fill(const char* method, double t, ConstVectorRef z, ConstVectorRef theta) {
  CheckState(method, "z", z.size());
  CheckParams(method, theta.size());
  Jacobians(t, z, theta, dfdz_, dfdtheta_);
}

void JacobianField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                        VectorRef out) {
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  Fill("Jvp", t, z, theta);
  out.noalias() = dfdz_ * v;
}

void JacobianField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                             VectorRef out) {
  CheckState("VjpState", "a", a.size());
  CheckState("VjpState", "out", out.size());
  Fill("VjpState", t, z, theta);
  out.noalias() = dfdz_.transpose() * a;
}

void JacobianField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                              VectorRef grad) {
  CheckState("VjpParams", "a", a.size());
  CheckParams("VjpParams (grad)", grad.size());
  Fill("VjpParams", t, z, theta);
  grad.noalias() += dfdtheta_.transpose() * a;
}

void JacobianField::DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  Require(jac.rows() == n_ && jac.cols() == n_, name_ + ": DenseJacobian: jac has the wrong shape");
  Fill("DenseJacobian", t, z, theta);
  jac = dfdz_;
}

}  // namespace snode::problems
