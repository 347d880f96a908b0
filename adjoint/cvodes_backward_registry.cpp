// The interpolating adjoint: a registered integrator with a step hook (OdeProblem::after_step,
// e.g. "dopri5") solves the adjoint state equation alone in reversed time with z(t) from the
// recorded forward step polynomials, and dL/dθ is summed by 3-point Gauss–Legendre over each
// accepted backward step. One that declares output jumps does it in one solve from T down to t0,
// the jumps a += ∂ℓ_i/∂z applied at the output times (the step size kept); one without solves
// each observation interval on its own and applies the jumps between the solves. No
// checkpoints.
#include <memory>
#include <vector>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_reversed_field.hpp"
#include "adjoint/quadrature_batch.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {

namespace {

// The adjoint state equation alone in reversed time s = −t:
//   da/ds = (∂f/∂z)ᵀ(z(t)) a + (∂g/∂z)ᵀ(t, z(t)),   t = −s,
// with z(t) from the recorded forward polynomials. Its JVP is the VJP of the original field.
class ReversedStateAdjointField final : public ReversedAdjointFieldBase {
 public:
  ReversedStateAdjointField(VectorField* field, const Vector* theta, const Loss* loss,
                            const StepPolynomials* forward)
      : ReversedAdjointFieldBase("the reversed state adjoint field has no VJP (cvodes_adjoint)"),
        field_(field),
        theta_(theta),
        loss_(loss),
        forward_(forward),
        n_(field->state_size()),
        z_(n_),
        g_(n_),
        f_(n_),
        linearization_(field->LinearizationSize()),
        saved_(linearization_.size() > 0 ? 0 : field->ForwardSaveSize()) {}

  // Points the field at another pass's data (θ, loss, forward polynomials); forgets the cached
  // linearisation point and the counts, keeps the buffers.
  void Rebind(VectorField* field, const Vector* theta, const Loss* loss,
              const StepPolynomials* forward) {
    field_ = field;
    theta_ = theta;
    loss_ = loss;
    forward_ = forward;
    n_ = field->state_size();
    z_.resize(n_);
    g_.resize(n_);
    f_.resize(n_);
    linearization_.resize(field->LinearizationSize());
    saved_.resize(linearization_.size() > 0 ? 0 : field->ForwardSaveSize());
    cached_ = false;
    rhs_evals = vjp_evals = 0;
  }

  std::string name() const override { return "reversed state adjoint of " + field_->name(); }
  Index state_size() const override { return n_; }

  void F(double s, ConstVectorRef a, ConstVectorRef /*theta*/, VectorRef out) override {
    CheckState("F", "a", a.size());
    ++rhs_evals;
    ++vjp_evals;
    const double t = -s;
    StateVjp(t, a, out);
    if (loss_->HasRunningCost()) {
      loss_->RunningCostGradient(t, z_, g_);
      out += g_;
    }
  }
  void Jvp(double s, ConstVectorRef /*a*/, ConstVectorRef /*theta*/, ConstVectorRef v,
           VectorRef out) override {
    CheckState("Jvp", "v", v.size());
    ++vjp_evals;
    StateVjp(-s, v, out);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ReversedStateAdjointField>(field_, theta_, loss_, forward_);
  }
  // The integrator's Newton matrix I − γ (∂f/∂z)ᵀ(z(t)) at t = −s is the original field's
  // transposed side with the same γ, at the recorded z(t) and the original θ.
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override {
    if (side != PreconditionerSide::kForward) return nullptr;
    std::unique_ptr<Preconditioner> inner =
        field_->MakePreconditioner(PreconditionerSide::kTransposed);
    if (!inner) return nullptr;
    return std::make_unique<Reversed>(std::move(inner), *this);
  }

 private:
  class Reversed final : public Preconditioner {
   public:
    Reversed(std::unique_ptr<Preconditioner> inner, ReversedStateAdjointField& owner)
        : inner_(std::move(inner)), owner_(owner), z_(owner.n_) {}
    void Setup(double s, ConstVectorRef /*a*/, ConstVectorRef /*theta*/, double gamma) override {
      owner_.forward_->Evaluate(-s, z_);
      inner_->Setup(-s, z_, *owner_.theta_, gamma);
    }
    void Solve(ConstVectorRef r, VectorRef x) override { inner_->Solve(r, x); }

