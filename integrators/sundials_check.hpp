#pragma once
// Helpers of the SUNDIALS-based code (snode::detail): return-code checks that turn failures into
// SundialsError, RAII owners of solver memory, a recording error handler, and the output loop that
// SundialsStepper (integrators/sundials_stepper.hpp) runs for ERKStep, ARKStep and CVODES. Code
// that drives SUNDIALS itself (an adjoint's CVODES solve) may use them too. SUNDIALS package
// headers stay in the .cpp; this header only needs the generic types.
//
// SUNDIALS 6.4.1 quirks handled here:
//  - a stop time equal to tout makes ARK_NORMAL return 0 (not ARK_TSTOP_RETURN) and leaves the
//    stop time set, so the stop time is set before every evolve call and 0 and 1 both count as
//    success;
//  - *SetErrHandlerFn exists only before 7.0; the handler records, never prints or throws.

#include <sundials/sundials_nvector.h>

#include <functional>
#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/ode_problem.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/integrator.hpp"

struct ARKodeButcherTableMem;  // arkode/arkode_butcher.h

namespace snode {
namespace detail {

// The last error SUNDIALS reported through its error handler.
struct ErrorRecord {
  int code = 0;
  std::string function;
  std::string message;
  void Clear() {
    code = 0;
    function.clear();
    message.clear();
  }
};

// Matches ARKErrHandlerFn and CVErrHandlerFn. eh_data points at an ErrorRecord. Records errors
// (code < 0) and ignores warnings; never throws, never prints.
void RecordingErrorHandler(int error_code, const char* module, const char* function, char* msg,
                           void* eh_data) noexcept;

enum class SolverFamily { kArkode, kCvodes };

// The flag's name as SUNDIALS spells it ("ARK_TOO_MUCH_WORK", "CV_CONV_FAILURE", ...).
std::string FlagName(SolverFamily family, int flag);
// What to try for a failure flag (one short sentence, no trailing period).
std::string FlagRemedy(const std::string& flag_name);

// Throws SundialsError(call, flag, name, context) when flag < 0. context says where, e.g.
// "(integrator 'sdirk')". Used for set-up calls; evolve failures go through ThrowSolveFailure.
void CheckArkode(int flag, const char* call, const std::string& context);
void CheckCvodes(int flag, const char* call, const std::string& context);
// Throws SundialsError when a constructor-like call returned nullptr.
void CheckNotNull(const void* pointer, const char* call, const std::string& context);

// Turns a failed evolve call into an exception, in this order: the exception the field threw
// (rethrown unchanged); NumericalError if the field produced NaN/Inf (naming the integrator, the
// time and the message); otherwise SundialsError "CALL failed with FLAG (n) at t=T (integrator
// 'NAME'); REMEDY[; SUNDIALS: message]".
[[noreturn]] void ThrowSolveFailure(SolverFamily family, const char* call, int flag, double t,
                                    const std::string& integrator, CallbackData& data,
                                    const ErrorRecord& record);

// RAII owners of solver memory. ERKStep and ARKStep memory must be freed by their own functions.
struct ErkStepDeleter {
  void operator()(void* mem) const noexcept;
};
struct ArkStepDeleter {
  void operator()(void* mem) const noexcept;
};
struct CvodeDeleter {
  void operator()(void* mem) const noexcept;
};
using ErkStepMemPtr = std::unique_ptr<void, ErkStepDeleter>;
using ArkStepMemPtr = std::unique_ptr<void, ArkStepDeleter>;
using CvodeMemPtr = std::unique_ptr<void, CvodeDeleter>;

// An ARKODE copy of a tableau (ARKodeButcherTable_Create), freed by ARKodeButcherTable_Free.
struct ArkodeTableDeleter {
  void operator()(ARKodeButcherTableMem* table) const noexcept;
};
using ArkodeTablePtr = std::unique_ptr<ARKodeButcherTableMem, ArkodeTableDeleter>;
ArkodeTablePtr MakeArkodeTable(const ButcherTableau& tableau);

// What the shared output loop needs from one SUNDIALS stepper.
struct EvolveHooks {
  SolverFamily family = SolverFamily::kArkode;
  const char* set_stop_time_call = "";
  const char* evolve_call = "";
  std::function<int(double tstop)> set_stop_time;
  // The step size of a fixed-step solve (*SetFixedStep); empty for CVODES (no fixed steps). The
  // output loop shortens or stretches the last step of an output interval with it.
  const char* set_fixed_step_call = "";
  std::function<int(double h)> set_fixed_step;
  // Advances y toward tout; one_step selects ARK_ONE_STEP/CV_ONE_STEP. Returns the flag.
  std::function<int(double tout, N_Vector y, double* tret, bool one_step)> evolve;
  // The dense output at t (within the last step) into y (*GetDky with k = 0); empty when the
  // stepper has none, and then IntegratorOptions::interpolate_outputs is refused.
  const char* interpolate_call = "";
  std::function<int(double t, N_Vector y)> interpolate;
  // Restart from a changed state at t (OdeProblem::at_output): *Reset keeps the step size.
  const char* reset_call = "";
  std::function<int(double t, N_Vector y)> reset;
};

// Sets the solver's tolerances for this problem: scalar rtol/atol, or with
// problem.error_test_size in (0, n) error weights that leave the trailing components out
// (EwtTrampoline). set_scalar/set_weights wrap *SStolerances / *WFtolerances.
void SetProblemTolerances(const OdeProblem& problem, const IntegratorOptions& options,
                          CallbackData& data, SolverFamily family, const std::string& context,
                          const std::function<int(double, double)>& set_scalar,
                          const std::function<int()>& set_weights);

// Integrates from problem.t0 through problem.output_times. y holds z0 on entry (the solver has
// been (re)initialised from it) and is the solver's output vector. Every output time is a stop
// time, or with options.interpolate_outputs only the last one (the others come from
// hooks.interpolate). With options.record_steps or options.interpolate_outputs the stepper runs in
// one-step mode (with record_steps trajectory.step_times gets t0 and every accepted step end) and
// options.max_steps is counted here per output interval; otherwise the solver's own limit (set to
// max_steps) applies per evolve call = per interval. In stop-time mode problem.at_output runs at
// every output time (a changed state restarts the solver through hooks.reset) and
// problem.after_step after every accepted step (one-step mode, the dense output through
// hooks.interpolate). With options.fixed_step > 0 each output interval takes the steps of
// integrators/fixed_steps.hpp (FixedStepCount, counted before the work: more than
// options.max_steps is *_TOO_MUCH_WORK at the start of the interval), the stepper runs in
// one-step mode and the last step is set to end on the output time through hooks.set_fixed_step
// (then fixed_step again for the next interval). Fills trajectory.times and trajectory.states (only
// the last state with problem.store_all_states off) and clears trajectory.stats. Throws ConfigError
// for interpolate_outputs with at_output or after_step, or interpolate_outputs or after_step
// without hooks.interpolate; as ThrowSolveFailure; and NumericalError if a state at an output time
// is not finite (an unstable explicit method).
void RunOutputLoop(const OdeProblem& problem, const IntegratorOptions& options,
                   const std::string& integrator, N_Vector y, const EvolveHooks& hooks,
                   CallbackData& data, const ErrorRecord& record, Trajectory& trajectory);

// NumericalError "integrator 'NAME': the state became NaN or Inf at t=T; ..." when z is not finite.
[[noreturn]] void ThrowStateNotFinite(double t, const std::string& integrator);
// Runs at every output time: the finite check inline, the error out of line.
inline void CheckStateFinite(ConstVectorRef z, double t, const std::string& integrator) {
  if (!AllFinite(z)) ThrowStateNotFinite(t, integrator);
}

}  // namespace detail
}  // namespace snode
