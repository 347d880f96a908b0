#pragma once
// ForwardingField: a VectorField that passes every call on to another field, for wrappers that
// change or observe one or two of them (recording f calls, counting products, injecting faults
// in tests) and forward the rest unchanged.
//
// Ownership: the wrapped field is not owned and must outlive the wrapper; Bind() may point the
// wrapper at another field between uses. Calling any method before a field is bound is a
// programming error (null dereference). Clone() returns a clone of the wrapped field (the
// wrapper's own behaviour is not copied). Throws whatever the wrapped field throws.

#include <memory>
#include <string>

#include "core/vector_field.hpp"

namespace snode {

class ForwardingField : public VectorField {
 public:
  explicit ForwardingField(VectorField* inner = nullptr) : inner_(inner) {}

  void Bind(VectorField* inner) { inner_ = inner; }
  VectorField* inner() const { return inner_; }

  std::string name() const override { return inner_->name(); }
  Index state_size() const override { return inner_->state_size(); }
  Index num_params() const override { return inner_->num_params(); }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    inner_->F(t, z, theta, out);
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    inner_->Jvp(t, z, theta, v, out);
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    inner_->VjpState(t, z, theta, a, out);
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    inner_->VjpParams(t, z, theta, a, grad);
  }
  void VjpParamsSum(const double* times, ConstMatrixRef z, ConstVectorRef theta, ConstMatrixRef a,
                    VectorRef grad) override {
    inner_->VjpParamsSum(times, z, theta, a, grad);
  }
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override {
    inner_->Vjp(t, z, theta, a, a_state, grad);
  }
  bool HasDenseJacobian() const override { return inner_->HasDenseJacobian(); }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    inner_->DenseJacobian(t, z, theta, jac);
  }
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override {
    return inner_->MakePreconditioner(side);
  }
  Index JacobianHalfBandwidth() const override { return inner_->JacobianHalfBandwidth(); }
  bool IsAutonomous() const override { return inner_->IsAutonomous(); }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    inner_->TimeDerivative(t, z, theta, out);
  }
  Index ForwardSaveSize() const override { return inner_->ForwardSaveSize(); }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out,
               double* saved) override {
    inner_->FSaving(t, z, theta, out, saved);
  }
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override {
    inner_->VjpSaved(t, z, theta, saved, a, a_state, grad);
  }
  Index LinearizationSize() const override { return inner_->LinearizationSize(); }
  void Linearize(double t, ConstVectorRef z, ConstVectorRef theta, double* linearization) override {
    inner_->Linearize(t, z, theta, linearization);
  }
  void VjpStateLinearized(const double* linearization, ConstVectorRef a, VectorRef out) override {
    inner_->VjpStateLinearized(linearization, a, out);
  }
  void JacobianBlocks(double t, ConstVectorRef z, ConstVectorRef theta, Index block,
                      double* blocks) override {
    inner_->JacobianBlocks(t, z, theta, block, blocks);
  }
  std::unique_ptr<VectorField> Clone() const override { return inner_->Clone(); }

 private:
  VectorField* inner_;
};

}  // namespace snode
