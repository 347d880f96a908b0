// A plug-in for the --check-gradient app tests: gradient method "wrong_vjp_bptt" runs bptt on the
// problem's own field wrapped so that its VjpParams is deliberately wrong (every product 1.5
// times too large), as a user's hand-written field with a slip would be. F, the JVP and
// VjpState stay correct, so the loss is right and only dL/dθ is wrong.
#include <memory>
#include <string>
#include <utility>

#include "adjoint/gradient_method.hpp"
#include "core/vector_field.hpp"
#include "plugins/plugin.hpp"

namespace {

class WrongVjpParamsField final : public snode::VectorField {
 public:
  explicit WrongVjpParamsField(std::shared_ptr<snode::VectorField> inner)
      : inner_(std::move(inner)) {}
  std::string name() const override { return "wrong vjp(" + inner_->name() + ")"; }
  snode::Index state_size() const override { return inner_->state_size(); }
  snode::Index num_params() const override { return inner_->num_params(); }
  void F(double t, snode::ConstVectorRef z, snode::ConstVectorRef p,
         snode::VectorRef out) override {
    inner_->F(t, z, p, out);
  }
  void Jvp(double t, snode::ConstVectorRef z, snode::ConstVectorRef p, snode::ConstVectorRef v,
           snode::VectorRef out) override {
    inner_->Jvp(t, z, p, v, out);
  }
  void VjpState(double t, snode::ConstVectorRef z, snode::ConstVectorRef p, snode::ConstVectorRef a,
                snode::VectorRef out) override {
    inner_->VjpState(t, z, p, a, out);
  }
  void VjpParams(double t, snode::ConstVectorRef z, snode::ConstVectorRef p,
                 snode::ConstVectorRef a, snode::VectorRef grad) override {
    const snode::Vector before = grad;
    inner_->VjpParams(t, z, p, a, grad);
    grad = before + 1.5 * (grad - before);  // the slip
  }
  bool HasDenseJacobian() const override { return inner_->HasDenseJacobian(); }
  void DenseJacobian(double t, snode::ConstVectorRef z, snode::ConstVectorRef p,
                     snode::MatrixRef jac) override {
    inner_->DenseJacobian(t, z, p, jac);
  }
  bool IsAutonomous() const override { return inner_->IsAutonomous(); }
  void TimeDerivative(double t, snode::ConstVectorRef z, snode::ConstVectorRef p,
                      snode::VectorRef out) override {
    inner_->TimeDerivative(t, z, p, out);
  }
  std::unique_ptr<snode::VectorField> Clone() const override {
    return std::make_unique<WrongVjpParamsField>(
        std::shared_ptr<snode::VectorField>(inner_->Clone()));
  }

 private:
  std::shared_ptr<snode::VectorField> inner_;
};

class WrongVjpBptt final : public snode::GradientMethod {
 public:
  explicit WrongVjpBptt(snode::GradientOptions options)
      : options_(std::move(options)), bptt_(snode::GradientRegistry().Create("bptt", options_)) {}
  std::string name() const override { return "wrong_vjp_bptt"; }
  const snode::GradientOptions& options() const override { return options_; }
  snode::LossAndGradient Compute(const snode::OdeProblem& problem,
                                 const snode::Loss& loss) override {
    snode::OdeProblem wrapped = problem;
    wrapped.field = std::make_shared<WrongVjpParamsField>(problem.field);
    return bptt_->Compute(wrapped, loss);
  }

 private:
  snode::GradientOptions options_;
  std::unique_ptr<snode::GradientMethod> bptt_;
};

}  // namespace

SNODE_PLUGIN(registrar) {
  registrar.AddGradientMethod("wrong_vjp_bptt", [](const snode::GradientOptions& o) {
    return std::make_unique<WrongVjpBptt>(o);
  });
}
