#pragma once
// ReversedAdjointFieldBase: a backward system of cvodes_adjoint posed as a VectorField in
// reversed time s = −t, so that an ordinary forward integrator from the registry can solve it
// (internal to snode_adjoint). Such a field has no parameters, depends on s, and has no VJPs:
// they would need second derivatives of the original field, and no backward integrator calls
// them. Counts its evaluations for GradientStats.

#include <string>
#include <utility>

#include "core/errors.hpp"
#include "core/vector_field.hpp"

namespace snode {

class ReversedAdjointFieldBase : public VectorField {
 public:
  Index num_params() const override { return 0; }
  bool IsAutonomous() const override { return false; }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError(no_vjp_message_);
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError(no_vjp_message_);
  }

  long rhs_evals = 0;  // F calls
  long vjp_evals = 0;  // products of the original field

 protected:
  // no_vjp_message: the ConfigError of the VJPs.
  explicit ReversedAdjointFieldBase(std::string no_vjp_message)
      : no_vjp_message_(std::move(no_vjp_message)) {}

 private:
  std::string no_vjp_message_;
};

}  // namespace snode
