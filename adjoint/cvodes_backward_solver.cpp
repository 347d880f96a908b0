#include "adjoint/cvodes_backward_solver.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_bandpre.h>
#include <cvodes/cvodes_ls.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <sstream>

#include "adjoint/cvodes_calls.hpp"
#include "integrators/krylov_solver.hpp"

namespace snode {

void BackwardData::Reset() {
  pending = nullptr;
  nonfinite_message.clear();
  rhs_evals = vjp_evals = jacobian_evals = preconditioner_setups = preconditioner_solves = 0;
  saved_valid = false;  // θ (or the field) may have changed since the last call
  const Index size = field != nullptr ? field->ForwardSaveSize() : 0;
  if (saved_pass.size() != size) saved_pass.resize(size);
}

int BackwardData::Finite(const char* what, double t, const Eigen::Ref<const Eigen::MatrixXd>& out) {
  if (out.allFinite()) return 0;
  if (nonfinite_message.empty()) {
    std::ostringstream message;
    message << what << " of the adjoint of field '" << field->name()
            << "' returned NaN or Inf at t=" << t;
    nonfinite_message = message.str();
  }
  return 1;  // recoverable: CVODES may retry with a smaller step
}

namespace {

// The field's saved forward pass at (t, z) (FSaving), computed when the last one was at another
// (t, z); nullptr when the field keeps none. fB, its Krylov products and fQB at one step all take
// their VJPs at the same z, so the network's forward pass runs once per point, not per product.
const double* SavedForwardPass(BackwardData& data, sunrealtype t, ConstVectorRef z) {
  if (data.saved_pass.size() == 0) return nullptr;
  if (!data.saved_valid || t != data.saved_t || z != data.saved_z) {
    data.saved_valid = false;  // stays false if FSaving throws
    data.saved_z = z;
    data.saved_f.resize(z.size());
    data.field->FSaving(t, z, *data.theta, data.saved_f, data.saved_pass.data());
    data.saved_t = t;
    data.saved_valid = true;
  }
  return data.saved_pass.data();
}

// adjoint ODE (SUNDIALS' fB is the literal time derivative, integrated toward decreasing t):
// da/dt = −(∂f/∂z)ᵀ a − (∂g/∂z)ᵀ, for each column of yB (the running cost in one column only).
int AdjointRhs(sunrealtype t, N_Vector y, N_Vector yB, N_Vector yB_dot, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.rhs_evals;
    data.vjp_evals += data.columns;
    const auto z = AsConstEigen(y);
    const Index n = z.size();
    const double* saved = SavedForwardPass(data, t, z);
    auto all_in = AsConstEigen(yB);
    auto all_out = AsEigen(yB_dot);
    for (Index column = 0; column < data.columns; ++column) {
      const auto in = all_in.segment(column * n, n);
      auto out = all_out.segment(column * n, n);
      if (saved) {
        data.field->VjpSaved(t, z, *data.theta, saved, in, out, VectorRef(data.saved_f.head(0)));
      } else {
        data.field->VjpState(t, z, *data.theta, in, out);
      }
      out = -out;
      if (column == data.running_cost_column) {
        data.loss->RunningCostGradient(t, z, data.work);
        out -= data.work;
      }
    }
    return data.Finite("fB", t, all_out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// dq/dt = −(∂f/∂θ)ᵀ a, so that q(t0) = +dL/dθ when q(T) = 0.
int AdjointQuadRhs(sunrealtype t, N_Vector y, N_Vector yB, N_Vector qB_dot, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.vjp_evals;
    auto out = AsEigen(qB_dot);
    out.setZero();
    const auto z = AsConstEigen(y);
    if (const double* saved = SavedForwardPass(data, t, z)) {
      data.saved_state_product.resize(z.size());
      data.field->VjpSaved(t, z, *data.theta, saved, AsConstEigen(yB), data.saved_state_product,
                           out);
    } else {
      data.field->VjpParams(t, z, *data.theta, AsConstEigen(yB), out);
    }
    out = -out;
    return data.Finite("fQB", t, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Dense Jacobian of fB with respect to yB: −(∂f/∂z)ᵀ in each column's diagonal block.
int AdjointJacobian(sunrealtype t, N_Vector y, N_Vector /*yB*/, N_Vector /*fyB*/, SUNMatrix JB,
                    void* user_data, N_Vector /*tmp1*/, N_Vector /*tmp2*/, N_Vector /*tmp3*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.jacobian_evals;
    const Index size = static_cast<Index>(SUNDenseMatrix_Rows(JB));
    const Index n = size / data.columns;
    Eigen::Map<Eigen::MatrixXd> jac(SUNDenseMatrix_Data(JB), size, size);  // column-major
    data.field->DenseJacobian(t, AsConstEigen(y), *data.theta, data.jacobian);
    if (data.columns > 1) jac.setZero();
    for (Index column = 0; column < data.columns; ++column) {
      jac.block(column * n, column * n, n, n) = -data.jacobian.transpose();
    }
    return data.Finite("Jacobian", t, jac);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Matrix-free product for SPGMR: JvB = −(∂f/∂z)ᵀ vB (minus the VJP), column by column.
int AdjointJacTimes(N_Vector vB, N_Vector JvB, sunrealtype t, N_Vector y, N_Vector /*yB*/,
                    N_Vector /*fyB*/, void* user_data, N_Vector /*tmpB*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    data.vjp_evals += data.columns;
    const auto z = AsConstEigen(y);
    const Index n = z.size();
    auto all_in = AsConstEigen(vB);
    auto all_out = AsEigen(JvB);
    const double* saved = SavedForwardPass(data, t, z);
    for (Index column = 0; column < data.columns; ++column) {
      auto out = all_out.segment(column * n, n);
      if (saved) {
        data.field->VjpSaved(t, z, *data.theta, saved, all_in.segment(column * n, n), out,
                             VectorRef(data.saved_f.head(0)));
      } else {
        data.field->VjpState(t, z, *data.theta, all_in.segment(column * n, n), out);
      }
      out = -out;
    }
    return data.Finite("jtimesB", t, all_out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// The backward Newton matrix is I − γB ∂fB/∂a = I + γB Jᵀ (fB = −Jᵀ a), i.e. the field's
// transposed side I − γ̂ Jᵀ with γ̂ = −γB, at the true time t and the forward state y.
int AdjointPrecSetup(sunrealtype t, N_Vector y, N_Vector /*yB*/, N_Vector /*fyB*/,
                     sunbooleantype jokB, sunbooleantype* jcurPtrB, sunrealtype gammaB,
                     void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  if (data.preconditioner == nullptr) {  // attached, but no preconditioner this pass
    *jcurPtrB = SUNFALSE;
    return 0;
  }
  try {
    ++data.preconditioner_setups;
    const bool recomputed = SetupOrUpdateGamma(*data.preconditioner, jokB == SUNTRUE, t,
                                               AsConstEigen(y), *data.theta, -gammaB);
    *jcurPtrB = recomputed ? SUNTRUE : SUNFALSE;
    return 0;
  } catch (...) {
    return PreconditionerFailure(data.pending);
  }
}

// zB = M⁻¹ rB column by column (the Newton matrix is block diagonal over the columns).
int AdjointPrecSolve(sunrealtype /*t*/, N_Vector /*y*/, N_Vector /*yB*/, N_Vector /*fyB*/,
                     N_Vector rB, N_Vector zB, sunrealtype /*gammaB*/, sunrealtype /*deltaB*/,
                     int /*lrB*/, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  const auto in = AsConstEigen(rB);
  auto out = AsEigen(zB);
  if (data.preconditioner == nullptr) {
    out = in;
    return 0;
  }
  try {
    ++data.preconditioner_solves;
    const Index n = in.size() / data.columns;
    for (Index column = 0; column < data.columns; ++column) {
      data.preconditioner->Solve(in.segment(column * n, n), out.segment(column * n, n));
    }
    return out.allFinite() ? 0 : 1;
  } catch (...) {
    return PreconditionerFailure(data.pending);
  }
}

}  // namespace

CvodesBackwardSolver::CvodesBackwardSolver(const GradientOptions& options, Index n, Index columns,
                                           CvodesForward& forward, SUNContext ctx)
    : forward_(forward), columns_(columns) {
  const IntegratorOptions& bo = options.EffectiveBackwardOptions();
  void* m = forward.memory();
  data_.work.resize(n);
  CheckCvodesCall(CVodeCreateB(m, CvodesMethodFor(forward.backward_method()), &which_),
                  "CVodeCreateB");
  // A distributed state has one column (the CVODES quadrature strategy, no running cost column).
  const StateDistribution* distribution = columns == 1 ? forward.distribution() : nullptr;
  yB_ = MakeStateVector(n * columns, ctx, distribution);
  AsEigen(yB_.get()).setZero();
  CheckCvodesCall(CVodeInitB(m, which_, AdjointRhs, 0.0, yB_.get()), "CVodeInitB");
  CheckCvodesCall(CVodeSStolerancesB(m, which_, bo.rtol, bo.atol), "CVodeSStolerancesB");
  CheckCvodesCall(CVodeSetUserDataB(m, which_, &data_), "CVodeSetUserDataB");
  CheckCvodesCall(CVodeSetMaxNumStepsB(m, which_, bo.max_steps), "CVodeSetMaxNumStepsB");
  if (bo.max_step > 0) {
    CheckCvodesCall(CVodeSetMaxStepB(m, which_, bo.max_step), "CVodeSetMaxStepB");
  }
  AttachSolvers(options, ctx);
  mem_ = CheckCreated(CVodeGetAdjCVodeBmem(m, which_), "CVodeGetAdjCVodeBmem");
  CheckCvodesCall(CVodeSetMaxNonlinIters(mem_, bo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  dense_ = MakeStateVector(n * columns, ctx, distribution);
}

void CvodesBackwardSolver::AttachSolvers(const GradientOptions& options, SUNContext ctx) {
  const IntegratorOptions& bo = options.EffectiveBackwardOptions();
  void* m = forward_.memory();
  if (forward_.backward_method() != CvodesMethod::kBdf) {
    nonlinear_.reset(
        CheckCreated(SUNNonlinSol_FixedPoint(yB_.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    CheckCvodesCall(CVodeSetNonlinearSolverB(m, which_, nonlinear_.get()),
                    "CVodeSetNonlinearSolverB");
    return;
  }
  if (bo.DenseLinearSolver()) {
    const sunindextype size = NVectorLocalLength(yB_.get());
    CheckDenseNewtonSize(size, "gradient 'cvodes_adjoint' (backward)");
    const Index n = size / columns_;
    data_.jacobian.resize(n, n);  // ∂f/∂z, only for the dense Newton matrix
    matrix_.reset(CheckCreated(SUNDenseMatrix(size, size, ctx), "SUNDenseMatrix"));
    solver_.reset(CheckCreated(SUNLinSol_Dense(yB_.get(), matrix_.get(), ctx), "SUNLinSol_Dense"));
    CheckCvodesCall(CVodeSetLinearSolverB(m, which_, solver_.get(), matrix_.get()),
                    "CVodeSetLinearSolverB");
    CheckCvodesCall(CVodeSetJacFnB(m, which_, AdjointJacobian), "CVodeSetJacFnB");
  } else {
    solver_.reset(CheckCreated(detail::NewKrylovSolver(bo, yB_.get(), ctx), "SUNLinSol_SPGMR"));
    CheckCvodesCall(CVodeSetLinearSolverB(m, which_, solver_.get(), nullptr),
                    "CVodeSetLinearSolverB");
    CheckCvodesCall(CVodeSetJacTimesB(m, which_, nullptr, AdjointJacTimes), "CVodeSetJacTimesB");
  }
}

void CvodesBackwardSolver::InitQuadrature(Index p, SUNContext ctx) {
  void* m = forward_.memory();
  const IntegratorOptions& bo = forward_.options().EffectiveBackwardOptions();
  qB_ = MakeNVector(p, ctx);
  AsEigen(qB_.get()).setZero();
  CheckCvodesCall(CVodeQuadInitB(m, which_, AdjointQuadRhs, qB_.get()), "CVodeQuadInitB");
  // dL/dθ under error control: without it the quadrature rides on steps chosen for a alone,
  // which is not accurate enough on stiff problems.
  CheckCvodesCall(CVodeSetQuadErrConB(m, which_, SUNTRUE), "CVodeSetQuadErrConB");
  CheckCvodesCall(CVodeQuadSStolerancesB(m, which_, bo.rtol, bo.atol), "CVodeQuadSStolerancesB");
}

void CvodesBackwardSolver::Bind(const BackwardPass& pass, Index running_cost_column) {
  data_.field = pass.problem.field.get();
  data_.theta = &pass.problem.theta;
  data_.loss = &pass.loss;
  data_.Reset();
  data_.columns = columns_;
  data_.running_cost_column = running_cost_column;
  restarts_ = 0;
  nonlinear_iters_ = linear_iters_ = prec_setups_ = prec_solves_ = 0;
  AttachPreconditioner(pass);
}

void CvodesBackwardSolver::AttachPreconditioner(const BackwardPass& pass) {
  data_.preconditioner = nullptr;
  preconditioner_.reset();
  const IntegratorOptions& bo = forward_.options().EffectiveBackwardOptions();
  if (forward_.backward_method() != CvodesMethod::kBdf || bo.DenseLinearSolver()) return;
  static const std::string kLabel = "gradient 'cvodes_adjoint' (backward)";
  detail::PreconditionerPlan plan =
      detail::PlanPreconditioner(bo, *pass.problem.field, PreconditionerSide::kTransposed, kLabel);
  void* m = forward_.memory();
  detail::ApplyPreconditionerPlan(
      plan, solver_.get(), bo, &band_, CheckCvodesCall,
      [&](Index half_bandwidth) {
        CheckCvodesCall(
            CVBandPrecInitB(m, which_, NV_LENGTH_S(yB_.get()), half_bandwidth, half_bandwidth),
            "CVBandPrecInitB");
      },
      [&] {
        CheckCvodesCall(CVodeSetPreconditionerB(m, which_, AdjointPrecSetup, AdjointPrecSolve),
                        "CVodeSetPreconditionerB");
      });
  preconditioner_ = std::move(plan.field_owned);
  data_.preconditioner = preconditioner_.get();
}

void CvodesBackwardSolver::AccumulateIterations() {
  if (restarts_ == 0) return;  // the memory still holds another pass's counters
  long nonlinear = 0, failures = 0;
  CheckCvodesCall(CVodeGetNonlinSolvStats(mem_, &nonlinear, &failures), "CVodeGetNonlinSolvStats");
  nonlinear_iters_ += nonlinear;
  if (solver_ == nullptr) return;
  long count = 0;
  CheckCvodesCall(CVodeGetNumLinIters(mem_, &count), "CVodeGetNumLinIters");
  linear_iters_ += count;
  if (band_ < 0) return;  // the field's calls are counted in data_
  CheckCvodesCall(CVodeGetNumPrecEvals(mem_, &count), "CVodeGetNumPrecEvals");
  prec_setups_ += count;
  CheckCvodesCall(CVodeGetNumPrecSolves(mem_, &count), "CVodeGetNumPrecSolves");
  prec_solves_ += count;
}

void CvodesBackwardSolver::Restart(double t) {
  AccumulateIterations();  // CVodeReInitB restarts CVODES' counters
  CheckCvodesCall(CVodeReInitB(forward_.memory(), which_, t, yB_.get()), "CVodeReInitB");
  ++restarts_;
}

void CvodesBackwardSolver::RestartQuadrature(const Vector& grad) {
  AsEigen(qB_.get()) = grad;
  // The current q, so the quadrature keeps accumulating across the jumps.
  CheckCvodesCall(CVodeQuadReInitB(forward_.memory(), which_, qB_.get()), "CVodeQuadReInitB");
}

void CvodesBackwardSolver::SolveTo(double t_out, Vector& a, Vector* grad) {
  void* m = forward_.memory();
  const int flag = CVodeB(m, t_out, CV_NORMAL);
  if (flag < 0) Fail("CVodeB", flag, t_out);
  sunrealtype t_b = t_out;
  CheckCvodesCall(CVodeGetB(m, which_, &t_b, yB_.get()), "CVodeGetB");
  a = AsEigen(yB_.get());
  if (grad != nullptr) {
    CheckCvodesCall(CVodeGetQuadB(m, which_, &t_b, qB_.get()), "CVodeGetQuadB");
    *grad = AsEigen(qB_.get());
  }
}

int CvodesBackwardSolver::Step(double t_out, double& t_current) {
  const int flag = CVodeB(forward_.memory(), t_out, CV_ONE_STEP);
  if (flag < 0) Fail("CVodeB", flag, t_current);
  sunrealtype t_now = t_current;
  CheckCvodesCall(CVodeGetCurrentTime(mem_, &t_now), "CVodeGetCurrentTime");
  t_current = t_now;
  // As many Gauss nodes as the step's order asks for: m nodes have local error O(h^(2m+1)),
  // and m = ⌈(q+1)/2⌉ keeps that at least one order above the step's O(h^(q+1)), up to 3
  // nodes. After each restart the steps run at q = 1, 2 (an MLP 2-32-32-2 over 101 observations:
  // 24% fewer VJPs per gradient, the error against a tight reference unchanged at 1.19e-5);
  // ⌈q/2⌉ saved 34% but doubled the error of Robertson with the jump layer (1.2e-7 → 2.9e-7).
  int order = 0;
  CheckCvodesCall(CVodeGetLastOrder(mem_, &order), "CVodeGetLastOrder");
  return std::clamp((order + 2) / 2, 1, kGaussLegendreMaxNodes);
}

N_Vector CvodesBackwardSolver::DenseAt(double t) {
  CheckCvodesCall(CVodeGetDky(mem_, t, 0, dense_.get()), "CVodeGetDky");
  return dense_.get();
}

void CvodesBackwardSolver::QuadratureAt(double t, Vector& out) {
  CheckCvodesCall(CVodeGetQuadDky(mem_, t, 0, qB_.get()), "CVodeGetQuadDky");
  out = AsEigen(qB_.get());
}

void CvodesBackwardSolver::ScaleAbsoluteTolerance(double scale) {
  const IntegratorOptions& bo = forward_.options().EffectiveBackwardOptions();
  CheckCvodesCall(CVodeSStolerancesB(forward_.memory(), which_, bo.rtol, bo.atol * scale),
                  "CVodeSStolerancesB");
}

long CvodesBackwardSolver::StepsSinceRestart() {
  long steps = 0;
  CheckCvodesCall(CVodeGetNumSteps(mem_, &steps), "CVodeGetNumSteps");
  return steps;
}

void CvodesBackwardSolver::FillStats(const BackwardPass& pass, long backward_steps,
                                     long quadrature_vjps, double recorded_bytes,
                                     GradientStats& stats) {
  stats.backward_steps = backward_steps;
  stats.backward_restarts = restarts_;
  // fB calls plus the forward recomputation from checkpoints during CVodeB.
  stats.backward_rhs_evals = data_.rhs_evals + (forward_.data().rhs_evals - pass.forward.rhs_evals);
  stats.vjp_evals = data_.vjp_evals + quadrature_vjps;
  AccumulateIterations();
  restarts_ = 0;  // counted: a second FillStats adds nothing
  stats.backward_nonlinear_iters = nonlinear_iters_;
  stats.backward_linear_iters = linear_iters_;
  stats.backward_preconditioner_setups = prec_setups_ + data_.preconditioner_setups;
  stats.backward_preconditioner_solves = prec_solves_ + data_.preconditioner_solves;
  const double t_final = pass.problem.output_times.back();
  double bytes =
      t_final > pass.problem.t0 ? forward_.CheckpointBytes(pass.forward.checkpoints) : 0.0;
  bytes += recorded_bytes;
  stats.stored_bytes = bytes;
}

void CvodesBackwardSolver::Fail(const char* call, int flag, double t) {
  sunrealtype t_b = t;
  CVodeGetCurrentTime(mem_, &t_b);
  forward_.Fail(call, flag, t_b, CvodesPhase::kBackward, &data_);
}

}  // namespace snode
