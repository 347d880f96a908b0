#include "adjoint/backsolve_adjoint.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "adjoint/backward_segments.hpp"
#include "adjoint/gauss_legendre.hpp"
#include "core/errors.hpp"

namespace snode {
namespace detail {
namespace {

// Central differences balance truncation O(ε²) against rounding O(eps/ε): ε ∝ eps^{1/3}.
const double kCbrtEps = std::cbrt(std::numeric_limits<double>::epsilon());

// The reduced backward system of the "quadrature" parameter integral: y = [z; a] in s = −t,
//   dz/ds = −f(t, z),  da/ds = (∂f/∂z)ᵀ a + ∂g/∂z(t, z).
// Only F is provided: it is integrated by explicit methods (no Jacobian products needed).
class StateAdjointField final : public VectorField {
 public:
  StateAdjointField(std::shared_ptr<VectorField> field, const Loss* loss)
      : field_(std::move(field)), loss_(loss), n_(field_->state_size()), grad_g_(n_) {}
  std::string name() const override { return "backsolve_state_adjoint(" + field_->name() + ")"; }
  Index state_size() const override { return 2 * n_; }
  Index num_params() const override { return field_->num_params(); }
  void F(double s, ConstVectorRef y, ConstVectorRef theta, VectorRef out) override {
    const double t = -s;
    field_->F(t, y.head(n_), theta, out.head(n_));
    out.head(n_) = -out.head(n_);
    field_->VjpState(t, y.head(n_), theta, y.segment(n_, n_), out.segment(n_, n_));
    ++rhs_evals_;
    ++vjp_evals_;
    if (loss_ != nullptr && loss_->HasRunningCost()) {
      loss_->RunningCostGradient(t, y.head(n_), grad_g_);
      out.segment(n_, n_) += grad_g_;
    }
  }
  void Jvp(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    Unavailable("Jvp");
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    Unavailable("VjpState");
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    Unavailable("VjpParams");
  }
  bool IsAutonomous() const override {
    return field_->IsAutonomous() && (loss_ == nullptr || !loss_->HasRunningCost());
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<StateAdjointField>(std::shared_ptr<VectorField>(field_->Clone()),
                                               loss_);
  }
  long rhs_evals() const { return rhs_evals_; }
  long vjp_evals() const { return vjp_evals_; }

 private:
  [[noreturn]] void Unavailable(const char* what) const {
    throw ConfigError(name() + ": " + what +
                      " is not available (explicit backward integrators only; implicit ones use "
                      "the augmented system)");
  }
  std::shared_ptr<VectorField> field_;
  const Loss* loss_;
  Index n_;
  Vector grad_g_;
  long rhs_evals_ = 0;
  long vjp_evals_ = 0;
};

// Gauss–Legendre, 3 nodes on [0, 1] (exact for degree 5).
constexpr const double (&kGaussNodes)[3] = kGaussLegendreNodes[2];
constexpr const double (&kGaussWeights)[3] = kGaussLegendreWeights[2];

// The forward solve of backsolve_adjoint and its loss: L, dL/dφ, the trajectory at the output
// times and the forward statistics (stored_bytes: the N observation-time states).
LossAndGradient ForwardSolve(const OdeProblem& problem, const Loss& loss, Integrator& forward);

// One backward pass of backsolve_adjoint (see the file comment): the time-reversed problem in
// s = −t, started at t_N from the forward state with a(t_N) = ∂ℓ_N/∂z, solved down to t0 with
// the jumps (and checkpoints) at the earlier observations; dL/dθ from the G rows of the augmented
// field or, with quadrature, by 3-point Gauss–Legendre over the backward steps. References
// problem, loss and states (the forward states at the output times), which must outlive it.
class BacksolveBackwardPass {
 public:
  // Evaluates ∂ℓ_N/∂z (whatever the loss throws propagates). seminorm: only z and a enter the
  // backward error test.
  BacksolveBackwardPass(const OdeProblem& problem, const Loss& loss,
                        const std::vector<Vector>& states, bool quadrature, bool checkpoints,
                        bool seminorm);

