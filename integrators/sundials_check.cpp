#include "integrators/sundials_check.hpp"

#include <cstdio>
// clang-format off
#include <arkode/arkode.h>
#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_butcher.h>
#include <arkode/arkode_erkstep.h>
#include <cvodes/cvodes.h>
// clang-format on

#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "integrators/fixed_steps.hpp"
#include "integrators/integrator_support.hpp"

namespace snode {
namespace detail {

void RecordingErrorHandler(int error_code, const char* /*module*/, const char* function, char* msg,
                           void* eh_data) noexcept {
  if (error_code >= 0 || eh_data == nullptr) return;  // warnings (e.g. "t + h = t") are ignored
  auto* record = static_cast<ErrorRecord*>(eh_data);
  try {
    record->code = error_code;
    record->function = function != nullptr ? function : "";
    record->message = msg != nullptr ? msg : "";
  } catch (...) {
    // Out of memory while copying a message: keep the code, drop the text.
  }
}

std::string FlagName(SolverFamily family, int flag) {
  // *GetReturnFlagName returns a malloc'ed string that the caller frees.
  std::unique_ptr<char, decltype(&std::free)> name(family == SolverFamily::kArkode
                                                       ? ARKStepGetReturnFlagName(flag)
                                                       : CVodeGetReturnFlagName(flag),
                                                   &std::free);
  return name ? std::string(name.get()) : std::string("unknown flag");
}

std::string FlagRemedy(const std::string& flag_name) {
  const auto has = [&](const char* part) { return flag_name.find(part) != std::string::npos; };
  if (has("TOO_MUCH_WORK")) {
    return "raise max_steps or loosen rtol; if the problem is stiff use sdirk or cvodes_bdf";
  }
  if (has("TOO_MUCH_ACC")) return "loosen rtol/atol (they ask for more than double precision)";
  if (has("ERR_FAILURE")) {
    return "the error test failed repeatedly: loosen rtol/atol, lower max_step or use an "
           "implicit method";
  }
  if (has("CONV_FAILURE") || has("NLS")) {
    return "the nonlinear solver did not converge: raise max_nonlinear_iters, reduce fixed_step "
           "or use linear_solver=dense";
  }
  if (has("LSETUP_FAIL") || has("LSOLVE_FAIL") || has("LINIT_FAIL")) {
    return "the linear solver failed: check the field's Jacobian/JVP or switch linear_solver";
  }
  if (has("RHSFUNC") || has("RHSFUNC_ERR")) {
    return "the vector field failed: check it for NaN/Inf or exceptions";
  }
  if (has("ILL_INPUT") || has("TOO_CLOSE") || has("BAD_T")) {
    return "check the options and the problem (times, step sizes, tolerances)";
  }
  if (has("MEM")) return "out of memory or solver memory not set up";
  return "check the options and the problem";
}

void CheckArkode(int flag, const char* call, const std::string& context) {
  if (flag >= 0) return;
  throw SundialsError(call, flag, FlagName(SolverFamily::kArkode, flag), context);
}

void CheckCvodes(int flag, const char* call, const std::string& context) {
  if (flag >= 0) return;
  throw SundialsError(call, flag, FlagName(SolverFamily::kCvodes, flag), context);
}

void CheckNotNull(const void* pointer, const char* call, const std::string& context) {
  if (pointer == nullptr) throw SundialsError(call, -1, "returned NULL", context);
}

void ThrowSolveFailure(SolverFamily family, const char* call, int flag, double t,
                       const std::string& integrator, CallbackData& data,
                       const ErrorRecord& record) {
  data.RethrowPending();  // the field's own exception wins: same type, same message
  if (!data.nonfinite_message.empty()) {
    throw NumericalError("integrator '" + integrator + "' stopped at t=" + FormatTime(t) + ": " +
                         data.nonfinite_message +
                         " and a smaller step did not avoid it (check the field, its parameters "
                         "and the initial state)");
  }
  const std::string flag_name = FlagName(family, flag);
  std::string detail =
      "at t=" + FormatTime(t) + " (integrator '" + integrator + "'); " + FlagRemedy(flag_name);
  if (!record.message.empty()) detail += "; SUNDIALS: " + record.message;
  throw SundialsError(call, flag, flag_name, detail);
}

void ErkStepDeleter::operator()(void* mem) const noexcept {
  if (mem != nullptr) ERKStepFree(&mem);
}
void ArkStepDeleter::operator()(void* mem) const noexcept {
  if (mem != nullptr) ARKStepFree(&mem);
}
void CvodeDeleter::operator()(void* mem) const noexcept {
  if (mem != nullptr) CVodeFree(&mem);
}
void ArkodeTableDeleter::operator()(ARKodeButcherTableMem* table) const noexcept {
  if (table != nullptr) ARKodeButcherTable_Free(table);
}

ArkodeTablePtr MakeArkodeTable(const ButcherTableau& tableau) {
  const int s = tableau.stages;
  std::vector<sunrealtype> a(static_cast<std::size_t>(s * s));  // row-major, as ARKODE expects
  for (int i = 0; i < s; ++i) {
    for (int j = 0; j < s; ++j) a[static_cast<std::size_t>(i * s + j)] = tableau.a(i, j);
  }
  Vector b = tableau.b, c = tableau.c, d = tableau.b_embedded;
  ArkodeTablePtr table(ARKodeButcherTable_Create(s, tableau.order, tableau.embedded_order, c.data(),
                                                 a.data(), b.data(),
                                                 tableau.HasEmbedding() ? d.data() : nullptr));
  CheckNotNull(table.get(), "ARKodeButcherTable_Create", "");
  return table;
}

void ThrowStateNotFinite(double t, const std::string& integrator) {
  throw NumericalError("integrator '" + integrator +
                       "': the state became NaN or Inf at t=" + FormatTime(t) +
                       " (the method is unstable at this step size: reduce fixed_step or use an "
                       "implicit method such as backward_euler, sdirk or cvodes_bdf)");
}

namespace {

// Writes the output states into a trajectory's states, reusing the vectors already there (a
// trajectory passed to SolveInto again allocates nothing); surplus ones are dropped at the end.
class StateWriter {
 public:
  explicit StateWriter(std::vector<Vector>& states) : states_(states) {}
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;
  ~StateWriter() { states_.resize(count_); }
  void Add(ConstVectorRef state) {
    if (count_ < states_.size()) {
      states_[count_] = state;
    } else {
      states_.emplace_back(state);
    }
    ++count_;
  }

