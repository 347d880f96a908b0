#include "integrators/arkode_dirk_integrator.hpp"

#include <cstdio>
// clang-format off
#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_butcher_dirk.h>
#include <arkode/arkode_butcher_erk.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
// clang-format on

#include <chrono>
#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {
std::string Where(const std::string& name) { return "(integrator '" + name + "')"; }
}  // namespace

ArkodeDirkIntegrator::ArkodeDirkIntegrator(std::string name, IntegratorOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  where_ = Where(name_);
  Require(name_ == "backward_euler" || name_ == "sdirk",
          "ArkodeDirkIntegrator: unknown method '" + name_ + "'; known: backward_euler, sdirk");
  options_.Validate();
  Require(name_ == "sdirk" || options_.fixed_step > 0.0,
          "integrator '" + name_ +
              "' has no error estimator and needs options.fixed_step > 0 (use sdirk for adaptive "
              "steps)");
}

void ArkodeDirkIntegrator::Create(const OdeProblem& problem) {
  const std::string& where = where_;
  mem_.reset();
  linear_solver_.reset();
  matrix_.reset();
  y_.reset();
  context_ = std::make_unique<snode::Context>();
  const sunindextype n = static_cast<sunindextype>(problem.z0.size());
  y_ = MakeNVector(problem.z0, *context_);
  // Purely implicit: fe = nullptr, fi = f.
  mem_.reset(ARKStepCreate(nullptr, RhsTrampoline, problem.t0, y_.get(), *context_));
  detail::CheckNotNull(mem_.get(), "ARKStepCreate", where);
  void* mem = mem_.get();
  detail::CheckArkode(ARKStepSetErrHandlerFn(mem, detail::RecordingErrorHandler, &error_record_),
                      "ARKStepSetErrHandlerFn", where);
  detail::CheckArkode(ARKStepSetUserData(mem, &callback_data_), "ARKStepSetUserData", where);
  if (name_ == "sdirk") {
    detail::CheckArkode(ARKStepSetTableNum(mem, ARKODE_ESDIRK43I6L2SA_6_3_4, ARKODE_ERK_NONE),
                        "ARKStepSetTableNum", where);
    // Newton errors of the default size (0.1 of the tolerance) leak into the embedded error
    // estimate on stiff problems and cost rejected steps: on Robertson to t = 1e5 at rtol 1e-7
    // this table takes 484 steps with 0.1 and 328 with 1e-3 (ARKODE's ark_robertson example uses
    // 1e-7; ARKODE_SDIRK_5_3_4 fails there with ARK_ERR_FAILURE at every coefficient we tried).
    detail::CheckArkode(ARKStepSetNonlinConvCoef(mem, 1e-3), "ARKStepSetNonlinConvCoef", where);
  } else {
    // No backward-Euler table before SUNDIALS 7.1: build it (ARKStepSetTables copies it).
    const detail::ArkodeTablePtr table = detail::MakeArkodeTable(ImplicitTableau(name_));
    detail::CheckArkode(ARKStepSetTables(mem, 1, 0, table.get(), nullptr), "ARKStepSetTables",
                        where);
    // 6.4.1 caps the Hermite interpolant of a first-order method at degree 0 (the average of the
    // last two states) and returns it at stop times; Lagrange degree 0 is y_n exactly (notes §3).
    detail::CheckArkode(ARKStepSetInterpolantType(mem, ARK_INTERP_LAGRANGE),
                        "ARKStepSetInterpolantType", where);
  }
  detail::CheckArkode(ARKStepSStolerances(mem, options_.rtol, options_.atol), "ARKStepSStolerances",
                      where);
  detail::CheckArkode(ARKStepSetMaxNumSteps(mem, options_.max_steps), "ARKStepSetMaxNumSteps",
                      where);
  if (options_.fixed_step > 0.0) {
    detail::CheckArkode(ARKStepSetFixedStep(mem, options_.fixed_step), "ARKStepSetFixedStep",
                        where);
  } else if (options_.initial_step > 0.0) {
    detail::CheckArkode(ARKStepSetInitStep(mem, options_.initial_step), "ARKStepSetInitStep",
                        where);
  }
  if (options_.max_step > 0.0) {
    detail::CheckArkode(ARKStepSetMaxStep(mem, options_.max_step), "ARKStepSetMaxStep", where);
  }
  if (options_.linear_solver == "dense") {
    matrix_.reset(SUNDenseMatrix(n, n, *context_));
    detail::CheckNotNull(matrix_.get(), "SUNDenseMatrix", where);
    linear_solver_.reset(SUNLinSol_Dense(y_.get(), matrix_.get(), *context_));
    detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_Dense", where);
    detail::CheckArkode(ARKStepSetLinearSolver(mem, linear_solver_.get(), matrix_.get()),
                        "ARKStepSetLinearSolver", where);
    // ARKODE forms I − γJ itself; the callback fills ∂f/∂z.
    detail::CheckArkode(ARKStepSetJacFn(mem, DenseJacobianTrampoline), "ARKStepSetJacFn", where);
    // Refresh J and I − γJ every step. With ARKODE 6.4.1's default (every 20 steps, or when γ
    // moves by 20%) the dense Newton path of the adaptive ESDIRK stalls at a wrong stage value:
    // on z' = Az (3×3) at rtol 1e-10 the error was 5e-6 (1e-8: 3e-5) while GMRES, which always
    // uses the current γ, reached 2.5e-11. Every step it is 2.2e-11. For the small dense systems
    // this path serves, one more factorisation per step is cheap next to a wrong answer.
    detail::CheckArkode(ARKStepSetLSetupFrequency(mem, 1), "ARKStepSetLSetupFrequency", where);
  } else {
    linear_solver_.reset(
        SUNLinSol_SPGMR(y_.get(), SUN_PREC_NONE, options_.krylov_max_dim, *context_));
    detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_SPGMR", where);
    detail::CheckArkode(ARKStepSetLinearSolver(mem, linear_solver_.get(), nullptr),
                        "ARKStepSetLinearSolver", where);
    detail::CheckArkode(ARKStepSetJacTimes(mem, nullptr, JacTimesTrampoline), "ARKStepSetJacTimes",
                        where);
  }
  // With a fixed step a Newton failure is fatal (h cannot shrink), and the default of 3
  // iterations is too strict at tight tolerances (notes §3).
  detail::CheckArkode(ARKStepSetMaxNonlinIters(mem, options_.max_nonlinear_iters),
                      "ARKStepSetMaxNonlinIters", where);
  error_test_size_ = 0;  // scalar tolerances were just set
  state_size_ = problem.z0.size();
}