  // Quadrature: sums the Gauss nodes' parameter products of every accepted backward step into
  // the gradient through `batch`, which must outlive Run().
  void AttachQuadrature(QuadratureBatch& batch);
  // The backward solve with the integrator `backward` (output_jumps, as it declares: one solve
  // through every observation; without: one per interval). A NumericalError or SundialsError of
  // the solve is recorded as a failure, not thrown. Adds the backward statistics to stats.
  void Run(Integrator& backward, bool output_jumps, QuadratureBatch& batch, GradientStats& stats);
  // dL/dz0, dL/dθ and the reconstruction error and flag (NaN on failure) into result.
  void Finish(double tolerance, LossAndGradient& result) const;

 private:
  void SolveWithJumps(Integrator& backward, GradientStats& stats);
  void SolvePerInterval(Integrator& backward, GradientStats& stats);
  // Adds one backward solve's steps and iteration counters to stats.
  static void AddBackwardSolve(const IntegratorStats& solve, GradientStats& stats);
  // At an observation time t_i < t_N: compares the reconstructed z with the stored forward state
  // and replaces it. The largest relative mismatch is the reconstruction error of the interval
  // that ends there; a non-finite one is remembered separately (max() drops NaN).
  template <class State>
  void Checkpoint(std::size_t i, State z_rec) {
    const double mismatch = (z_rec - states_[i]).norm() / std::max(states_[i].norm(), 1e-300);
    if (std::isfinite(mismatch)) {
      segment_error_ = std::max(segment_error_, mismatch);
    } else {
      segment_error_finite_ = false;
    }
    z_rec = states_[i];
  }

