#include "problems/stiff_mlp.hpp"

#include <Eigen/LU>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "models/mlp.hpp"

namespace snode::problems {

namespace {

// f = A z + g(z; θ) with g an MLP; every product is A's plus the MLP's.
class StiffLinearMlpField final : public VectorField {
 public:
  StiffLinearMlpField(Matrix a, std::unique_ptr<MlpField> mlp)
      : a_(std::move(a)), mlp_(std::move(mlp)) {}
  StiffLinearMlpField(const StiffLinearMlpField& other)
      : VectorField(other), a_(other.a_), mlp_(std::make_unique<MlpField>(*other.mlp_)) {}

  std::string name() const override { return "stiff linear + " + mlp_->name(); }
  Index state_size() const override { return a_.rows(); }
  Index num_params() const override { return mlp_->num_params(); }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    mlp_->F(t, z, theta, out);
    out.noalias() += a_ * z;
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    mlp_->Jvp(t, z, theta, v, out);
    out.noalias() += a_ * v;
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    mlp_->VjpState(t, z, theta, a, out);
    out.noalias() += a_.transpose() * a;
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    mlp_->VjpParams(t, z, theta, a, grad);
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    mlp_->DenseJacobian(t, z, theta, jac);
    jac += a_;
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<StiffLinearMlpField>(*this);
  }

 private:
  Matrix a_;
  std::unique_ptr<MlpField> mlp_;
};

}  // namespace

Matrix StiffMlpLinearPart(double fast1, double fast2) {
  Require(fast1 < 0.0 && fast2 < 0.0, "StiffMlpLinearPart: the fast eigenvalues must be negative");
  Matrix v(3, 3);
  v << 1.0, 0.5, 0.0, 0.0, 1.0, 0.5, 0.0, 0.0, 1.0;
  const Vector eigenvalues = (Vector(3) << -1.0, fast1, fast2).finished();
  return v * eigenvalues.asDiagonal() * v.inverse();
}

ProblemSetup MakeStiffMlp(double fast1, double fast2) {
  MlpOptions options;
  options.widths = {3, 8, 3};
  options.activations = {"tanh"};
  auto mlp = std::make_unique<MlpField>(options);
  ProblemSetup setup;
  setup.name = "stiff_mlp";
  setup.stiffness = std::abs(fast2);
  setup.ode.theta = mlp->InitialParams(7);
  setup.ode.field =
      std::make_shared<StiffLinearMlpField>(StiffMlpLinearPart(fast1, fast2), std::move(mlp));
  setup.ode.z0.resize(3);
  setup.ode.z0 << 1.0, -0.5, 0.25;
  setup.ode.output_times = {1e-4, 1e-3, 1e-2, 0.1, 1.0};
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(3), setup.ode.output_times.size()));
  return setup;
}

}  // namespace snode::problems
