#pragma once
// SundialsStepper: the base of the integrators built on a SUNDIALS stepper (ERKStep, ARKStep,
// CVODES). It holds everything that does not depend on the method:
//  - the SUNContext, the state N_Vector, the optional matrix and linear/nonlinear solvers and the
//    solver memory, owned in creation order (destroyed in reverse: solver memory first, context
//    last);
//  - create on the first Solve, re-initialise (*ReInit) on later ones with the same state size
//    (a re-initialised solver keeps its options and resets its counters and step history, so a
//    reused object reproduces a fresh one), recreate when the state size changes;
//  - the options every stepper takes (error handler, user data, tolerances, max_steps,
//    fixed_step / initial_step, max_step), the seminorm error weights of
//    OdeProblem::error_test_size, the dense or GMRES linear solver of implicit methods;
//  - the output loop (detail::RunOutputLoop: stop times or interpolated outputs, at_output jumps,
//    after_step, record_steps, NaN checks, error mapping) and the statistics.
// A derived integrator names its C entry points in a StepperApi table and implements only what
// is specific to its method (the tableau, the linear solver set-up, BDF or Adams) through the
// protected virtual functions below.
//
// The object holds pointers to itself inside SUNDIALS (user data, hooks), so it is neither
// copyable nor movable. Not thread-safe: one object per thread.

#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_matrix.h>
#include <sundials/sundials_nonlinearsolver.h>
#include <sundials/sundials_nvector.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "integrators/krylov_solver.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