  const OdeProblem& problem_;
  const Loss& loss_;
  const std::vector<Vector>& states_;
  const std::vector<double>& times_;
  const Index n_;
  const Index p_;
  const bool quadrature_;
  const bool checkpoints_;
  std::shared_ptr<BacksolveAugmentedField> field_;  // without quadrature: y = [z; a; G]
  std::shared_ptr<StateAdjointField> reduced_;      // with quadrature: y = [z; a]
  OdeProblem segment_;                              // the backward problem in s = −t
  Vector y_;                                        // the backward state
  Vector dl_dz_, readout_scratch_;
  Vector quadrature_grad_;
  long quadrature_vjps_ = 0;
  bool solver_failed_ = false;
  double segment_error_ = 0.0;
  bool segment_error_finite_ = true;
};

}  // namespace

BacksolveAugmentedField::BacksolveAugmentedField(std::shared_ptr<VectorField> field,
                                                 const Loss* loss)
    : field_(std::move(field)), loss_(loss) {
  Require(field_ != nullptr, "BacksolveAugmentedField: field is null");
  n_ = field_->state_size();
  p_ = field_->num_params();
}

std::string BacksolveAugmentedField::name() const {
  return "backsolve_augmented(" + field_->name() + ")";
}

void BacksolveAugmentedField::CheckSizes(const char* method, Index y_size, Index theta_size) const {
  CheckState(method, "y", y_size);
  CheckParams(method, theta_size);
}

bool BacksolveAugmentedField::IsAutonomous() const {
  // The Loss interface cannot say whether g depends on t, so a running cost makes it
  // non-autonomous.
  return field_->IsAutonomous() && (loss_ == nullptr || !loss_->HasRunningCost());
}

std::unique_ptr<VectorField> BacksolveAugmentedField::Clone() const {
  return std::make_unique<BacksolveAugmentedField>(std::shared_ptr<VectorField>(field_->Clone()),
                                                   loss_);
}

void BacksolveAugmentedField::AdjointRhs(double t, ConstVectorRef z, ConstVectorRef theta,
                                         ConstVectorRef a, VectorRef ra, VectorRef rg) {
  rg.setZero();
  field_->Vjp(t, z, theta, a, ra, rg);
  ++vjp_evals_;
  if (loss_ != nullptr && loss_->HasRunningCost()) {
    // a' = −(∂f/∂z)ᵀa − ∂g/∂z in true time: the running cost is the adjoint's source term.
    Vector grad_g(n_);
    loss_->RunningCostGradient(t, z, grad_g);
    ra += grad_g;
  }
}

void BacksolveAugmentedField::AdjointRhsDirectional(double t, ConstVectorRef z,
                                                    ConstVectorRef theta, ConstVectorRef a,
                                                    ConstVectorRef dz, ConstVectorRef dtheta,
                                                    VectorRef ra_dot, VectorRef rg_dot) {
  const bool has_dtheta = dtheta.size() > 0;
  const double direction_norm =
      std::sqrt(dz.squaredNorm() + (has_dtheta ? dtheta.squaredNorm() : 0.0));
  if (direction_norm == 0.0) {
    ra_dot.setZero();
    rg_dot.setZero();
    return;
  }
  const double point_norm = std::sqrt(z.squaredNorm() + theta.squaredNorm());
  const double eps = kCbrtEps * (1.0 + point_norm) / direction_norm;
  ra_plus_.resize(n_);
  ra_minus_.resize(n_);
  rg_plus_.resize(p_);
  rg_minus_.resize(p_);

  z_shift_ = z + eps * dz;
  theta_shift_ = theta;
  if (has_dtheta) theta_shift_ += eps * dtheta;
  AdjointRhs(t, z_shift_, theta_shift_, a, ra_plus_, rg_plus_);
  z_shift_ = z - eps * dz;
  theta_shift_ = theta;
  if (has_dtheta) theta_shift_ -= eps * dtheta;
  AdjointRhs(t, z_shift_, theta_shift_, a, ra_minus_, rg_minus_);
  const double inv = 1.0 / (2.0 * eps);
  ra_dot = (ra_plus_ - ra_minus_) * inv;
  rg_dot = (rg_plus_ - rg_minus_) * inv;
}

void BacksolveAugmentedField::ParamDirectional(double t, ConstVectorRef z, ConstVectorRef theta,
                                               ConstVectorRef dtheta, VectorRef out) {
  const double direction_norm = dtheta.norm();
  if (direction_norm == 0.0) {
    out.setZero();
    return;
  }
  const double eps = kCbrtEps * (1.0 + theta.norm()) / direction_norm;
  f_plus_.resize(n_);
  f_minus_.resize(n_);
  theta_shift_ = theta + eps * dtheta;
  field_->F(t, z, theta_shift_, f_plus_);
  theta_shift_ = theta - eps * dtheta;
  field_->F(t, z, theta_shift_, f_minus_);
  rhs_evals_ += 2;
  out = (f_plus_ - f_minus_) / (2.0 * eps);
}

namespace {

// The preconditioner of BacksolveAugmentedField::MakePreconditioner: block forward substitution
// through the z, a and G rows of M = I − γ ∂F̃/∂y without the second-derivative blocks.
class AugmentedPreconditioner final : public Preconditioner {
 public:
  AugmentedPreconditioner(VectorField& field, std::unique_ptr<Preconditioner> z_block,
                          std::unique_ptr<Preconditioner> a_block, Index n)
      : field_(field), z_block_(std::move(z_block)), a_block_(std::move(a_block)), n_(n) {}
  void Setup(double s, ConstVectorRef y, ConstVectorRef theta, double gamma) override {
    t_ = -s;
    z_ = y.head(n_);
    theta_ = theta;
    gamma_ = gamma;
    // ∂(−f(−s, z))/∂z = −J and ∂((∂f/∂z)ᵀa)/∂a = +Jᵀ at t = −s.
    z_block_->Setup(t_, z_, theta_, -gamma);
    a_block_->Setup(t_, z_, theta_, gamma);
  }
  void Solve(ConstVectorRef r, VectorRef x) override {
    z_block_->Solve(r.head(n_), x.head(n_));
    a_block_->Solve(r.segment(n_, n_), x.segment(n_, n_));
    // G row: x_G − γ (∂f/∂θ)ᵀ x_a = r_G.
    grad_.setZero(theta_.size());
    field_.VjpParams(t_, z_, theta_, x.segment(n_, n_), grad_);
    x.tail(theta_.size()) = r.tail(theta_.size()) + gamma_ * grad_;
  }

