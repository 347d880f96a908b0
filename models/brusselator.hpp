#pragma once
// BrusselatorField: the Brusselator reaction at each of `points` grid points, a batched pointwise
// field for OperatorPlusPointwiseField (models/operator_field.hpp):
//   g(u, v; θ) = (A + u²v − (B + 1)u,  Bu − u²v),   θ = (A, B), classically (1, 3),
// with z interleaved (u_1, v_1, …, u_N, v_N). Per point the Jacobian is
//   R = [2uv − (B + 1),  u²;  B − 2uv,  −u²],
// and ∂g/∂A = (1, 0), ∂g/∂B = (−u, u). All products are exact (closed forms); DenseJacobian is
// the block-diagonal closed form. ConfigError for points < 1 and on wrong argument sizes.

#include <memory>
#include <string>

#include "core/vector_field.hpp"

namespace snode {

class BrusselatorField final : public VectorField {
 public:
  explicit BrusselatorField(Index points = 1);
  std::string name() const override;
  Index state_size() const override { return 2 * points_; }
  Index num_params() const override { return 2; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override;
  std::unique_ptr<VectorField> Clone() const override;

  Index points() const { return points_; }
  // θ = (A, B) = (1, 3).
  static Vector ClassicParams();

 private:
  void CheckCall(const char* method, Index z_size, Index theta_size) const;

  Index points_;
};

}  // namespace snode
