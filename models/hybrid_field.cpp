#include "models/hybrid_field.hpp"

#include "core/errors.hpp"

namespace snode {

HybridField::HybridField(std::shared_ptr<VectorField> known, Vector known_params,
                         std::shared_ptr<VectorField> learned)
    : known_(std::move(known)),
      known_params_(std::move(known_params)),
      learned_(std::move(learned)) {
  Require(known_ != nullptr && learned_ != nullptr, "HybridField: both fields are required");
  Require(known_->state_size() == learned_->state_size(),
          "HybridField: known field '" + known_->name() + "' has state size " +
              std::to_string(known_->state_size()) + " but learned field '" + learned_->name() +
              "' has " + std::to_string(learned_->state_size()));
  Require(known_params_.size() == known_->num_params(),
          "HybridField: known parameters have length " + std::to_string(known_params_.size()) +
              ", field '" + known_->name() + "' expects " + std::to_string(known_->num_params()));
  scratch_.resize(state_size());
}

std::string HybridField::name() const {
  return "hybrid(" + known_->name() + " + " + learned_->name() + ")";
}

void HybridField::F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("F", "out", out.size());
  learned_->F(t, z, theta, out);
  known_->F(t, z, known_params_, scratch_);
  out += scratch_;
}

void HybridField::LearnedTerm(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  learned_->F(t, z, theta, out);
}

void HybridField::Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
                      VectorRef out) {
  CheckState("Jvp", "out", out.size());
  learned_->Jvp(t, z, theta, v, out);
  known_->Jvp(t, z, known_params_, v, scratch_);
  out += scratch_;
}

void HybridField::VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                           VectorRef out) {
  CheckState("VjpState", "out", out.size());
  learned_->VjpState(t, z, theta, a, out);
  known_->VjpState(t, z, known_params_, a, scratch_);
  out += scratch_;
}

void HybridField::VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                            VectorRef grad) {
  learned_->VjpParams(t, z, theta, a, grad);
}

void HybridField::Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                      VectorRef a_state, VectorRef grad) {
  CheckState("Vjp", "a_state", a_state.size());
  learned_->Vjp(t, z, theta, a, a_state, grad);
  known_->VjpState(t, z, known_params_, a, scratch_);
  a_state += scratch_;
}

void HybridField::DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) {
  learned_->DenseJacobian(t, z, theta, jac);
  jac_scratch_.resize(state_size(), state_size());
  known_->DenseJacobian(t, z, known_params_, jac_scratch_);
  jac += jac_scratch_;
}

void HybridField::TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) {
  CheckState("TimeDerivative", "out", out.size());
  learned_->TimeDerivative(t, z, theta, out);
  known_->TimeDerivative(t, z, known_params_, scratch_);
  out += scratch_;
}

std::unique_ptr<VectorField> HybridField::Clone() const {
  return std::make_unique<HybridField>(std::shared_ptr<VectorField>(known_->Clone()), known_params_,
                                       std::shared_ptr<VectorField>(learned_->Clone()));
}

}  // namespace snode