 private:
  VectorField& field_;
  std::unique_ptr<Preconditioner> z_block_, a_block_;
  Index n_;
  double t_ = 0.0, gamma_ = 0.0;
  Vector z_, theta_, grad_;
};

}  // namespace

std::unique_ptr<Preconditioner> BacksolveAugmentedField::MakePreconditioner(
    PreconditionerSide side) {
  if (side != PreconditionerSide::kForward) return nullptr;
  std::unique_ptr<Preconditioner> z_block =
      field_->MakePreconditioner(PreconditionerSide::kForward);
  std::unique_ptr<Preconditioner> a_block =
      field_->MakePreconditioner(PreconditionerSide::kTransposed);
  if (!z_block || !a_block) return nullptr;
  return std::make_unique<AugmentedPreconditioner>(*field_, std::move(z_block), std::move(a_block),
                                                   n_);
}

void BacksolveAugmentedField::F(double s, ConstVectorRef y, ConstVectorRef theta, VectorRef out) {
  CheckSizes("F", y.size(), theta.size());
  CheckState("F", "out", out.size());
  const double t = -s;
  field_->F(t, y.head(n_), theta, out.head(n_));
  ++rhs_evals_;
  out.head(n_) = -out.head(n_);
  AdjointRhs(t, y.head(n_), theta, y.segment(n_, n_), out.segment(n_, n_), out.tail(p_));
}

void BacksolveAugmentedField::Jvp(double s, ConstVectorRef y, ConstVectorRef theta,
                                  ConstVectorRef v, VectorRef out) {
  CheckSizes("Jvp", y.size(), theta.size());
  CheckState("Jvp", "v", v.size());
  CheckState("Jvp", "out", out.size());
  const double t = -s;
  const auto z = y.head(n_);
  const auto a = y.segment(n_, n_);
  // z-row: −(∂f/∂z) v_z.
  field_->Jvp(t, z, theta, v.head(n_), out.head(n_));
  ++jvp_evals_;
  out.head(n_) = -out.head(n_);
  // a- and G-rows, first-order part (exact): (∂f/∂z)ᵀ v_a and (∂f/∂θ)ᵀ v_a.
  out.tail(p_).setZero();
  field_->Vjp(t, z, theta, v.segment(n_, n_), out.segment(n_, n_), out.tail(p_));
  ++vjp_evals_;
  // Second-order part H v_z: directional difference of the adjoint right-hand side along v_z.
  Vector ra_dot(n_), rg_dot(p_);
  AdjointRhsDirectional(t, z, theta, a, v.head(n_), Vector(), ra_dot, rg_dot);
  out.segment(n_, n_) += ra_dot;
  out.tail(p_) += rg_dot;
}

void BacksolveAugmentedField::Vjp(double s, ConstVectorRef y, ConstVectorRef theta,
                                  ConstVectorRef w, VectorRef w_state, VectorRef grad) {
  CheckSizes("Vjp", y.size(), theta.size());
  CheckState("Vjp", "w", w.size());
  CheckState("Vjp", "w_state", w_state.size());
  CheckParams("Vjp", grad.size());
  const double t = -s;
  const auto z = y.head(n_);
  const auto a = y.segment(n_, n_);
  const auto w_z = w.head(n_);
  const auto w_a = w.segment(n_, n_);
  const auto w_g = w.tail(p_);
  // Hessian symmetry of φ = aᵀf + g turns the transposed second-order blocks into one
  // directional difference of the adjoint right-hand side along (w_a, w_G):
  //   H_aᵀ w_a + H_Gᵀ w_G = D_(z,θ)[(∂f/∂z)ᵀa + ∂g/∂z]·(w_a, w_G)       (z-part of J̃ᵀw)
  //   (∂ra/∂θ)ᵀ w_a + (∂rg/∂θ)ᵀ w_G = D_(z,θ)[(∂f/∂θ)ᵀa]·(w_a, w_G)    (θ-part)
  Vector ra_dot(n_), rg_dot(p_);
  AdjointRhsDirectional(t, z, theta, a, w_a, w_g, ra_dot, rg_dot);
  // z-part: −(∂f/∂z)ᵀ w_z + ra_dot; θ-part: −(∂f/∂θ)ᵀ w_z + rg_dot.
  Vector vjp_state(n_);
  Vector vjp_params = Vector::Zero(p_);
  field_->Vjp(t, z, theta, w_z, vjp_state, vjp_params);
  ++vjp_evals_;
  // a-part: (∂f/∂z) w_a + (∂f/∂θ) w_G; the G-part is zero (nothing depends on G).
  Vector jvp(n_), f_theta_dir(n_);
  field_->Jvp(t, z, theta, w_a, jvp);
  ++jvp_evals_;
  ParamDirectional(t, z, theta, w_g, f_theta_dir);
  w_state.head(n_) = ra_dot - vjp_state;
  w_state.segment(n_, n_) = jvp + f_theta_dir;
  w_state.tail(p_).setZero();
  grad += rg_dot - vjp_params;
}

void BacksolveAugmentedField::VjpState(double s, ConstVectorRef y, ConstVectorRef theta,
                                       ConstVectorRef w, VectorRef out) {
  Vector discard = Vector::Zero(p_);
  Vjp(s, y, theta, w, out, discard);
}

void BacksolveAugmentedField::VjpParams(double s, ConstVectorRef y, ConstVectorRef theta,
                                        ConstVectorRef w, VectorRef grad) {
  Vector discard(state_size());
  Vjp(s, y, theta, w, discard, grad);
}

void BacksolveAugmentedField::DenseJacobian(double s, ConstVectorRef y, ConstVectorRef theta,
                                            MatrixRef jac) {
  CheckSizes("DenseJacobian", y.size(), theta.size());
  const Index m = state_size();
  Require(jac.rows() == m && jac.cols() == m, [&] {
    return name() + ": DenseJacobian: jac must be " + std::to_string(m) + "x" + std::to_string(m);
  });
  const double t = -s;
  const auto z = y.head(n_);
  const auto a = y.segment(n_, n_);
  jac.setZero();
  Matrix jf(n_, n_);
  field_->DenseJacobian(t, z, theta, jf);
  jvp_evals_ += field_->HasDenseJacobian() ? 1 : n_;
  jac.topLeftCorner(n_, n_) = -jf;
  jac.block(n_, n_, n_, n_) = jf.transpose();
  Vector unit = Vector::Zero(n_);
  Vector ra_dot(n_), rg_dot(p_), scratch(n_);
  for (Index j = 0; j < n_; ++j) {
    unit[j] = 1.0;
    // Column j of the z-block: second-order terms.
    AdjointRhsDirectional(t, z, theta, a, unit, Vector(), ra_dot, rg_dot);
    jac.block(n_, j, n_, 1) = ra_dot;
    jac.block(2 * n_, j, p_, 1) = rg_dot;
    // Column j of the a-block, G-rows: (∂f/∂θ)ᵀ e_j.
    rg_dot.setZero();
    field_->Vjp(t, z, theta, unit, scratch, rg_dot);
    ++vjp_evals_;
    jac.block(2 * n_, n_ + j, p_, 1) = rg_dot;
    unit[j] = 0.0;
  }
}

namespace {

LossAndGradient ForwardSolve(const OdeProblem& problem, const Loss& loss, Integrator& forward) {
  LossAndGradient result;
  GradientStats& stats = result.stats;
  Vector readout;
  result.loss = EvaluateLoss(problem, loss, forward, &readout, &result.forward);
  result.dreadout = std::move(readout);
  stats.forward_rhs_evals = result.forward.stats.rhs_evals;
  stats.forward_steps = result.forward.stats.steps;
  stats.jvp_evals = result.forward.stats.jvp_evals;
  stats.forward_nonlinear_iters = result.forward.stats.nonlinear_iters;
  stats.forward_linear_iters = result.forward.stats.linear_iters;
  stats.forward_preconditioner_setups = result.forward.stats.preconditioner_setups;
  stats.forward_preconditioner_solves = result.forward.stats.preconditioner_solves;
  // Only the observation-time states are kept for the backward pass.
  stats.stored_bytes = static_cast<double>(problem.output_times.size()) *
                       static_cast<double>(problem.z0.size()) * sizeof(double);
  return result;
}

BacksolveBackwardPass::BacksolveBackwardPass(const OdeProblem& problem, const Loss& loss,
                                             const std::vector<Vector>& states, bool quadrature,
                                             bool checkpoints, bool seminorm)
    : problem_(problem),
      loss_(loss),
      states_(states),
      times_(problem.output_times),
      n_(problem.field->state_size()),
      p_(problem.field->num_params()),
      quadrature_(quadrature),
      checkpoints_(checkpoints) {
  // Quadrature: the backward ODE carries [z; a] only and dL/dθ = ∫ (∂f/∂θ)ᵀ a ds is summed by
  // Gauss–Legendre over each accepted backward step from the solver's dense output.
  if (quadrature_) {
    reduced_ = std::make_shared<StateAdjointField>(problem.field, &loss);
  } else {
    field_ = std::make_shared<BacksolveAugmentedField>(problem.field, &loss);
  }
  dl_dz_.resize(n_);
  readout_scratch_ = Vector::Zero(loss.num_readout_params());
  y_.resize(quadrature_ ? 2 * n_ : 2 * n_ + p_);
  y_.head(n_) = states_.back();
  loss.Term(times_.size() - 1, times_.back(), states_.back(), dl_dz_, readout_scratch_);
  y_.segment(n_, n_) = dl_dz_;
  y_.tail(y_.size() - 2 * n_).setZero();
  quadrature_grad_ = Vector::Zero(quadrature_ ? p_ : 0);
  if (quadrature_) {
    segment_.field = reduced_;
  } else {
    segment_.field = field_;
  }
  segment_.theta = problem.theta;
  segment_.error_test_size = seminorm ? 2 * n_ : 0;
}

void BacksolveBackwardPass::AttachQuadrature(QuadratureBatch& batch) {
  batch.Reset(n_);
  Vector node(2 * n_);
  segment_.after_step = [this, &batch, node](double s0, double s1,
                                             const DenseOutput& dense) mutable {
    const double h = s1 - s0;
    for (int k = 0; k < 3; ++k) {
      const double s = s0 + kGaussNodes[k] * h;
      dense.Evaluate(s, node);
      batch.NextState() = node.head(n_);
      batch.NextAdjoint() = (kGaussWeights[k] * h) * node.segment(n_, n_);
      batch.Commit(-s, *problem_.field, problem_.theta, quadrature_grad_);
    }
    quadrature_vjps_ += 3;
  };
}

void BacksolveBackwardPass::Run(Integrator& backward, bool output_jumps, QuadratureBatch& batch,
                                GradientStats& stats) {
  try {
    if (output_jumps) {
      SolveWithJumps(backward, stats);
    } else {
      SolvePerInterval(backward, stats);
    }
    if (quadrature_) batch.Flush(*problem_.field, problem_.theta, quadrature_grad_);
  } catch (const NumericalError&) {
    solver_failed_ = true;  // overflow or NaN in the reconstruction: report, do not throw
  } catch (const SundialsError&) {
    solver_failed_ = true;  // e.g. too much work chasing a blow-up
  }
  if (quadrature_) {
    stats.backward_rhs_evals = reduced_->rhs_evals();
    stats.vjp_evals = reduced_->vjp_evals() + quadrature_vjps_;
  } else {
    stats.backward_rhs_evals = field_->rhs_evals();
    stats.vjp_evals = field_->vjp_evals();
    stats.jvp_evals += field_->jvp_evals();
  }
}

void BacksolveBackwardPass::SolveWithJumps(Integrator& backward, GradientStats& stats) {
  // One backward solve in s = −t from −t_N through every earlier observation (and t0), the
  // jumps a += ∂ℓ_i/∂z applied at the stops: the solver keeps its step size across them.
  const std::size_t num_times = times_.size();
  segment_.z0 = y_;
  segment_.t0 = -times_.back();
  segment_.output_times.clear();
  for (std::size_t i = num_times - 1; i-- > 0;) segment_.output_times.push_back(-times_[i]);
  if (problem_.t0 < times_.front()) segment_.output_times.push_back(-problem_.t0);
  const std::size_t num_jumps = num_times - 1;
  segment_.at_output = [this, num_jumps, num_times](std::size_t index, double, VectorRef state) {
    if (index >= num_jumps) return false;
    const std::size_t i = num_times - 2 - index;
    loss_.Term(i, times_[i], states_[i], dl_dz_, readout_scratch_);
    state.segment(n_, n_) += dl_dz_;
    if (checkpoints_) Checkpoint(i, state.head(n_));
    return true;
  };
  segment_.store_all_states = false;  // only y(t0) is read; the jumps see the others
  if (segment_.output_times.empty()) return;
  Trajectory solution = backward.Solve(segment_);
  AddBackwardSolve(solution.stats, stats);
  y_ = solution.states.back();
  if (!y_.allFinite()) solver_failed_ = true;
}

void BacksolveBackwardPass::AddBackwardSolve(const IntegratorStats& solve, GradientStats& stats) {
  stats.backward_steps += solve.steps;
  stats.backward_nonlinear_iters += solve.nonlinear_iters;
  stats.backward_linear_iters += solve.linear_iters;
  stats.backward_preconditioner_setups += solve.preconditioner_setups;
  stats.backward_preconditioner_solves += solve.preconditioner_solves;
}

void BacksolveBackwardPass::SolvePerInterval(Integrator& backward, GradientStats& stats) {
  // Integrators without output jumps (epi2, heun): one solve per observation interval.
  segment_.output_times.resize(1);
  SweepObservationIntervals(
      times_, problem_.t0, times_.back(),
      [&](double t_high, double t_low) {
        // Reversed time s = −t runs from −t_high up to −t_low.
        segment_.z0 = y_;
        segment_.t0 = -t_high;
        segment_.output_times[0] = -t_low;
        Trajectory piece = backward.Solve(segment_);
        AddBackwardSolve(piece.stats, stats);
        y_ = piece.states.back();
        if (!y_.allFinite()) solver_failed_ = true;
        return !solver_failed_;
      },
      [&](std::size_t i) {
        // Jump at t_i: ∂ℓ/∂z at the *stored forward* state (the loss is a function of the
        // forward solution); z keeps its reconstructed value unless checkpoints reset it. Each
        // interval is a fresh solve here, so the reset is exactly a restart from z(t_i).
        loss_.Term(i, times_[i], states_[i], dl_dz_, readout_scratch_);
        y_.segment(n_, n_) += dl_dz_;
        if (checkpoints_) Checkpoint(i, y_.head(n_));
      });
}

void BacksolveBackwardPass::Finish(double tolerance, LossAndGradient& result) const {
  GradientStats& stats = result.stats;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (solver_failed_) {
    result.dtheta = Vector::Constant(p_, nan);
    result.dz0 = Vector::Constant(n_, nan);
    stats.reconstruction_error = nan;
    stats.reconstruction_failed = true;
    stats.Flag("the backward solve failed");
    return;
  }
  result.dz0 = y_.segment(n_, n_);
  result.dtheta = quadrature_ ? quadrature_grad_ : Vector(y_.tail(p_));
  if (!result.dtheta.allFinite()) {
    result.dtheta.setConstant(nan);
    stats.reconstruction_failed = true;
  }
  const Vector& z0 = problem_.z0;
  double error = (y_.head(n_) - z0).norm() / std::max(z0.norm(), 1e-300);
  if (!segment_error_finite_) {
    error = nan;
  } else if (std::isfinite(error)) {
    error = std::max(error, segment_error_);
  }
  stats.reconstruction_error = std::isfinite(error) ? error : nan;
  stats.reconstruction_failed = !(error <= tolerance);
  if (stats.reconstruction_failed) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "the backward reconstruction of z is off by %.1e relative (tolerance %.1e)",
                  error, tolerance);
    stats.Flag(text);
  }
}

}  // namespace
}  // namespace detail

