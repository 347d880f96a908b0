#pragma once
// HybridField: a universal differential equation f(t, z; θ) = k(t, z; κ) + g(t, z; θ), the sum of
// a known field k with fixed parameters κ (e.g. the linear Lotka–Volterra terms αx, −γy) and a
// learned field g (e.g. an MLP for the unknown interaction terms). θ are g's parameters only.
//
// Shapes: both fields must have the same state size. Jvp/VjpState add the two products; VjpParams
// is g's. Owns shared references to both fields and a copy of κ. Throws ConfigError on mismatched
// sizes. Not thread-safe when either part is not: Clone() deep-copies both.

#include <memory>
#include <string>

#include "core/vector_field.hpp"

namespace snode {

class HybridField final : public VectorField {
 public:
  HybridField(std::shared_ptr<VectorField> known, Vector known_params,
              std::shared_ptr<VectorField> learned);

  std::string name() const override;
  Index state_size() const override { return learned_->state_size(); }
  Index num_params() const override { return learned_->num_params(); }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override;
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override;
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override;
  bool HasDenseJacobian() const override {
    return known_->HasDenseJacobian() && learned_->HasDenseJacobian();
  }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override;
  bool IsAutonomous() const override { return known_->IsAutonomous() && learned_->IsAutonomous(); }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override;
  std::unique_ptr<VectorField> Clone() const override;

  const VectorField& known() const { return *known_; }
  const VectorField& learned() const { return *learned_; }
  // The learned part alone, g(t, z; θ) (e.g. to compare learned terms with the true ones).
  void LearnedTerm(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out);

 private:
  std::shared_ptr<VectorField> known_;
  Vector known_params_;
  std::shared_ptr<VectorField> learned_;
  Vector scratch_;  // state-size workspace
  Matrix jac_scratch_;
};

}  // namespace snode
