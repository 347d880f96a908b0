#include "adjoint/cvodes_adjoint.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_ls.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <utility>
#include <vector>

#include "core/callbacks.hpp"
#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"

namespace snode {

namespace {

// Private CVODES helpers. They live in this file (unnamed namespace) so they cannot clash with
// the integrators' shared helpers.

struct CvodeMemDeleter {
  void operator()(void* mem) const noexcept { CVodeFree(&mem); }
};
using CvodeMemPtr = std::unique_ptr<void, CvodeMemDeleter>;

std::string FlagName(int flag) {
  std::unique_ptr<char, decltype(&std::free)> name(CVodeGetReturnFlagName(flag), &std::free);
  return name ? std::string(name.get()) : std::string("unknown flag");
}

// Records the last error CVODES reported, so our exception can quote it. Never throws
// (it runs inside a C frame).
struct ErrorRecord {
  std::string last_message;
};

void RecordCvodesError(int error_code, const char* module, const char* function, char* msg,
                       void* eh_data) {
  if (error_code >= 0 || eh_data == nullptr) return;  // warnings are not errors
  try {
    auto& record = *static_cast<ErrorRecord*>(eh_data);
    record.last_message = std::string(module ? module : "") + "::" + (function ? function : "") +
                          ": " + (msg ? msg : "");
  } catch (...) {
  }
}

// Setup call: throws SundialsError on a negative flag.
void Check(int flag, const char* call) {
  if (flag < 0) throw SundialsError(call, flag, FlagName(flag), "(gradient 'cvodes_adjoint')");
}

template <class T>
T* CheckAlloc(T* ptr, const char* call) {
  if (ptr == nullptr) throw SundialsError(call, -1, "allocation failure");
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// Callback data. The forward problem uses core's trampolines, whose user_data is a CallbackData;
// ForwardData derives from it and adds the loss for the running-cost quadrature.
struct ForwardData : CallbackData {
  const Loss* loss = nullptr;
};

// fQ = g(t, z): the running cost, integrated forward to give ∫ g dt.
int RunningCostTrampoline(sunrealtype t, N_Vector y, N_Vector q_dot, void* user_data) {
  auto& data = static_cast<ForwardData&>(*static_cast<CallbackData*>(user_data));
  try {
    auto out = AsEigen(q_dot);
    out(0) = data.loss->HasRunningCost() ? data.loss->RunningCost(t, AsConstEigen(y)) : 0.0;
    return std::isfinite(out(0)) ? 0 : 1;
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// The backward problem's user_dataB.
struct BackwardData {
  VectorField* field = nullptr;
  const Vector* theta = nullptr;
  const Loss* loss = nullptr;
  Vector work;      // length n: ∂g/∂z
  Matrix jacobian;  // n × n: ∂f/∂z for the dense backward Jacobian
  std::exception_ptr pending;
  std::string nonfinite_message;
  long rhs_evals = 0;
  long vjp_evals = 0;
  long jacobian_evals = 0;

  void Reset() {
    pending = nullptr;
    nonfinite_message.clear();
    rhs_evals = vjp_evals = jacobian_evals = 0;
  }
  int Finite(const char* what, double t, const Eigen::Ref<const Eigen::MatrixXd>& out) {
    if (out.allFinite()) return 0;
    if (nonfinite_message.empty()) {
      std::ostringstream message;
      message << what << " of the adjoint of field '" << field->name()
              << "' returned NaN or Inf at t=" << t;
      nonfinite_message = message.str();
    }
    return 1;  // recoverable: CVODES may retry with a smaller step
  }
};

// adjoint ODE (SUNDIALS' fB is the literal time derivative, integrated toward decreasing t):
// da/dt = −(∂f/∂z)ᵀ a − (∂g/∂z)ᵀ.
int AdjointRhs(sunrealtype t, N_Vector y, N_Vector yB, N_Vector yB_dot, void* user_data) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.rhs_evals;
    ++data.vjp_evals;
    auto out = AsEigen(yB_dot);
    data.field->VjpState(t, AsConstEigen(y), *data.theta, AsConstEigen(yB), out);
    out = -out;
    if (data.loss->HasRunningCost()) {
      data.loss->RunningCostGradient(t, AsConstEigen(y), data.work);
      out -= data.work;
    }
    return data.Finite("fB", t, out);
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
    data.field->VjpParams(t, AsConstEigen(y), *data.theta, AsConstEigen(yB), out);
    out = -out;
    return data.Finite("fQB", t, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Dense Jacobian of fB with respect to a: −(∂f/∂z)ᵀ.
int AdjointJacobian(sunrealtype t, N_Vector y, N_Vector /*yB*/, N_Vector /*fyB*/, SUNMatrix JB,
                    void* user_data, N_Vector /*tmp1*/, N_Vector /*tmp2*/, N_Vector /*tmp3*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.jacobian_evals;
    const Index n = static_cast<Index>(SUNDenseMatrix_Rows(JB));
    Eigen::Map<Eigen::MatrixXd> jac(SUNDenseMatrix_Data(JB), n, n);  // column-major, as Eigen
    data.field->DenseJacobian(t, AsConstEigen(y), *data.theta, data.jacobian);
    jac = -data.jacobian.transpose();
    return data.Finite("Jacobian", t, jac);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

// Matrix-free product for SPGMR: JvB = −(∂f/∂z)ᵀ vB (minus the VJP).
int AdjointJacTimes(N_Vector vB, N_Vector JvB, sunrealtype t, N_Vector y, N_Vector /*yB*/,
                    N_Vector /*fyB*/, void* user_data, N_Vector /*tmpB*/) {
  auto& data = *static_cast<BackwardData*>(user_data);
  try {
    ++data.vjp_evals;
    auto out = AsEigen(JvB);
    data.field->VjpState(t, AsConstEigen(y), *data.theta, AsConstEigen(vB), out);
    out = -out;
    return data.Finite("jtimesB", t, out);
  } catch (...) {
    data.pending = std::current_exception();
    return -1;
  }
}

int LmmFor(const std::string& integrator) {
  return integrator == "cvodes_adams" ? CV_ADAMS : CV_BDF;
}

bool IsCvodesName(const std::string& name) {
  return name == "cvodes_bdf" || name == "cvodes_adams";
}

// ---------------------------------------------------------------------------------------------
// Forward solution recorded at every step (for the "epi2" backward): cubic Hermite pieces.
struct DenseTrajectory {
  std::vector<double> t;
  std::vector<Vector> z;
  std::vector<Vector> z_dot;

  void Clear() {
    t.clear();
    z.clear();
    z_dot.clear();
  }
  void Add(double time, const Vector& state, const Vector& derivative) {
    t.push_back(time);
    z.push_back(state);
    z_dot.push_back(derivative);
  }
  // Cubic Hermite interpolant on the step [t_k, t_{k+1}] containing time (clamped to the ends).
  void Evaluate(double time, VectorRef out) const {
    const std::size_t count = t.size();
    if (count == 1 || time <= t.front()) {
      out = z.front();
      return;
    }
    if (time >= t.back()) {
      out = z.back();
      return;
    }
    const std::size_t k =
        static_cast<std::size_t>(std::upper_bound(t.begin(), t.end(), time) - t.begin()) - 1;
    const double h = t[k + 1] - t[k];
    const double s = (time - t[k]) / h;
    const double h00 = (1 + 2 * s) * (1 - s) * (1 - s);
    const double h10 = s * (1 - s) * (1 - s);
    const double h01 = s * s * (3 - 2 * s);
    const double h11 = s * s * (s - 1);
    out = h00 * z[k] + (h10 * h) * z_dot[k] + h01 * z[k + 1] + (h11 * h) * z_dot[k + 1];
  }
  // Length of the recorded step containing time (for difference quotients in time).
  double StepLength(double time) const {
    if (t.size() < 2) return 1.0;
    auto it = std::upper_bound(t.begin(), t.end(), time);
    if (it == t.begin()) ++it;
    if (it == t.end()) --it;
    return *it - *(it - 1);
  }
  double Bytes() const {
    if (t.empty()) return 0.0;
    return 8.0 * static_cast<double>(t.size()) * (2.0 * static_cast<double>(z[0].size()) + 1.0);
  }
};

// The backward system [a, q] as a VectorField in reversed time s = −t, so that an ordinary
// forward integrator ("epi2") can solve it from s = −T to s = −t0:
//   da/ds = (∂f/∂z)ᵀ(z(t)) a + (∂g/∂z)ᵀ(t, z(t)),  dq/ds = (∂f/∂θ)ᵀ(z(t)) a,   t = −s,
// with z(t) from the recorded forward trajectory. It is linear in [a, q] (affine with g), and its
// Jacobian-vector product is [Jᵀ v_a; (∂f/∂θ)ᵀ v_a]: one VJP pair, no second derivatives.
// Its own VJPs would need J v and (∂f/∂θ) v products of the original field, so they are not
// provided (no backward integrator needs them).
class ReversedAdjointField final : public VectorField {
 public:
  ReversedAdjointField(VectorField* field, const Vector* theta, const Loss* loss,
                       const DenseTrajectory* trajectory)
      : field_(field),
        theta_(theta),
        loss_(loss),
        trajectory_(trajectory),
        n_(field->state_size()),
        p_(field->num_params()),
        z_(n_),
        g_(n_) {}

  std::string name() const override { return "reversed adjoint of " + field_->name(); }
  Index state_size() const override { return n_ + p_; }
  Index num_params() const override { return 0; }
  bool IsAutonomous() const override { return false; }

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
  // ∂F/∂s (used by epi2 for non-autonomous fields) by a central difference whose step stays well
  // inside one recorded forward step, where the interpolant is a smooth cubic; the default step
  // 1e-6·max(1, |s|) can span many of the tiny steps of a stiff transient.
  void TimeDerivative(double s, ConstVectorRef w, ConstVectorRef theta, VectorRef out) override {
    const double delta =
        std::min(1e-6 * std::max(1.0, std::abs(s)), 1e-3 * trajectory_->StepLength(-s));
    Vector plus(w.size());
    F(s + delta, w, theta, plus);
    F(s - delta, w, theta, out);
    out = (plus - out) / (2.0 * delta);
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed adjoint field has no VJP (cvodes_adjoint with epi2)");
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw ConfigError("the reversed adjoint field has no VJP (cvodes_adjoint with epi2)");
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ReversedAdjointField>(field_, theta_, loss_, trajectory_);
  }

  long rhs_evals = 0;
  long vjp_evals = 0;

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
  const DenseTrajectory* trajectory_;
  Index n_, p_;
  Vector z_, g_;
};

}  // namespace

// =============================================================================================
// SUNDIALS state of one CvodesAdjoint. Members are declared in creation order, so they are
// destroyed in reverse: the CVODES memory (which also frees the backward memory) first, the
// context last.
struct CvodesAdjoint::Impl {
  Impl(const GradientOptions& options, Index state_size, Index param_count);

  // Runs the forward pass and the backward pass; fills result.
  void Run(const OdeProblem& problem, const Loss& loss, LossAndGradient& result);

  // Throws for a failed solver call: a stored callback exception first, then NumericalError for
  // NaN/Inf, else SundialsError with the CVODES message and a remedy.
  [[noreturn]] void Fail(const char* call, int flag, double t, const std::string& phase);

  const GradientOptions& options;
  const Index n;  // state size the objects were created for
  const Index p;  // parameter count
  const bool backward_epi2;
  Context ctx;
  ErrorRecord errors;
  ForwardData forward;
  BackwardData backward;
  NVectorPtr y, y_work, q, yB, qB;
  SunMatrixPtr matrix, matrix_b;
  SunLinearSolverPtr solver, solver_b;
  SunNonlinearSolverPtr nonlinear, nonlinear_b;
  CvodeMemPtr mem;
  int which = -1;
  void* mem_b = nullptr;  // owned by mem
  std::unique_ptr<Integrator> epi2;
  DenseTrajectory trajectory;
};

CvodesAdjoint::Impl::Impl(const GradientOptions& opts, Index state_size, Index param_count)
    : options(opts),
      n(state_size),
      p(param_count),
      backward_epi2(opts.EffectiveBackwardIntegrator() == "epi2") {
  const IntegratorOptions& fo = options.integrator_options;
  const IntegratorOptions& bo = options.EffectiveBackwardOptions();
  const bool forward_bdf = LmmFor(options.integrator) == CV_BDF;

  y = MakeNVector(n, ctx);
  AsEigen(y.get()).setZero();
  y_work = MakeNVector(n, ctx);
  q = MakeNVector(1, ctx);
  AsEigen(q.get()).setZero();

  mem.reset(CheckAlloc(CVodeCreate(LmmFor(options.integrator), ctx), "CVodeCreate"));
  void* m = mem.get();
  // The handler must be set before CVodeCreateB, which copies it to the backward memory.
  Check(CVodeSetErrHandlerFn(m, RecordCvodesError, &errors), "CVodeSetErrHandlerFn");
  Check(CVodeInit(m, RhsTrampoline, 0.0, y.get()), "CVodeInit");
  Check(CVodeSStolerances(m, fo.rtol, fo.atol), "CVodeSStolerances");
  Check(CVodeSetUserData(m, static_cast<CallbackData*>(&forward)), "CVodeSetUserData");
  Check(CVodeSetMaxNumSteps(m, fo.max_steps), "CVodeSetMaxNumSteps");
  if (fo.max_step > 0) Check(CVodeSetMaxStep(m, fo.max_step), "CVodeSetMaxStep");
  if (forward_bdf) {
    if (fo.linear_solver == "dense") {
      matrix.reset(CheckAlloc(SUNDenseMatrix(n, n, ctx), "SUNDenseMatrix"));
      solver.reset(CheckAlloc(SUNLinSol_Dense(y.get(), matrix.get(), ctx), "SUNLinSol_Dense"));
      Check(CVodeSetLinearSolver(m, solver.get(), matrix.get()), "CVodeSetLinearSolver");
      Check(CVodeSetJacFn(m, DenseJacobianTrampoline), "CVodeSetJacFn");
    } else {
      solver.reset(CheckAlloc(SUNLinSol_SPGMR(y.get(), SUN_PREC_NONE, fo.krylov_max_dim, ctx),
                              "SUNLinSol_SPGMR"));
      Check(CVodeSetLinearSolver(m, solver.get(), nullptr), "CVodeSetLinearSolver");
      Check(CVodeSetJacTimes(m, nullptr, JacTimesTrampoline), "CVodeSetJacTimes");
    }
  } else {
    // Adams is for non-stiff problems: fixed-point iteration needs no Jacobian.
    nonlinear.reset(
        CheckAlloc(SUNNonlinSol_FixedPoint(y.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    Check(CVodeSetNonlinearSolver(m, nonlinear.get()), "CVodeSetNonlinearSolver");
  }
  Check(CVodeSetMaxNonlinIters(m, fo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  // ∫ g dt as a quadrature under error control, so L is as accurate as the states.
  Check(CVodeQuadInit(m, RunningCostTrampoline, q.get()), "CVodeQuadInit");
  Check(CVodeSetQuadErrCon(m, SUNTRUE), "CVodeSetQuadErrCon");
  Check(CVodeQuadSStolerances(m, fo.rtol, fo.atol), "CVodeQuadSStolerances");
  Check(CVodeAdjInit(m, options.checkpoint_interval,
                     options.interpolation == "polynomial" ? CV_POLYNOMIAL : CV_HERMITE),
        "CVodeAdjInit");

  backward.work.resize(n);
  backward.jacobian.resize(n, n);
  if (backward_epi2) {
    epi2 = IntegratorRegistry().Create("epi2", bo);
    return;
  }
  const int lmm_b = LmmFor(options.EffectiveBackwardIntegrator());
  Check(CVodeCreateB(m, lmm_b, &which), "CVodeCreateB");
  yB = MakeNVector(n, ctx);
  AsEigen(yB.get()).setZero();
  Check(CVodeInitB(m, which, AdjointRhs, 0.0, yB.get()), "CVodeInitB");
  Check(CVodeSStolerancesB(m, which, bo.rtol, bo.atol), "CVodeSStolerancesB");
  Check(CVodeSetUserDataB(m, which, &backward), "CVodeSetUserDataB");
  Check(CVodeSetMaxNumStepsB(m, which, bo.max_steps), "CVodeSetMaxNumStepsB");
  if (bo.max_step > 0) Check(CVodeSetMaxStepB(m, which, bo.max_step), "CVodeSetMaxStepB");
  if (lmm_b == CV_BDF) {
    if (bo.linear_solver == "dense") {
      matrix_b.reset(CheckAlloc(SUNDenseMatrix(n, n, ctx), "SUNDenseMatrix"));
      solver_b.reset(CheckAlloc(SUNLinSol_Dense(yB.get(), matrix_b.get(), ctx), "SUNLinSol_Dense"));
      Check(CVodeSetLinearSolverB(m, which, solver_b.get(), matrix_b.get()),
            "CVodeSetLinearSolverB");
      Check(CVodeSetJacFnB(m, which, AdjointJacobian), "CVodeSetJacFnB");
    } else {
      solver_b.reset(CheckAlloc(SUNLinSol_SPGMR(yB.get(), SUN_PREC_NONE, bo.krylov_max_dim, ctx),
                                "SUNLinSol_SPGMR"));
      Check(CVodeSetLinearSolverB(m, which, solver_b.get(), nullptr), "CVodeSetLinearSolverB");
      Check(CVodeSetJacTimesB(m, which, nullptr, AdjointJacTimes), "CVodeSetJacTimesB");
    }
  } else {
    nonlinear_b.reset(
        CheckAlloc(SUNNonlinSol_FixedPoint(yB.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    Check(CVodeSetNonlinearSolverB(m, which, nonlinear_b.get()), "CVodeSetNonlinearSolverB");
  }
  mem_b = CheckAlloc(CVodeGetAdjCVodeBmem(m, which), "CVodeGetAdjCVodeBmem");
  Check(CVodeSetMaxNonlinIters(mem_b, bo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  if (p > 0) {
    qB = MakeNVector(p, ctx);
    AsEigen(qB.get()).setZero();
    Check(CVodeQuadInitB(m, which, AdjointQuadRhs, qB.get()), "CVodeQuadInitB");
    // dL/dθ under error control: without it the quadrature rides on steps chosen for a alone,
    // which is not accurate enough on stiff problems.
    Check(CVodeSetQuadErrConB(m, which, SUNTRUE), "CVodeSetQuadErrConB");
    Check(CVodeQuadSStolerancesB(m, which, bo.rtol, bo.atol), "CVodeQuadSStolerancesB");
  }
}

void CvodesAdjoint::Impl::Fail(const char* call, int flag, double t, const std::string& phase) {
  forward.RethrowPending();
  if (backward.pending) {
    std::exception_ptr stored = backward.pending;
    backward.pending = nullptr;
    std::rethrow_exception(stored);
  }
  std::ostringstream detail;
  detail << "at t=" << t << " (gradient 'cvodes_adjoint', " << phase << " '"
         << (phase == "forward" ? options.integrator : options.EffectiveBackwardIntegrator())
         << "')";
  const std::string& nonfinite =
      !forward.nonfinite_message.empty() ? forward.nonfinite_message : backward.nonfinite_message;
  if (!nonfinite.empty()) {
    throw NumericalError(nonfinite + "; " + call + " failed with " + FlagName(flag) + " " +
                         detail.str());
  }
  if (!errors.last_message.empty()) detail << ": " << errors.last_message;
  switch (flag) {
    case CV_TOO_MUCH_WORK:
      detail << "; raise max_steps or loosen rtol";
      break;
    case CV_TOO_MUCH_ACC:
      detail << "; loosen rtol/atol";
      break;
    case CV_ERR_FAILURE:
    case CV_CONV_FAILURE:
      detail << "; the problem may be stiff: use cvodes_bdf, or loosen rtol/atol";
      break;
    default:
      detail << "; check the field, the loss and the tolerances";
  }
  throw SundialsError(call, flag, FlagName(flag), detail.str());
}

void CvodesAdjoint::Impl::Run(const OdeProblem& problem, const Loss& loss,
                              LossAndGradient& result) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  void* m = mem.get();
  const std::vector<double>& times = problem.output_times;
  const std::size_t num_times = times.size();
  const double t0 = problem.t0;
  const double t_final = times.back();

  forward.field = problem.field.get();
  forward.theta = &problem.theta;
  forward.loss = &loss;
  forward.ResetCounters();
  backward.field = problem.field.get();
  backward.theta = &problem.theta;
  backward.loss = &loss;
  backward.Reset();
  errors.last_message.clear();

  Trajectory& fwd = result.forward;
  fwd.times = times;
  fwd.states.assign(num_times, Vector());
  result.dreadout = Vector::Zero(loss.num_readout_params());

  // ---- forward pass -----------------------------------------------------------------------
  std::size_t next = 0;
  while (next < num_times && times[next] == t0) fwd.states[next++] = problem.z0;
  double t_reached = t0;  // where the forward really ended (tB0)
  int ncheck = 0;
  long forward_steps = 0;
  trajectory.Clear();
  if (next < num_times) {
    AsEigen(y.get()) = problem.z0;
    AsEigen(q.get()).setZero();
    Check(CVodeReInit(m, t0, y.get()), "CVodeReInit");
    Check(CVodeQuadReInit(m, q.get()), "CVodeQuadReInit");
    // The previous backward pass re-set the initial step (CVODES replays the first checkpoint
    // interval with the recorded h0); restore ours so a reused object equals a fresh one.
    Check(CVodeSetInitStep(m, options.integrator_options.initial_step), "CVodeSetInitStep");
    // Without this the checkpoints of the previous call stay in the list, and the gradients are
    // silently wrong once z0 or θ change (sundials-notes §5).
    Check(CVodeAdjReInit(m), "CVodeAdjReInit");
    // Only T is a stop time. CVODES recomputes each checkpoint interval in CVodeB with the last
    // stop time only, so intermediate stop times would make the replay take other steps than
    // the forward pass (and CVAdataStore does not bound the number of replayed steps by Nd).
    Check(CVodeSetStopTime(m, t_final), "CVodeSetStopTime");
    if (backward_epi2) {
      Vector f0(n);
      forward.field->F(t0, problem.z0, problem.theta, f0);
      ++forward.rhs_evals;
      trajectory.Add(t0, problem.z0, f0);
    }
    long steps_since_output = 0;
    double tret = t0;
    while (next < num_times) {
      // One step at a time, so each output time is read from the step that contains it. The
      // "epi2" backward needs no checkpoints, so it steps with CVode (CVodeF would store them).
      const int flag = backward_epi2 ? CVode(m, t_final, y.get(), &tret, CV_ONE_STEP)
                                     : CVodeF(m, t_final, y.get(), &tret, CV_ONE_STEP, &ncheck);
      if (flag < 0) Fail(backward_epi2 ? "CVode" : "CVodeF", flag, tret, "forward");
      ++steps_since_output;
      if (backward_epi2) {
        Check(CVodeGetDky(m, tret, 1, y_work.get()), "CVodeGetDky");
        trajectory.Add(tret, AsEigen(y.get()), AsEigen(y_work.get()));
      }
      while (next < num_times && (times[next] <= tret || flag == CV_TSTOP_RETURN)) {
        Check(CVodeGetDky(m, std::min(times[next], tret), 0, y_work.get()), "CVodeGetDky");
        fwd.states[next++] = AsEigen(y_work.get());
        steps_since_output = 0;
      }
      if (steps_since_output >= options.integrator_options.max_steps) {
        Fail(backward_epi2 ? "CVode" : "CVodeF", CV_TOO_MUCH_WORK, tret, "forward");
      }
    }
    sunrealtype t_current = t0;
    Check(CVodeGetCurrentTime(m, &t_current), "CVodeGetCurrentTime");
    // CVodeB accepts tB0 only inside the forward interval, without tolerance; 6.4.1 ends the
    // last step exactly on the stop time, but guard against a last step short of T by rounding.
    t_reached = std::min(t_final, static_cast<double>(t_current));
    Check(CVodeGetNumSteps(m, &forward_steps), "CVodeGetNumSteps");
  }
  const long forward_rhs = forward.rhs_evals;

  // ---- loss ---------------------------------------------------------------------------------
  std::vector<Vector> dl_dz(num_times, Vector(n));
  double value = 0.0;
  for (std::size_t i = 0; i < num_times; ++i) {
    value += loss.Term(i, times[i], fwd.states[i], dl_dz[i], result.dreadout);
  }
  if (loss.HasRunningCost() && t_final > t0) {
    sunrealtype tq = 0;
    Check(CVodeGetQuad(m, &tq, q.get()), "CVodeGetQuad");
    value += AsEigen(q.get())(0);
  }
  result.loss = value;

  // ---- backward pass ------------------------------------------------------------------------
  Vector a = dl_dz[num_times - 1];
  Vector grad = Vector::Zero(p);
  long backward_steps = 0;
  std::shared_ptr<ReversedAdjointField> reversed;
  if (backward_epi2) {
    reversed =
        std::make_shared<ReversedAdjointField>(forward.field, &problem.theta, &loss, &trajectory);
  }
  double t_high = t_reached;
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(num_times) - 2; i >= -1; --i) {
    const double t_low = i >= 0 ? times[static_cast<std::size_t>(i)] : t0;
    if (t_low < t_high) {
      if (backward_epi2) {
        OdeProblem reversed_problem;
        reversed_problem.field = reversed;
        reversed_problem.z0.resize(n + p);
        reversed_problem.z0 << a, grad;
        reversed_problem.t0 = -t_high;
        reversed_problem.output_times = {-t_low};
        const Trajectory segment = epi2->Solve(reversed_problem);
        a = segment.states[0].head(n);
        grad = segment.states[0].tail(p);
        backward_steps += segment.stats.steps;
      } else {
        AsEigen(yB.get()) = a;
        Check(CVodeReInitB(m, which, t_high, yB.get()), "CVodeReInitB");
        if (p > 0) {
          AsEigen(qB.get()) = grad;
          // The current q, so the quadrature keeps accumulating across the jumps.
          Check(CVodeQuadReInitB(m, which, qB.get()), "CVodeQuadReInitB");
        }
        const int flag = CVodeB(m, t_low, CV_NORMAL);
        sunrealtype t_b = t_low;
        if (flag < 0) {
          CVodeGetCurrentTime(mem_b, &t_b);
          Fail("CVodeB", flag, t_b, "backward");
        }
        Check(CVodeGetB(m, which, &t_b, yB.get()), "CVodeGetB");
        a = AsEigen(yB.get());
        if (p > 0) {
          Check(CVodeGetQuadB(m, which, &t_b, qB.get()), "CVodeGetQuadB");
          grad = AsEigen(qB.get());
        }
        // Counters restart at every CVodeReInitB: sum them per segment.
        long segment_steps = 0;
        Check(CVodeGetNumSteps(mem_b, &segment_steps), "CVodeGetNumSteps");
        backward_steps += segment_steps;
      }
    }
    if (i >= 0) a += dl_dz[static_cast<std::size_t>(i)];
    t_high = t_low;
  }
  result.dz0 = a;
  result.dtheta = grad;

  // ---- statistics ---------------------------------------------------------------------------
  GradientStats& stats = result.stats;
  stats.forward_rhs_evals = forward_rhs;
  stats.forward_steps = forward_steps;
  stats.backward_steps = backward_steps;
  stats.jvp_evals = forward.jvp_evals;
  stats.checkpoints = ncheck;
  if (backward_epi2) {
    stats.backward_rhs_evals = reversed ? reversed->rhs_evals : 0;
    stats.vjp_evals = reversed ? reversed->vjp_evals : 0;
    stats.stored_bytes = trajectory.Bytes();
  } else {
    // fB calls plus the forward recomputation from checkpoints during CVodeB.
    stats.backward_rhs_evals = backward.rhs_evals + (forward.rhs_evals - forward_rhs);
    stats.vjp_evals = backward.vjp_evals;
    double bytes = 0.0;
    if (t_final > t0) {
      std::vector<CVadjCheckPointRec> records(static_cast<std::size_t>(ncheck) + 1);
      Check(CVodeGetAdjCheckPointsInfo(m, records.data()), "CVodeGetAdjCheckPointsInfo");
      for (const CVadjCheckPointRec& record : records) {
        bytes += 8.0 * static_cast<double>(record.order + 1) * static_cast<double>(n + 1);
      }
      const double per_point = options.interpolation == "polynomial" ? 1.0 : 2.0;
      bytes += 8.0 * static_cast<double>(options.checkpoint_interval + 1) * per_point *
               static_cast<double>(n);
    }
    stats.stored_bytes = bytes;
  }
  fwd.stats.steps = forward_steps;
  fwd.stats.rhs_evals = forward_rhs;
  fwd.stats.jvp_evals = forward.jvp_evals;
  fwd.stats.jacobian_evals = forward.jacobian_evals;
  stats.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

CvodesAdjoint::CvodesAdjoint(const GradientOptions& options) : options_(options) {
  options_.Validate();
  Require(IsCvodesName(options_.integrator),
          "gradient 'cvodes_adjoint' needs integrator 'cvodes_bdf' or 'cvodes_adams', got '" +
              options_.integrator + "'");
  const std::string& backward = options_.EffectiveBackwardIntegrator();
  Require(IsCvodesName(backward) || backward == "epi2",
          "gradient 'cvodes_adjoint' needs backward_integrator 'cvodes_bdf', 'cvodes_adams' or "
          "'epi2' (or empty for the forward's), got '" +
              backward + "'");
  Require(options_.integrator_options.fixed_step == 0.0 &&
              options_.EffectiveBackwardOptions().fixed_step == 0.0,
          "gradient 'cvodes_adjoint' is adaptive: integrator option fixed_step must be 0");
  if (backward == "epi2") {
    Require(IntegratorRegistry().Contains("epi2"),
            "gradient 'cvodes_adjoint': backward_integrator 'epi2' is not registered; known: " +
                IntegratorRegistry().KnownNames());
  }
}

CvodesAdjoint::~CvodesAdjoint() = default;

LossAndGradient CvodesAdjoint::Compute(const OdeProblem& problem, const Loss& loss) {
  problem.Validate();
  const Index n = problem.field->state_size();
  const Index p = problem.field->num_params();
  if (!impl_ || impl_->n != n || impl_->p != p) {
    impl_.reset();  // free the old SUNDIALS objects before creating new ones
    impl_ = std::make_unique<Impl>(options_, n, p);
  }
  LossAndGradient result;
  impl_->Run(problem, loss, result);
  return result;
}

}  // namespace snode