   private:
    std::unique_ptr<Preconditioner> inner_;
    ReversedStateAdjointField& owner_;
    Vector z_;
  };

  // out = (∂f/∂z)ᵀ(z(t)) v. An implicit step's F, Jvp and Newton iterations at one stage all
  // take their products at the same t, so z(t) and the field's state linearisation (Linearize)
  // or else its saved forward pass (FSaving) are computed once per t, and the products reuse them
  // (VjpStateLinearized, VjpSaved).
  void StateVjp(double t, ConstVectorRef v, VectorRef out) {
    if (!cached_ || t != cached_t_) {
      cached_ = false;  // stays false if Evaluate, Linearize or FSaving throws
      forward_->Evaluate(t, z_);
      if (linearization_.size() > 0) {
        field_->Linearize(t, z_, *theta_, linearization_.data());
      } else if (saved_.size() > 0) {
        field_->FSaving(t, z_, *theta_, f_, saved_.data());
      }
      cached_t_ = t;
      cached_ = true;
    }
    if (linearization_.size() > 0) {
      field_->VjpStateLinearized(linearization_.data(), v, out);
    } else if (saved_.size() > 0) {
      field_->VjpSaved(t, z_, *theta_, saved_.data(), v, out, VectorRef(f_.head(0)));
    } else {
      field_->VjpState(t, z_, *theta_, v, out);
    }
  }

  VectorField* field_;
  const Vector* theta_;
  const Loss* loss_;
  const StepPolynomials* forward_;
  Index n_;
  Vector z_, g_;
  Vector f_;              // FSaving's f, unused
  Vector linearization_;  // the field's state linearisation at z(cached_t_), when it offers one
  Vector saved_;          // else its saved forward pass there
  double cached_t_ = 0.0;
  bool cached_ = false;  // z_ and saved_ hold the linearisation at cached_t_
};

class RegistryBackward final : public BackwardStrategy {
 public:
  RegistryBackward(const GradientOptions& options, Index n)
      : options_(options),
        n_(n),
        solver_(IntegratorRegistry().Create(options.EffectiveBackwardIntegrator(),
                                            CvodesBackwardOptions(options))),
        output_jumps_(solver_->Capabilities().output_jumps) {}

  bool UsesCheckpoints() const override { return false; }
  ForwardStepRecorder* PrepareRecorder() override { return &polynomials_; }

  void Run(const BackwardPass& pass, Vector& a, Vector& grad, GradientStats& stats) override {
    quadrature_vjps_ = 0;
    quadrature_.Reset(n_);
    solves_ = IntegratorStats();
    stats.backward_steps = Solve(pass, a, grad);
    stats.backward_nonlinear_iters = solves_.nonlinear_iters;
    stats.backward_linear_iters = solves_.linear_iters;
    stats.backward_preconditioner_setups = solves_.preconditioner_setups;
    stats.backward_preconditioner_solves = solves_.preconditioner_solves;
    quadrature_.Flush(*pass.problem.field, pass.problem.theta, grad);
    stats.backward_restarts = 0;
    stats.backward_rhs_evals = reversed_ ? reversed_->rhs_evals : 0;
    stats.vjp_evals = (reversed_ ? reversed_->vjp_evals : 0) + quadrature_vjps_;
    stats.stored_bytes = polynomials_.Bytes();
  }

 private:
  // a holds ∂ℓ_N/∂z on entry and dL/dz0 on return. Returns the backward steps.
  long Solve(const BackwardPass& pass, Vector& a, Vector& grad);
  // The reversed problem from a(T) = a.
  void SetUpProblem(const BackwardPass& pass, const Vector& a);
  // Output jumps: the output times below T with the jumps a += ∂ℓ_i/∂z applied there.
  void SetUpJumps(const BackwardPass& pass);
  // Without output jumps: one solve per observation interval. Returns the steps.
  long SolveSegments(const BackwardPass& pass, Vector& a);