 private:
  std::vector<Vector>& states_;
  std::size_t count_ = 0;
};

// SundialsError "CALL failed with FLAG (n) at t=T (integrator 'NAME')" when a hook call failed.
void CheckHookCall(const EvolveHooks& hooks, const char* call, int flag, double t,
                   const std::string& integrator) {
  if (flag >= 0) return;
  throw SundialsError(call, flag, FlagName(hooks.family, flag),
                      "at t=" + FormatTime(t) + " (integrator '" + integrator + "')");
}

// DenseOutput over the solver's last step through hooks.interpolate (*GetDky, k = 0).
class SolverDenseOutput final : public DenseOutput {
 public:
  SolverDenseOutput(const EvolveHooks& hooks, N_Vector work, const std::string& integrator)
      : hooks_(hooks), work_(work), integrator_(integrator) {}
  void Evaluate(double t, VectorRef z) const override {
    CheckHookCall(hooks_, hooks_.interpolate_call, hooks_.interpolate(t, work_), t, integrator_);
    z = AsConstEigen(work_);
  }

 private:
  const EvolveHooks& hooks_;
  N_Vector work_;
  const std::string& integrator_;
};

// One-step mode counts the steps per output interval itself (the solver's own limit applies per
// evolve call): past options.max_steps, the error the solver would have raised. `remedy` replaces
// the flag's generic one.
[[noreturn]] void ThrowTooMuchWork(const EvolveHooks& hooks, double t,
                                   const std::string& integrator, const std::string& remedy = "") {
  const int too_much_work = -1;  // ARK_TOO_MUCH_WORK == CV_TOO_MUCH_WORK
  const std::string flag_name = FlagName(hooks.family, too_much_work);
  throw SundialsError(hooks.evolve_call, too_much_work, flag_name,
                      "at t=" + FormatTime(t) + " (integrator '" + integrator + "'); " +
                          (remedy.empty() ? FlagRemedy(flag_name) : remedy));
}

// The state of one RunOutputLoop call: its arguments, where the solver is, the states written.
class OutputLoop {
 public:
  OutputLoop(const OdeProblem& problem, const IntegratorOptions& options,
             const std::string& integrator, N_Vector y, const EvolveHooks& hooks,
             CallbackData& data, const ErrorRecord& record, Trajectory& trajectory)
      : problem_(problem),
        options_(options),
        integrator_(integrator),
        y_(y),
        hooks_(hooks),
        data_(data),
        record_(record),
        trajectory_(trajectory),
        writer_(trajectory.states),
        t_(problem.t0) {}

  // Every output time a stop time; at_output jumps and after_step.
  void RunStopTimes();
  // interpolate_outputs: one stop time at the last output, the others from the dense output.
  void RunInterpolating();

