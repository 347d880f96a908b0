#pragma once
// JacobianField: a small analytic vector field given by f and its two Jacobians ∂f/∂z and ∂f/∂θ
// in closed form; the derivative products (Jvp, VjpState, VjpParams, DenseJacobian) are derived
// from them. For the validation problems (a handful of states and parameters), where forming the
// Jacobians is cheaper than writing each product by hand.

#include <string>

#include "core/vector_field.hpp"

namespace snode::problems {

class JacobianField : public VectorField {
 public:
  JacobianField(std::string name, Index state_size, Index num_params);

  std::string name() const override { return name_; }
  Index state_size() const override { return n_; }
  Index num_params() const override { return p_; }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override;

 protected:
  // out = f(t, z; θ); sizes already checked.
  virtual void Evaluate(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) const = 0;
  // dfdz (n × n) and dfdtheta (n × P), both overwritten; sizes already checked.
  virtual void Jacobians(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef dfdz,
                         MatrixRef dfdtheta) const = 0;

 private:
  void Fill(const char* method, double t, ConstVectorRef z, ConstVectorRef theta);

  std::string name_;
  Index n_;
  Index p_;
  Matrix dfdz_;      // workspace
  Matrix dfdtheta_;  // workspace
};

}  // namespace snode::problems