  const GradientOptions& options_;
  const Index n_;
  StepPolynomials polynomials_;
  std::unique_ptr<Integrator> solver_;
  const bool output_jumps_;  // the solver declares output jumps
  IntegratorStats solves_;   // the backward solves of the current Run, summed
  std::shared_ptr<ReversedStateAdjointField> reversed_;
  OdeProblem problem_;  // the reversed problem, kept across calls
  QuadratureBatch quadrature_;
  long quadrature_vjps_ = 0;
};

void RegistryBackward::SetUpProblem(const BackwardPass& pass, const Vector& a) {
  const OdeProblem& problem = pass.problem;
  if (!reversed_) {
    reversed_ = std::make_shared<ReversedStateAdjointField>(problem.field.get(), &problem.theta,
                                                            &pass.loss, &polynomials_);
  } else {
    reversed_->Rebind(problem.field.get(), &problem.theta, &pass.loss, &polynomials_);
  }
  OdeProblem& bp = problem_;
  bp.field = reversed_;
  bp.theta.resize(0);
  bp.z0 = a;
  bp.t0 = -pass.forward.t_reached;
  bp.store_all_states = false;  // only a(t0) is read; the jumps see the others
}

void RegistryBackward::SetUpJumps(const BackwardPass& pass) {
  const OdeProblem& problem = pass.problem;
  OdeProblem& bp = problem_;
  // Reversed time s = −t: stops at −t_{N−2}, …, −t_1 (and −t0 when t0 < t_1), each with the jump
  // a += ∂ℓ_i/∂z applied by the solver, which keeps its step size across it.
  const std::vector<double>& times = problem.output_times;
  bp.output_times.clear();
  for (std::size_t i = times.size() - 1; i-- > 0;) bp.output_times.push_back(-times[i]);
  if (problem.t0 < times.front()) bp.output_times.push_back(-problem.t0);
  const std::size_t num_jumps = times.size() - 1;
  const std::vector<Vector>& dl_dz = pass.dl_dz;
  bp.at_output = [&dl_dz, num_jumps](std::size_t index, double, VectorRef state) {
    if (index >= num_jumps) return false;
    state += dl_dz[num_jumps - 1 - index];
    return true;
  };
}

long RegistryBackward::Solve(const BackwardPass& pass, Vector& a, Vector& grad) {
  if (!(pass.forward.t_reached > pass.problem.t0) || polynomials_.Empty()) {
    AddAllJumps(pass.dl_dz, a);
    return 0;
  }
  SetUpProblem(pass, a);
  VectorField& field = *pass.problem.field;
  const Vector& theta = pass.problem.theta;
  // dL/dθ += ∫ (∂f/∂θ)ᵀ a dt over the accepted backward step [s0, s1] = [−t_hi, −t_lo], by
  // 3-point Gauss–Legendre on each piece between forward steps (both interpolants are smooth
  // polynomials there).
  problem_.after_step = [&, this](double s0, double s1, const DenseOutput& dense) {
    quadrature_vjps_ += AddGaussLegendre(
        -s1, -s0, kGaussLegendreMaxNodes, polynomials_,
        [&dense](double t, VectorRef out) { dense.Evaluate(-t, out); }, quadrature_, field, theta,
        grad);
  };
  long steps = 0;
  if (output_jumps_) {
    SetUpJumps(pass);
    const Trajectory solution = solver_->Solve(problem_);
    a = solution.states.back();
    steps = solution.stats.steps;
    solves_ += solution.stats;
  } else {
    steps = SolveSegments(pass, a);
  }
  if (!a.allFinite()) {
    throw NumericalError("the adjoint of field '" + field.name() +
                         "' became NaN or Inf (gradient 'cvodes_adjoint', backward '" +
                         options_.EffectiveBackwardIntegrator() + "')");
  }
  // Drop the references into this call's data.
  problem_.at_output = nullptr;
  problem_.after_step = nullptr;
  return steps;
}

long RegistryBackward::SolveSegments(const BackwardPass& pass, Vector& a) {
  problem_.at_output = nullptr;
  Vector no_grad;  // dL/dθ is summed by the step hook
  return RunSegments(pass, a, no_grad,
                     [this](double t_high, double t_low, Vector& a_high, Vector&) -> long {
                       problem_.z0 = a_high;
                       problem_.t0 = -t_high;
                       problem_.output_times.assign(1, -t_low);
                       const Trajectory segment = solver_->Solve(problem_);
                       a_high = segment.states.back();
                       solves_ += segment.stats;
                       return segment.stats.steps;
                     });
}

}  // namespace

std::unique_ptr<BackwardStrategy> MakeRegistryBackward(const GradientOptions& options, Index n) {
  return std::make_unique<RegistryBackward>(options, n);
}

}  // namespace snode