 private:
  void SetStopTime(double tstop) {
    CheckHookCall(hooks_, hooks_.set_stop_time_call, hooks_.set_stop_time(tstop), t_, integrator_);
  }
  void SetFixedStep(double h) {
    CheckHookCall(hooks_, hooks_.set_fixed_step_call, hooks_.set_fixed_step(h), t_, integrator_);
  }
  // The steps of a fixed-step interval from t_ to tout (integrators/fixed_steps.hpp); throws
  // *_TOO_MUCH_WORK before any work when they are more than max_steps.
  long PlanFixedSteps(double tout) const;
  // Steps from t_ to the stop time tout, one evolve call each in one-step mode.
  void AdvanceInterval(double tout, bool one_step);
  // One evolve call toward tout (one step in one-step mode); returns its flag (>= 0).
  int Advance(double tout, bool one_step, long& steps_in_interval);
  // A jump at output `index`: let the problem change the state, then restart the solver there.
  void Jump(std::size_t index, double t_out);
  // Keeps the state at output `index` (all of them, or with store_all_states off only the last).
  void Store(std::size_t index) {
    if (problem_.store_all_states || index + 1 == problem_.output_times.size()) {
      writer_.Add(AsConstEigen(y_));
    }
  }

  const OdeProblem& problem_;
  const IntegratorOptions& options_;
  const std::string& integrator_;
  N_Vector y_;
  const EvolveHooks& hooks_;
  CallbackData& data_;
  const ErrorRecord& record_;
  Trajectory& trajectory_;
  StateWriter writer_;
  double t_;                                  // where the solver is (end of its last step)
  const SolverDenseOutput* dense_ = nullptr;  // for after_step
};

int OutputLoop::Advance(double tout, bool one_step, long& steps_in_interval) {
  double tret = t_;
  const int flag = hooks_.evolve(tout, y_, &tret, one_step);
  if (flag < 0) {
    ThrowSolveFailure(hooks_.family, hooks_.evolve_call, flag, tret, integrator_, data_, record_);
  }
  // A field exception is always fatal (-1), so a pending one cannot coexist with success, but
  // keep the contract explicit.
  data_.RethrowPending();
  const double t_prev = t_;
  t_ = tret;
  if (one_step) {
    if (dense_ != nullptr) problem_.after_step(t_prev, t_, *dense_);
    if (options_.record_steps) trajectory_.step_times.push_back(t_);
    // As the solver's own limit in normal mode: max_steps steps are allowed, and after the
    // max_steps-th one only if it reached tout.
    if (++steps_in_interval >= options_.max_steps && t_ < tout) {
      ThrowTooMuchWork(hooks_, t_, integrator_);
    }
  }
  return flag;
}

long OutputLoop::PlanFixedSteps(double tout) const {
  const double h = options_.fixed_step;
  const double steps = FixedStepCount(t_, tout, h);
  if (steps > static_cast<double>(options_.max_steps)) {
    ThrowTooMuchWork(hooks_, t_, integrator_,
                     FixedStepTooMuchWork(t_, tout, h, options_.max_steps));
  }
  return static_cast<long>(steps);
}

void OutputLoop::AdvanceInterval(double tout, bool one_step) {
  // Quirk (6.4.1): the stop time must be set before every evolve call (see the header).
  SetStopTime(tout);
  // Fixed steps: the solver's t ← t + h drifts by round-off, so its own stop-time test could
  // leave a sliver step before tout; the planned last step is set to end on tout instead.
  const bool fixed = options_.fixed_step > 0.0 && hooks_.set_fixed_step;
  const long planned = fixed ? PlanFixedSteps(tout) : 0;
  long steps_in_interval = 0;
  while (true) {
    if (fixed && steps_in_interval + 1 == planned) SetFixedStep(tout - t_);
    const int flag = Advance(tout, one_step, steps_in_interval);
    // 1 = *_TSTOP_RETURN; 0 with t == tout is the quirk's form of the same event.
    if (flag == 1 || t_ >= tout) break;
  }
  if (fixed) SetFixedStep(options_.fixed_step);  // the next interval starts with h again
}

void OutputLoop::Jump(std::size_t index, double t_out) {
  if (!problem_.at_output) return;
  auto state = AsEigen(y_);
  if (!problem_.at_output(index, t_out, state)) return;
  CheckHookCall(hooks_, hooks_.reset_call, hooks_.reset(t_out, y_), t_out, integrator_);
}

void OutputLoop::RunStopTimes() {
  // after_step: the stepper runs one step at a time and shows each step's dense output.
  NVectorPtr dense_work;
  std::unique_ptr<SolverDenseOutput> dense;
  if (problem_.after_step) {
    if (!hooks_.interpolate) {
      throw ConfigError("integrator '" + integrator_ +
                        "' has no dense output: OdeProblem::after_step is not available");
    }
    dense_work.reset(N_VClone(y_));
    dense = std::make_unique<SolverDenseOutput>(hooks_, dense_work.get(), integrator_);
    dense_ = dense.get();
  }
  // Fixed steps run one step per evolve call so that the last step of an interval can be set.
  const bool one_step = options_.record_steps || problem_.after_step != nullptr ||
                        (options_.fixed_step > 0.0 && hooks_.set_fixed_step);
  for (std::size_t index = 0; index < problem_.output_times.size(); ++index) {
    const double tout = problem_.output_times[index];
    if (tout != t_) {  // equal only for a first output time at t0
      AdvanceInterval(tout, one_step);
      t_ = tout;  // the solver returns exactly tout at a stop time
      CheckStateFinite(AsConstEigen(y_), t_, integrator_);
    }
    Jump(index, tout);
    Store(index);
  }
  dense_ = nullptr;
}

// In one-step mode every accepted step is taken here and the outputs inside it are interpolated:
// the Lotka–Volterra neural-ODE fit has 10 steps and 101 outputs, and an evolve call per output
// (ARK_NORMAL) costs ~5% of its solve in arkEvolve/arkStopTests. The values are the same
// interpolant either way, and each call passes the next output time as tout, as a normal-mode
// call would: the solvers' first-step estimates (arkHin, cvHin) depend on it.
void OutputLoop::RunInterpolating() {
  if (!hooks_.interpolate) {
    throw ConfigError("integrator '" + integrator_ +
                      "' has no dense output: integrator option interpolate_outputs is not "
                      "available (use stop times at the outputs)");
  }
  const double t_final = problem_.output_times.back();
  if (t_final > t_) SetStopTime(t_final);
  bool y_is_step_end = true;  // y holds the solver's state at t (not an interpolated value)
  for (std::size_t index = 0; index < problem_.output_times.size(); ++index) {
    const double tout = problem_.output_times[index];
    if (tout != problem_.t0) {  // equal only for a first output time at t0
      long steps_in_interval = 0;
      while (t_ < tout) {
        Advance(tout, true, steps_in_interval);
        y_is_step_end = true;
      }
      if (tout != t_ || !y_is_step_end) {
        CheckHookCall(hooks_, hooks_.interpolate_call, hooks_.interpolate(tout, y_), tout,
                      integrator_);
        y_is_step_end = false;
      }
      CheckStateFinite(AsConstEigen(y_), tout, integrator_);
    }
    Store(index);
  }
}

}  // namespace

void RunOutputLoop(const OdeProblem& problem, const IntegratorOptions& options,
                   const std::string& integrator, N_Vector y, const EvolveHooks& hooks,
                   CallbackData& data, const ErrorRecord& record, Trajectory& trajectory) {
  trajectory.times = problem.output_times;
  trajectory.stats = IntegratorStats();
  trajectory.step_times.clear();
  if (options.record_steps) trajectory.step_times.push_back(problem.t0);
  OutputLoop loop(problem, options, integrator, y, hooks, data, record, trajectory);
  if (!options.interpolate_outputs) {
    loop.RunStopTimes();
    return;
  }
  if (problem.at_output || problem.after_step) {
    throw ConfigError("integrator '" + integrator +
                      "': jumps at output times and step hooks (OdeProblem::at_output, "
                      "after_step) need stop times; switch integrator option interpolate_outputs "
                      "off");
  }
  loop.RunInterpolating();
}

void SetProblemTolerances(const OdeProblem& problem, const IntegratorOptions& options,
                          CallbackData& data, SolverFamily family, const std::string& context,
                          const std::function<int(double, double)>& set_scalar,
                          const std::function<int()>& set_weights) {
  const Index k = problem.error_test_size;
  const bool seminorm = k > 0 && k < problem.z0.size();
  const char* call = family == SolverFamily::kArkode
                         ? (seminorm ? "*WFtolerances" : "*SStolerances")
                         : (seminorm ? "CVodeWFtolerances" : "CVodeSStolerances");
  int flag = 0;
  if (seminorm) {
    data.ewt_rtol = options.rtol;
    data.ewt_atol = options.atol;
    data.ewt_size = k;
    flag = set_weights();
  } else {
    flag = set_scalar(options.rtol, options.atol);
  }
  if (family == SolverFamily::kArkode) {
    CheckArkode(flag, call, context);
  } else {
    CheckCvodes(flag, call, context);
  }
}

}  // namespace detail
}  // namespace snode
