// EvaluateLoss: L = Σ_i ℓ_i(z(t_i)) + ∫_{t0}^{T} g(t, z) dt by one forward solve.
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"

namespace snode {
namespace {

// y = [z; q] with y' = [f(t, z; θ); g(t, z)], q(t0) = 0, so q(T) = ∫ g dt. The running cost is
// integrated by the same integrator, under the same error control, as the state itself: a
// quadrature rule on the output grid would be far less accurate than the tolerances the tests ask.
// Shapes: state n + 1, parameters P (those of f; g does not depend on θ).
class RunningCostField final : public VectorField {
 public:
  RunningCostField(std::shared_ptr<VectorField> field, const Loss& loss)
      : field_(std::move(field)), loss_(&loss), n_(field_->state_size()) {}

  std::string name() const override { return "running_cost(" + field_->name() + ")"; }
  Index state_size() const override { return n_ + 1; }
  Index num_params() const override { return field_->num_params(); }

  void F(double t, ConstVectorRef y, ConstVectorRef theta, VectorRef out) override {
    CheckState("F", "y", y.size());
    CheckState("F", "out", out.size());
    field_->F(t, y.head(n_), theta, out.head(n_));
    out[n_] = loss_->RunningCost(t, y.head(n_));
  }

  // J = [[∂f/∂z, 0], [(∂g/∂z)ᵀ, 0]].
  void Jvp(double t, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "y", y.size());
    CheckState("Jvp", "v", v.size());
    CheckState("Jvp", "out", out.size());
    field_->Jvp(t, y.head(n_), theta, v.head(n_), out.head(n_));
    grad_g_.resize(n_);
    loss_->RunningCostGradient(t, y.head(n_), grad_g_);
    out[n_] = grad_g_.dot(v.head(n_));
  }

  void VjpState(double t, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    CheckState("VjpState", "y", y.size());
    CheckState("VjpState", "a", a.size());
    CheckState("VjpState", "out", out.size());
    field_->VjpState(t, y.head(n_), theta, a.head(n_), out.head(n_));
    grad_g_.resize(n_);
    loss_->RunningCostGradient(t, y.head(n_), grad_g_);
    out.head(n_) += a[n_] * grad_g_;
    out[n_] = 0.0;
  }

  void VjpParams(double t, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    CheckState("VjpParams", "y", y.size());
    CheckState("VjpParams", "a", a.size());
    CheckParams("VjpParams", grad.size());
    field_->VjpParams(t, y.head(n_), theta, a.head(n_), grad);
  }

  bool HasDenseJacobian() const override { return field_->HasDenseJacobian(); }

  void DenseJacobian(double t, ConstVectorRef y, ConstVectorRef theta, MatrixRef jac) override {
    CheckState("DenseJacobian", "y", y.size());
    Require(jac.rows() == n_ + 1 && jac.cols() == n_ + 1,
            name() + ": DenseJacobian: jac has the wrong shape");
    jac.setZero();
    field_->DenseJacobian(t, y.head(n_), theta, jac.topLeftCorner(n_, n_));
    grad_g_.resize(n_);
    loss_->RunningCostGradient(t, y.head(n_), grad_g_);
    jac.row(n_).head(n_) = grad_g_.transpose();
  }

  // The Loss interface cannot say whether g depends on t, so assume it does.
  bool IsAutonomous() const override { return false; }

  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<RunningCostField>(std::shared_ptr<VectorField>(field_->Clone()),
                                              *loss_);
  }

 private:
  std::shared_ptr<VectorField> field_;
  const Loss* loss_;  // not owned; outlives the solve
  Index n_;
  Vector grad_g_;
};

}  // namespace

double EvaluateLoss(const OdeProblem& problem, const Loss& loss, Integrator& integrator,
                    Vector* readout_grad, Trajectory* trajectory) {
  problem.Validate();
  const Index n = problem.field->state_size();
  const std::size_t num_times = problem.output_times.size();

  Trajectory solved;
  double running_cost = 0.0;
  if (loss.HasRunningCost()) {
    OdeProblem augmented;
    augmented.field = std::make_shared<RunningCostField>(problem.field, loss);
    augmented.z0.resize(n + 1);
    augmented.z0.head(n) = problem.z0;
    augmented.z0[n] = 0.0;
    augmented.theta = problem.theta;
    augmented.t0 = problem.t0;
    augmented.output_times = problem.output_times;
    solved = integrator.Solve(augmented);
    Require(solved.states.size() == num_times,
            "EvaluateLoss: integrator '" + integrator.name() + "' returned " +
                std::to_string(solved.states.size()) + " states for " + std::to_string(num_times) +
                " output times");
    running_cost = solved.states.back()[n];
    // The caller sees the trajectory of its own problem: drop the quadrature component.
    for (Vector& state : solved.states) {
      Vector z = state.head(n);
      state = std::move(z);
    }
  } else {
    solved = integrator.Solve(problem);
    Require(solved.states.size() == num_times,
            "EvaluateLoss: integrator '" + integrator.name() + "' returned " +
                std::to_string(solved.states.size()) + " states for " + std::to_string(num_times) +
                " output times");
  }

  Vector dl_dz(n);
  Vector readout = Vector::Zero(loss.num_readout_params());
  double total = running_cost;
  for (std::size_t i = 0; i < num_times; ++i) {
    total += loss.Term(i, problem.output_times[i], solved.states[i], dl_dz, readout);
  }
  if (readout_grad != nullptr) *readout_grad = std::move(readout);
  if (trajectory != nullptr) *trajectory = std::move(solved);
  return total;
}

}  // namespace snode