Trajectory ArkodeDirkIntegrator::Solve(const OdeProblem& problem) {
  Trajectory trajectory;
  SolveInto(problem, trajectory);
  return trajectory;
}

void ArkodeDirkIntegrator::SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
  const auto start = std::chrono::steady_clock::now();
  options_.Validate();
  problem.Validate();
  callback_data_.Bind(problem.field.get(), &problem.theta);
  error_record_.Clear();
  const std::string& where = where_;

  if (!mem_ || state_size_ != problem.z0.size()) {
    Create(problem);
  } else {
    AsEigen(y_.get()) = problem.z0;
    // ReInit keeps the tables, tolerances, fixed step and the attached linear solver and resets
    // counters and step history, so a reused object reproduces a fresh one.
    detail::CheckArkode(ARKStepReInit(mem_.get(), nullptr, RhsTrampoline, problem.t0, y_.get()),
                        "ARKStepReInit", where);
  }

  void* mem = mem_.get();
  detail::EvolveHooks hooks;
  hooks.family = detail::SolverFamily::kArkode;
  hooks.set_stop_time_call = "ARKStepSetStopTime";
  hooks.evolve_call = "ARKStepEvolve";
  hooks.set_stop_time = [mem](double tstop) { return ARKStepSetStopTime(mem, tstop); };
  hooks.evolve = [mem](double tout, N_Vector y, double* tret, bool one_step) {
    return ARKStepEvolve(mem, tout, y, tret, one_step ? ARK_ONE_STEP : ARK_NORMAL);
  };
  if (name_ == "sdirk") {  // backward_euler's degree-0 dense output is no interpolant (notes §3)
    hooks.interpolate_call = "ARKStepGetDky";
    hooks.interpolate = [mem](double t, N_Vector y) { return ARKStepGetDky(mem, t, 0, y); };
  }
  hooks.reset_call = "ARKStepReset";
  hooks.reset = [mem](double t, N_Vector y) { return ARKStepReset(mem, t, y); };
  // Created and re-initialised solvers keep their tolerances: set them only when the error
  // test changes (a seminorm problem after a plain one, or back).
  if (problem.error_test_size != error_test_size_) {
    detail::SetProblemTolerances(
        problem, options_, callback_data_, detail::SolverFamily::kArkode, where,
        [mem](double rtol, double atol) { return ARKStepSStolerances(mem, rtol, atol); },
        [mem] { return ARKStepWFtolerances(mem, EwtTrampoline); });
    error_test_size_ = problem.error_test_size;
  }
  detail::RunOutputLoop(problem, options_, name_, y_.get(), hooks, callback_data_, error_record_,
                        trajectory);

  long steps = 0, attempts = 0, nonlinear_iters = 0, nonlinear_fails = 0, linear_iters = 0;
  detail::CheckArkode(ARKStepGetNumSteps(mem, &steps), "ARKStepGetNumSteps", where);
  detail::CheckArkode(ARKStepGetNumStepAttempts(mem, &attempts), "ARKStepGetNumStepAttempts",
                      where);
  detail::CheckArkode(ARKStepGetNonlinSolvStats(mem, &nonlinear_iters, &nonlinear_fails),
                      "ARKStepGetNonlinSolvStats", where);
  detail::CheckArkode(ARKStepGetNumLinIters(mem, &linear_iters), "ARKStepGetNumLinIters", where);
  IntegratorStats& stats = trajectory.stats;
  stats.steps = steps;
  detail::CheckArkode(ARKStepGetActualInitStep(mem, &stats.first_step), "ARKStepGetActualInitStep",
                      where);
  stats.rejected_steps = attempts - steps;  // error-test and Newton failures
  stats.rhs_evals = callback_data_.rhs_evals;
  stats.jvp_evals = callback_data_.jvp_evals;
  stats.jacobian_evals = callback_data_.jacobian_evals;
  stats.linear_iters = linear_iters;
  stats.nonlinear_iters = nonlinear_iters;
  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace snode