// A C entry point with its name for error messages.
template <class Function>
struct NamedCall {
  Function function = nullptr;
  const char* name = "";
};
// {&ERKStepSetStopTime, "ERKStepSetStopTime"}
#define SNODE_NAMED_CALL(function) \
  { &function, #function }

// The entry points of one SUNDIALS stepper that SundialsStepper calls. ERKStep, ARKStep and
// CVODES spell them differently with identical signatures. Entries a stepper lacks stay empty
// (ERKStep has no linear solver; CVODES no fixed step) and are never called for it.
struct StepperApi {
  using ErrorHandlerFn = void (*)(int, const char*, const char*, char*, void*);
  using EwtFn = int (*)(N_Vector, N_Vector, void*);
  using JacFn = int (*)(sunrealtype, N_Vector, N_Vector, SUNMatrix, void*, N_Vector, N_Vector,
                        N_Vector);
  using JacTimesSetupFn = int (*)(sunrealtype, N_Vector, N_Vector, void*);
  using JacTimesVecFn = int (*)(N_Vector, N_Vector, sunrealtype, N_Vector, N_Vector, void*,
                                N_Vector);
  using PrecSetupFn = int (*)(sunrealtype, N_Vector, N_Vector, sunbooleantype, sunbooleantype*,
                              sunrealtype, void*);
  using PrecSolveFn = int (*)(sunrealtype, N_Vector, N_Vector, N_Vector, N_Vector, sunrealtype,
                              sunrealtype, int, void*);

  detail::SolverFamily family = detail::SolverFamily::kArkode;
  int one_step_task = 0;  // ARK_ONE_STEP / CV_ONE_STEP
  int normal_task = 0;    // ARK_NORMAL / CV_NORMAL
  void (*free_memory)(void**) = nullptr;
  NamedCall<int (*)(void*, ErrorHandlerFn, void*)> set_error_handler;
  NamedCall<int (*)(void*, void*)> set_user_data;
  NamedCall<int (*)(void*, sunrealtype, sunrealtype)> scalar_tolerances;
  NamedCall<int (*)(void*, EwtFn)> weight_function;
  NamedCall<int (*)(void*, long)> set_max_num_steps;
  NamedCall<int (*)(void*, sunrealtype)> set_fixed_step;
  NamedCall<int (*)(void*, sunrealtype)> set_init_step;
  NamedCall<int (*)(void*, sunrealtype)> set_max_step;
  NamedCall<int (*)(void*, sunrealtype)> set_stop_time;
  NamedCall<int (*)(void*, sunrealtype, N_Vector, sunrealtype*, int)> evolve;
  NamedCall<int (*)(void*, sunrealtype, int, N_Vector)> get_dky;
  NamedCall<int (*)(void*, sunrealtype, N_Vector)> reset;  // keeps the step size
  NamedCall<int (*)(void*, long*)> get_num_steps;
  NamedCall<int (*)(void*, sunrealtype*)> get_actual_init_step;
  NamedCall<int (*)(void*, SUNLinearSolver, SUNMatrix)> set_linear_solver;
  NamedCall<int (*)(void*, JacFn)> set_jac_fn;
  NamedCall<int (*)(void*, JacTimesSetupFn, JacTimesVecFn)> set_jac_times;
  NamedCall<int (*)(void*, PrecSetupFn, PrecSolveFn)> set_preconditioner;
  NamedCall<int (*)(void*, sunindextype, sunindextype, sunindextype)> band_prec_init;
  NamedCall<int (*)(void*, long*)> get_num_prec_evals;
  NamedCall<int (*)(void*, long*)> get_num_prec_solves;
};

class SundialsStepper : public Integrator {
 public:
  SundialsStepper(const SundialsStepper&) = delete;
  SundialsStepper& operator=(const SundialsStepper&) = delete;

  std::string name() const final { return name_; }
  const IntegratorOptions& options() const final { return options_; }
  Trajectory Solve(const OdeProblem& problem) final;
  void SolveInto(const OdeProblem& problem, Trajectory& trajectory) final;
  // What every SUNDIALS stepper honours: output jumps, recorded steps and, with a dense output
  // (HasDenseOutput()), the step hook and interpolated outputs. The derived classes call this and
  // declare the method itself (kind, order, error estimate, tableau, dense output order, ...),
  // clearing interpolated_outputs for a method that needs a fixed step.
  IntegratorCapabilities Capabilities() const override;

 protected:
  // Throws ConfigError "<kind>: unknown method 'NAME'; known: a, b" when name is not one of
  // methods (listed sorted), then validates options.
  SundialsStepper(std::string name, IntegratorOptions options, const StepperApi& api,
                  const char* kind, std::initializer_list<const char*> methods);
  ~SundialsStepper() override = default;

  // The solver's user data (a CallbackData or a type derived from it), owned by the derived class.
  virtual CallbackData& callback_data() = 0;
  // Creates the solver memory for problem.t0 and y (*Create); throws if it returned null.
  virtual void* NewMemory(const OdeProblem& problem, N_Vector y) = 0;
  // Method-specific set-up right after creation, with y holding z0 (the error handler and user
  // data are set; the common options follow): initialisation, tables, interpolant, linear and
  // nonlinear solvers.
  virtual void ConfigureMethod(const OdeProblem& problem, N_Vector y) = 0;
  // *ReInit from problem.t0 and y (which holds z0).
  virtual void ReInitMemory(const OdeProblem& problem, N_Vector y) = 0;
  // Called before every output loop, after the tolerances are set (dopri5's first step).
  virtual void BeforeOutputLoop(const OdeProblem& /*problem*/) {}
  // Whether the solver's dense output (*GetDky) interpolates: interpolate_outputs and after_step
  // need it.
  virtual bool HasDenseOutput() const { return true; }
  // rejected_steps and the linear and nonlinear iteration counts of the last solve.
  virtual void ReadMethodStats(IntegratorStats& stats) = 0;

  // Throws SundialsError naming the call, the flag and the integrator when flag < 0.
  void Check(int flag, const char* call) const;
  // "(integrator 'NAME')", for messages.
  const std::string& where() const { return where_; }
  void* memory() const { return memory_.get(); }
  SUNContext context() const { return *context_; }
  // options.linear_solver "dense": a dense matrix and direct solver with the field's
  // DenseJacobian (ConfigError above kMaxDenseNewtonStates states, before allocating); "gmres" /
  // "fgmres": matrix-free SPGMR / SPFGMR (Krylov dimension options.krylov_max_dim) with its Jvp,
  // preconditioned per solve as options.preconditioner says (integrators/krylov_solver.hpp).
  // Call from ConfigureMethod.
  void AttachLinearSolver();
  bool HasLinearSolver() const { return linear_solver_ != nullptr; }
  // Takes ownership of a nonlinear solver (freed after the solver memory); throws if null.
  SUNNonlinearSolver AdoptNonlinearSolver(SUNNonlinearSolver solver, const char* call);

 private:
  struct MemoryDeleter {
    void (*free_memory)(void**) = nullptr;
    void operator()(void* memory) const noexcept;
  };

  void Create(const OdeProblem& problem);
  void SetCommonOptions();
  void BuildHooks();
  // Sets the tolerances when the problem's error_test_size differs from the last solve's.
  void SetTolerancesFor(const OdeProblem& problem);
  void ReadStats(IntegratorStats& stats);
  // Attaches the preconditioner of this solve's field (after Create or ReInit).
  void AttachPreconditioner(detail::PreconditionerPlan plan);

  std::string name_;
  std::string where_;
  std::string label_;  // "integrator 'NAME'", built once (a solve allocates no message)
  IntegratorOptions options_;
  const StepperApi& api_;
  detail::ErrorRecord error_record_;
  detail::EvolveHooks hooks_;
  Index state_size_ = 0;
  Index error_test_size_ = 0;  // the problem's error_test_size the tolerances are set for
  Index band_ = -1;  // ApplyPreconditionerPlan: half-bandwidth of the band one, −2 trampolines
  std::unique_ptr<Preconditioner> preconditioner_;  // the field's, for this solve
  // Declared in creation order: destroyed solver memory first, context last.
  std::unique_ptr<Context> context_;
  NVectorPtr y_;
  SunMatrixPtr matrix_;
  SunLinearSolverPtr linear_solver_;
  SunNonlinearSolverPtr nonlinear_solver_;
  std::unique_ptr<void, MemoryDeleter> memory_;
};

}  // namespace snode
