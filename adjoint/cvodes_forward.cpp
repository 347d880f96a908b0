#include "adjoint/cvodes_forward.hpp"

#include <cvodes/cvodes.h>
#include <cvodes/cvodes_bandpre.h>
#include <cvodes/cvodes_ls.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "adjoint/cvodes_calls.hpp"
#include "core/errors.hpp"
#include "integrators/krylov_solver.hpp"

namespace snode {

namespace {

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

// What to try for a failed solve, after "; ".
const char* Remedy(int flag) {
  switch (flag) {
    case CV_TOO_MUCH_WORK:
      return "raise max_steps or loosen rtol";
    case CV_TOO_MUCH_ACC:
      return "loosen rtol/atol";
    case CV_ERR_FAILURE:
    case CV_CONV_FAILURE:
      return "the problem may be stiff: use cvodes_bdf, or loosen rtol/atol";
    default:
      return "check the field, the loss and the tolerances";
  }
}

}  // namespace

int CvodesMethodFor(CvodesMethod method) {
  return method == CvodesMethod::kAdams ? CV_ADAMS : CV_BDF;
}

CvodesForward::CvodesForward(const GradientOptions& options,
                             const CvodesAdjointOptions& cvodes_options, CvodesMethod method,
                             CvodesMethod backward_method, Index n, SUNContext ctx,
                             const StateDistribution* distribution)
    : options_(options),
      cvodes_options_(cvodes_options),
      method_(method),
      backward_method_(backward_method),
      n_(n),
      distribution_(distribution) {
  const IntegratorOptions& fo = options.integrator_options;
  y_ = MakeStateVector(n, ctx, distribution);
  AsEigen(y_.get()).setZero();
  y_work_ = MakeStateVector(n, ctx, distribution);
  q_ = MakeNVector(1, ctx);
  AsEigen(q_.get()).setZero();

  mem_.reset(CheckCreated(CVodeCreate(CvodesMethodFor(method_), ctx), "CVodeCreate"));
  void* m = mem_.get();
  // The handler must be set before CVodeCreateB, which copies it to the backward memory.
  CheckCvodesCall(CVodeSetErrHandlerFn(m, detail::RecordingErrorHandler, &errors_),
                  "CVodeSetErrHandlerFn");
  CheckCvodesCall(CVodeInit(m, RhsTrampoline, 0.0, y_.get()), "CVodeInit");
  CheckCvodesCall(CVodeSStolerances(m, fo.rtol, fo.atol), "CVodeSStolerances");
  CheckCvodesCall(CVodeSetUserData(m, static_cast<CallbackData*>(&data_)), "CVodeSetUserData");
  CheckCvodesCall(CVodeSetMaxNumSteps(m, fo.max_steps), "CVodeSetMaxNumSteps");
  if (fo.max_step > 0) CheckCvodesCall(CVodeSetMaxStep(m, fo.max_step), "CVodeSetMaxStep");
  AttachSolvers(ctx);
  CheckCvodesCall(CVodeSetMaxNonlinIters(m, fo.max_nonlinear_iters), "CVodeSetMaxNonlinIters");
  // ∫ g dt as a quadrature under error control, so L is as accurate as the states.
  CheckCvodesCall(CVodeQuadInit(m, RunningCostTrampoline, q_.get()), "CVodeQuadInit");
  CheckCvodesCall(CVodeSetQuadErrCon(m, SUNTRUE), "CVodeSetQuadErrCon");
  CheckCvodesCall(CVodeQuadSStolerances(m, fo.rtol, fo.atol), "CVodeQuadSStolerances");
  const bool polynomial =
      cvodes_options.interpolation == CvodesAdjointOptions::Interpolation::kPolynomial;
  CheckCvodesCall(
      CVodeAdjInit(m, cvodes_options.checkpoint_interval, polynomial ? CV_POLYNOMIAL : CV_HERMITE),
      "CVodeAdjInit");
}

void CvodesForward::AttachSolvers(SUNContext ctx) {
  const IntegratorOptions& fo = options_.integrator_options;
  void* m = mem_.get();
  if (method_ != CvodesMethod::kBdf) {
    // Adams is for non-stiff problems: fixed-point iteration needs no Jacobian.
    nonlinear_.reset(
        CheckCreated(SUNNonlinSol_FixedPoint(y_.get(), 0, ctx), "SUNNonlinSol_FixedPoint"));
    CheckCvodesCall(CVodeSetNonlinearSolver(m, nonlinear_.get()), "CVodeSetNonlinearSolver");
    return;
  }
  if (fo.DenseLinearSolver()) {
    CheckDenseNewtonSize(n_, "gradient 'cvodes_adjoint' (forward)");
    matrix_.reset(CheckCreated(SUNDenseMatrix(n_, n_, ctx), "SUNDenseMatrix"));
    solver_.reset(CheckCreated(SUNLinSol_Dense(y_.get(), matrix_.get(), ctx), "SUNLinSol_Dense"));
    CheckCvodesCall(CVodeSetLinearSolver(m, solver_.get(), matrix_.get()), "CVodeSetLinearSolver");
    CheckCvodesCall(CVodeSetJacFn(m, DenseJacobianTrampoline), "CVodeSetJacFn");
  } else {
    solver_.reset(CheckCreated(detail::NewKrylovSolver(fo, y_.get(), ctx), "SUNLinSol_SPGMR"));
    CheckCvodesCall(CVodeSetLinearSolver(m, solver_.get(), nullptr), "CVodeSetLinearSolver");
    CheckCvodesCall(CVodeSetJacTimes(m, nullptr, JacTimesTrampoline), "CVodeSetJacTimes");
  }
}

void CvodesForward::Bind(const OdeProblem& problem, const Loss& loss) {
  data_.field = problem.field.get();
  data_.theta = &problem.theta;
  data_.loss = &loss;
  data_.ResetCounters();
  errors_.Clear();
  data_.preconditioner = nullptr;
  preconditioner_.reset();
  const IntegratorOptions& fo = options_.integrator_options;
  if (method_ != CvodesMethod::kBdf || fo.DenseLinearSolver()) return;
  static const std::string kLabel = "gradient 'cvodes_adjoint' (forward)";
  detail::PreconditionerPlan plan =
      detail::PlanPreconditioner(fo, *problem.field, PreconditionerSide::kForward, kLabel);
  void* m = mem_.get();
  detail::ApplyPreconditionerPlan(
      plan, solver_.get(), fo, &band_, CheckCvodesCall,
      [&](Index half_bandwidth) {
        CheckCvodesCall(CVBandPrecInit(m, n_, half_bandwidth, half_bandwidth), "CVBandPrecInit");
      },
      [&] {
        CheckCvodesCall(CVodeSetPreconditioner(m, PrecSetupTrampoline, PrecSolveTrampoline),
                        "CVodeSetPreconditioner");
      });
  preconditioner_ = std::move(plan.field_owned);
  data_.preconditioner = preconditioner_.get();
}

void CvodesForward::ReadIterations(ForwardOutcome& outcome) {
  void* m = mem_.get();
  long failures = 0;
  CheckCvodesCall(CVodeGetNonlinSolvStats(m, &outcome.nonlinear_iters, &failures),
                  "CVodeGetNonlinSolvStats");
  if (solver_ == nullptr) return;
  CheckCvodesCall(CVodeGetNumLinIters(m, &outcome.linear_iters), "CVodeGetNumLinIters");
  outcome.preconditioner_setups = data_.preconditioner_setups;
  outcome.preconditioner_solves = data_.preconditioner_solves;
  if (band_ < 0) return;
  // The band preconditioner's calls, counted by CVODES.
  CheckCvodesCall(CVodeGetNumPrecEvals(m, &outcome.preconditioner_setups), "CVodeGetNumPrecEvals");
  CheckCvodesCall(CVodeGetNumPrecSolves(m, &outcome.preconditioner_solves),
                  "CVodeGetNumPrecSolves");
}

ForwardOutcome CvodesForward::Run(const OdeProblem& problem, bool checkpoints,
                                  ForwardStepRecorder* recorder, Trajectory& forward) {
  const std::vector<double>& times = problem.output_times;
  const double t_final = times.back();
  ForwardOutcome outcome;
  outcome.t_reached = problem.t0;
  std::size_t next = 0;
  while (next < times.size() && times[next] == problem.t0) forward.states[next++] = problem.z0;
  if (next < times.size()) {
    void* m = mem_.get();
    AsEigen(y_.get()) = problem.z0;
    AsEigen(q_.get()).setZero();
    CheckCvodesCall(CVodeReInit(m, problem.t0, y_.get()), "CVodeReInit");
    CheckCvodesCall(CVodeQuadReInit(m, q_.get()), "CVodeQuadReInit");
    // The previous backward pass re-set the initial step (CVODES replays the first checkpoint
    // interval with the recorded h0); restore ours so a reused object equals a fresh one.
    CheckCvodesCall(CVodeSetInitStep(m, options_.integrator_options.initial_step),
                    "CVodeSetInitStep");
    // Without this the checkpoints of the previous call stay in the list, and the gradients are
    // silently wrong once z0 or θ change.
    CheckCvodesCall(CVodeAdjReInit(m), "CVodeAdjReInit");
    // Only T is a stop time. CVODES recomputes each checkpoint interval in CVodeB with the last
    // stop time only, so intermediate stop times would make the replay take other steps than
    // the forward pass (and CVAdataStore does not bound the number of replayed steps by Nd).
    CheckCvodesCall(CVodeSetStopTime(m, t_final), "CVodeSetStopTime");
    if (recorder != nullptr) recorder->Start(problem.t0, problem.z0, data_);
    outcome.checkpoints = StepToEnd(problem, next, checkpoints, recorder, forward);
    sunrealtype t_current = problem.t0;
    CheckCvodesCall(CVodeGetCurrentTime(m, &t_current), "CVodeGetCurrentTime");
    // CVodeB accepts tB0 only inside the forward interval, without tolerance; 6.4.1 ends the
    // last step exactly on the stop time, but guard against a last step short of T by rounding.
    outcome.t_reached = std::min(t_final, static_cast<double>(t_current));
    CheckCvodesCall(CVodeGetNumSteps(m, &outcome.steps), "CVodeGetNumSteps");
    ReadIterations(outcome);
  }
  outcome.rhs_evals = data_.rhs_evals;
  return outcome;
}

int CvodesForward::StepToEnd(const OdeProblem& problem, std::size_t next, bool checkpoints,
                             ForwardStepRecorder* recorder, Trajectory& forward) {
  void* m = mem_.get();
  const std::vector<double>& times = problem.output_times;
  const double t_final = times.back();
  // The backward passes that do not use CVODES' checkpoints step with CVode (CVodeF would store
  // checkpoints nobody reads).
  const char* call = checkpoints ? "CVodeF" : "CVode";
  int ncheck = 0;
  long steps_since_output = 0;
  double tret = problem.t0;
  while (next < times.size()) {
    // One step at a time, so each output time is read from the step that contains it.
    const int flag = checkpoints ? CVodeF(m, t_final, y_.get(), &tret, CV_ONE_STEP, &ncheck)
                                 : CVode(m, t_final, y_.get(), &tret, CV_ONE_STEP);
    if (flag < 0) Fail(call, flag, tret, CvodesPhase::kForward);
    ++steps_since_output;
    if (recorder != nullptr) recorder->AddStep(m, tret, y_.get(), y_work_.get());
    while (next < times.size() && (times[next] <= tret || flag == CV_TSTOP_RETURN)) {
      CheckCvodesCall(CVodeGetDky(m, std::min(times[next], tret), 0, y_work_.get()), "CVodeGetDky");
      forward.states[next++] = AsEigen(y_work_.get());
      steps_since_output = 0;
    }
    if (steps_since_output >= options_.integrator_options.max_steps) {
      Fail(call, CV_TOO_MUCH_WORK, tret, CvodesPhase::kForward);
    }
  }
  return ncheck;
}

double CvodesForward::RunningCostIntegral() {
  sunrealtype tq = 0;
  CheckCvodesCall(CVodeGetQuad(mem_.get(), &tq, q_.get()), "CVodeGetQuad");
  return AsEigen(q_.get())(0);
}

double CvodesForward::CheckpointBytes(int checkpoints) {
  std::vector<CVadjCheckPointRec> records(static_cast<std::size_t>(checkpoints) + 1);
  CheckCvodesCall(CVodeGetAdjCheckPointsInfo(mem_.get(), records.data()),
                  "CVodeGetAdjCheckPointsInfo");
  double bytes = 0.0;
  for (const CVadjCheckPointRec& record : records) {
    bytes += 8.0 * static_cast<double>(record.order + 1) * static_cast<double>(n_ + 1);
  }
  const bool polynomial =
      cvodes_options_.interpolation == CvodesAdjointOptions::Interpolation::kPolynomial;
  const double per_point = polynomial ? 1.0 : 2.0;
  bytes += 8.0 * static_cast<double>(cvodes_options_.checkpoint_interval + 1) * per_point *
           static_cast<double>(n_);
  return bytes;
}

void CvodesForward::Fail(const char* call, int flag, double t, CvodesPhase phase,
                         CallbackFailure* backward) {
  data_.RethrowPending();
  if (backward != nullptr && backward->pending) {
    std::exception_ptr stored = backward->pending;
    backward->pending = nullptr;
    std::rethrow_exception(stored);
  }
  std::ostringstream detail;
  const bool forward = phase == CvodesPhase::kForward;
  detail << "at t=" << t << " (gradient 'cvodes_adjoint', " << (forward ? "forward" : "backward")
         << " '" << (forward ? options_.integrator : options_.EffectiveBackwardIntegrator())
         << "')";
  const std::string flag_name = detail::FlagName(detail::SolverFamily::kCvodes, flag);
  const std::string& nonfinite = !data_.nonfinite_message.empty() || backward == nullptr
                                     ? data_.nonfinite_message
                                     : backward->nonfinite_message;
  if (!nonfinite.empty()) {
    throw NumericalError(nonfinite + "; " + call + " failed with " + flag_name + " " +
                         detail.str());
  }
  if (errors_.code != 0) detail << ": " << errors_.function << ": " << errors_.message;
  detail << "; " << Remedy(flag);
  throw SundialsError(call, flag, flag_name, detail.str());
}

}  // namespace snode
