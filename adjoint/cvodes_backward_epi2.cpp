// The exponential backward pass: the backward system [a, q] is linear in a, so the backward
// integrator (created from the registry by its name; chosen for one that declares the kind
// kExponential, such as epi2, and for one without a step hook) solves it on a time-reversed
// field (s = −t), segment by segment between the observations (the jumps applied between the
// solves), with z(t) from a cubic Hermite interpolant of the forward solution recorded at every
// forward step (memory grows with the number of steps). No checkpoints. The same reversed
// system is solved a second time by CVODES' BDF (matrix-free, at the backward tolerances) as the
// run-time check: their difference is the error estimate (GradientStats::error_estimate), flagged
// above kCvodesFlagFactor·rtol. Exponential integrators stall on this non-autonomous system (epi2
// on a stiff van der Pol oscillator: 3e-7 however tight rtol/atol, docs/methods/cvodes-adjoint.md),
// where BDF converges.
#include <cvodes/cvodes.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_calls.hpp"
#include "adjoint/cvodes_reversed_field.hpp"
#include "core/nvector.hpp"
#include "integrators/integrator.hpp"

namespace snode {

namespace {

// The forward solution recorded at every step: cubic Hermite pieces from z and z' at the ends.
class HermiteTrajectory final : public ForwardStepRecorder {
 public:
  void Clear() {
    t_.clear();
    z_.clear();
    z_dot_.clear();
  }
  void Start(double t0, ConstVectorRef z0, CallbackData& forward) override {
    Vector f0(z0.size());
    forward.field->F(t0, z0, *forward.theta, f0);
    ++forward.rhs_evals;
    Add(t0, z0, f0);
  }
  void AddStep(void* cvode_mem, double t_end, N_Vector y, N_Vector work) override {
    CheckCvodesCall(CVodeGetDky(cvode_mem, t_end, 1, work), "CVodeGetDky");
    Add(t_end, AsEigen(y), AsEigen(work));
  }
  // Cubic Hermite interpolant on the step [t_k, t_{k+1}] containing time (clamped to the ends).
  void Evaluate(double time, VectorRef out) const {
    const std::size_t count = t_.size();
    if (count == 1 || time <= t_.front()) {
      out = z_.front();
      return;
    }
    if (time >= t_.back()) {
      out = z_.back();
      return;
    }
    const std::size_t k =
        static_cast<std::size_t>(std::upper_bound(t_.begin(), t_.end(), time) - t_.begin()) - 1;
    const double h = t_[k + 1] - t_[k];
    const double s = (time - t_[k]) / h;
    const double h00 = (1 + 2 * s) * (1 - s) * (1 - s);
    const double h10 = s * (1 - s) * (1 - s);
    const double h01 = s * s * (3 - 2 * s);
    const double h11 = s * s * (s - 1);
    out = h00 * z_[k] + (h10 * h) * z_dot_[k] + h01 * z_[k + 1] + (h11 * h) * z_dot_[k + 1];
  }
  // Length of the recorded step containing time (for difference quotients in time).
  double StepLength(double time) const {
    if (t_.size() < 2) return 1.0;
    auto it = std::upper_bound(t_.begin(), t_.end(), time);
    if (it == t_.begin()) ++it;
    if (it == t_.end()) --it;
    return *it - *(it - 1);
  }
  double Bytes() const {
    if (t_.empty()) return 0.0;
    return 8.0 * static_cast<double>(t_.size()) * (2.0 * static_cast<double>(z_[0].size()) + 1.0);
  }

 private:
  void Add(double time, ConstVectorRef state, ConstVectorRef derivative) {
    t_.push_back(time);
    z_.emplace_back(state);
    z_dot_.emplace_back(derivative);
  }

  std::vector<double> t_;
  std::vector<Vector> z_;
  std::vector<Vector> z_dot_;
};

// The backward system [a, q] in reversed time s = −t:
//   da/ds = (∂f/∂z)ᵀ(z(t)) a + (∂g/∂z)ᵀ(t, z(t)),  dq/ds = (∂f/∂θ)ᵀ(z(t)) a,   t = −s,
// with z(t) from the recorded forward trajectory. It is linear in [a, q] (affine with g), and its
// Jacobian-vector product is [Jᵀ v_a; (∂f/∂θ)ᵀ v_a]: one VJP pair, no second derivatives.
class ReversedAdjointField final : public ReversedAdjointFieldBase {
 public:
  ReversedAdjointField(VectorField* field, const Vector* theta, const Loss* loss,
                       const HermiteTrajectory* trajectory)
      : ReversedAdjointFieldBase(
            "the reversed adjoint field has no VJP (cvodes_adjoint, exponential backward)"),
        field_(field),
        theta_(theta),
        loss_(loss),
        trajectory_(trajectory),
        n_(field->state_size()),
        p_(field->num_params()),
        z_(n_),
        g_(n_) {}

  std::string name() const override { return "reversed adjoint of " + field_->name(); }
  Index state_size() const override { return n_ + p_; }

