#pragma once
// Closed-form vector fields: the test oracles and the seed's examples. Each has exact Jvp/Vjp
// products and a closed-form dense Jacobian.

#include <memory>
#include <string>

#include "core/vector_field.hpp"

namespace snode {

// Diagonal decay z_i' = −θ_i z_i, i = 1..n. n = 1 is the seed's dy/dt = −λy (θ = λ); n = 2 with
// θ = (1, λ) is the two-rate decay of problems/decay.hpp. Exact solution z_i(t) = z_i(0) e^{−θ_i (t
// − t0)}.
class DecayField final : public VectorField {
 public:
  explicit DecayField(Index dimension = 1);
  std::string name() const override;
  Index state_size() const override { return dimension_; }
  Index num_params() const override { return dimension_; }
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

 private:
  Index dimension_;
};

// Linear field z' = A z + b with θ = vec(A) (column-major, n² entries); b is fixed data (zero by
// default), so affine test systems z' = Az + b are covered.
class LinearField final : public VectorField {
 public:
  explicit LinearField(Index dimension, Vector offset = Vector());
  std::string name() const override;
  Index state_size() const override { return dimension_; }
  Index num_params() const override { return dimension_ * dimension_; }
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
  // θ for a given A.
  static Vector ParamsFromMatrix(const Matrix& a);

 private:
  Index dimension_;
  Vector offset_;
};

// Lotka–Volterra x' = αx − βxy, y' = δxy − γy with θ = (α, β, δ, γ) (the seed's eqs. 2–3).
class LotkaVolterraField final : public VectorField {
 public:
  std::string name() const override { return "lotka_volterra"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 4; }
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
};

// Robertson kinetics with θ = (k1, k2, k3):
//   y1' = −k1 y1 + k3 y2 y3,  y2' = k1 y1 − k2 y2² − k3 y2 y3,  y3' = k2 y2².
// The classic values are k = (0.04, 3e7, 1e4). (SUNDIALS' cvsRoberts_ASAi_dns orders its
// parameters p = (0.04, 1e4, 3e7), i.e. p = (k1, k3, k2).)
class RobertsonField final : public VectorField {
 public:
  std::string name() const override { return "robertson"; }
  Index state_size() const override { return 3; }
  Index num_params() const override { return 3; }
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
  static Vector ClassicRates();  // (0.04, 3e7, 1e4)
};

}  // namespace snode