BacksolveAdjoint::BacksolveAdjoint(const GradientOptions& options,
                                   BacksolveOptions backsolve_options)
    : options_(options), backsolve_options_(backsolve_options) {
  options_.Validate();
  backsolve_options_.Validate();
  forward_ = IntegratorRegistry().Create(options_.integrator, options_.integrator_options);
  // The backward problem stops at every observation (its jumps), so it never interpolates.
  IntegratorOptions backward_options = options_.EffectiveBackwardOptions();
  backward_options.interpolate_outputs = false;
  backward_ = IntegratorRegistry().Create(options_.EffectiveBackwardIntegrator(), backward_options);
  const IntegratorCapabilities backward_capabilities = backward_->Capabilities();
  quadrature_ = UseQuadratureAdjoint(backsolve_options_, backward_capabilities);
  backward_jumps_ = backward_capabilities.output_jumps;
}

LossAndGradient BacksolveAdjoint::Compute(const OdeProblem& problem, const Loss& loss) {
  const auto start = std::chrono::steady_clock::now();
  problem.Validate();
  LossAndGradient result = detail::ForwardSolve(problem, loss, *forward_);
  const bool seminorm =
      UseSeminorm(backsolve_options_, quadrature_, options_.EffectiveBackwardOptions());
  detail::BacksolveBackwardPass pass(problem, loss, result.forward.states, quadrature_,
                                     backsolve_options_.checkpoints, seminorm);
  if (quadrature_) pass.AttachQuadrature(quadrature_batch_);
  pass.Run(*backward_, backward_jumps_, quadrature_batch_, result.stats);
  pass.Finish(backsolve_options_.reconstruction_tolerance, result);
  result.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace snode