  void F(double s, ConstVectorRef w, ConstVectorRef /*theta*/, VectorRef out) override {
    CheckState("F", "w", w.size());
    ++rhs_evals;
    const double t = -s;
    trajectory_->Evaluate(t, z_);
    Apply(t, w.head(n_), out);
    if (loss_->HasRunningCost()) {
      loss_->RunningCostGradient(t, z_, g_);
      out.head(n_) += g_;
    }
  }
  void Jvp(double s, ConstVectorRef /*w*/, ConstVectorRef /*theta*/, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "v", v.size());
    const double t = -s;
    trajectory_->Evaluate(t, z_);
    Apply(t, v.head(n_), out);
  }
  // ∂F/∂s (used by exponential integrators for non-autonomous fields) by a central difference whose
  // step stays well inside one recorded forward step, where the interpolant is a smooth cubic; the
  // default step 1e-6·max(1, |s|) can span many of the tiny steps of a stiff transient.
  void TimeDerivative(double s, ConstVectorRef w, ConstVectorRef theta, VectorRef out) override {
    const double delta =
        std::min(1e-6 * std::max(1.0, std::abs(s)), 1e-3 * trajectory_->StepLength(-s));
    Vector plus(w.size());
    F(s + delta, w, theta, plus);
    F(s - delta, w, theta, out);
    out = (plus - out) / (2.0 * delta);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ReversedAdjointField>(field_, theta_, loss_, trajectory_);
  }

 private:
  // out = [Jᵀ a; (∂f/∂θ)ᵀ a] at z_ = z(t).
  void Apply(double t, ConstVectorRef a, VectorRef out) {
    vjp_evals += 2;
    auto head = out.head(n_);
    field_->VjpState(t, z_, *theta_, a, head);
    auto tail = out.tail(p_);
    tail.setZero();
    if (p_ > 0) field_->VjpParams(t, z_, *theta_, a, tail);
  }

  VectorField* field_;
  const Vector* theta_;
  const Loss* loss_;
  const HermiteTrajectory* trajectory_;
  Index n_, p_;
  Vector z_, g_;
};

// The check's integrator: BDF with GMRES (the reversed field has JVPs, no dense Jacobian).
constexpr const char* kCheckIntegrator = "cvodes_bdf";

IntegratorOptions CheckOptions(const GradientOptions& options) {
  IntegratorOptions check = CvodesBackwardOptions(options);
  check.linear_solver = "gmres";
  return check;
}

class ExponentialBackward final : public BackwardStrategy {
 public:
  ExponentialBackward(const GradientOptions& options, Index n, Index p)
      : n_(n),
        p_(p),
        rtol_(FlagTolerance(options)),
        name_(options.EffectiveBackwardIntegrator()),
        solver_(IntegratorRegistry().Create(name_, CvodesBackwardOptions(options))),
        check_(IntegratorRegistry().Create(kCheckIntegrator, CheckOptions(options))) {}

  bool UsesCheckpoints() const override { return false; }
  ForwardStepRecorder* PrepareRecorder() override {
    trajectory_.Clear();
    return &trajectory_;
  }

  void Run(const BackwardPass& pass, Vector& a, Vector& grad, GradientStats& stats) override {
    const auto reversed = std::make_shared<ReversedAdjointField>(
        pass.problem.field.get(), &pass.problem.theta, &pass.loss, &trajectory_);
    Vector check_a = a, check_grad = grad;
    stats.backward_steps = Sweep(pass, *solver_, reversed, a, grad);
    const long rhs_evals = reversed->rhs_evals, vjp_evals = reversed->vjp_evals;
    Sweep(pass, *check_, reversed, check_a, check_grad);
    stats.backward_restarts = 0;
    stats.backward_rhs_evals = rhs_evals;
    stats.vjp_evals = vjp_evals;
    stats.stored_bytes = trajectory_.Bytes();
    Vector result(p_ + n_), check(p_ + n_);
    result << grad, a;
    check << check_grad, check_a;
    ReportErrorEstimate(
        BoundedDifference(result, check, 1e-3 * check.cwiseAbs().maxCoeff()), rtol_,
        "the backward integrator '" + name_ + "' and a BDF solve of the same backward system",
        stats);
  }

 private:
  // The backward pass by `integrator`, segment by segment; returns its steps.
  long Sweep(const BackwardPass& pass, Integrator& integrator,
             const std::shared_ptr<ReversedAdjointField>& reversed, Vector& a, Vector& grad) {
    return RunSegments(pass, a, grad,
                       [&](double t_high, double t_low, Vector& a_high, Vector& grad_high) -> long {
                         OdeProblem reversed_problem;
                         reversed_problem.field = reversed;
                         reversed_problem.z0.resize(n_ + p_);
                         reversed_problem.z0 << a_high, grad_high;
                         reversed_problem.t0 = -t_high;
                         reversed_problem.output_times = {-t_low};
                         const Trajectory segment = integrator.Solve(reversed_problem);
                         a_high = segment.states[0].head(n_);
                         grad_high = segment.states[0].tail(p_);
                         return segment.stats.steps;
                       });
  }

 private:
  const Index n_, p_;
  const double rtol_;       // the larger of the forward and backward rtol
  const std::string name_;  // the backward integrator's
  std::unique_ptr<Integrator> solver_;
  std::unique_ptr<Integrator> check_;  // kCheckIntegrator
  HermiteTrajectory trajectory_;
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeExponentialBackward(const GradientOptions& options, Index n,
                                                          Index p) {
  return std::make_unique<ExponentialBackward>(options, n, p);
}

}  // namespace snode
