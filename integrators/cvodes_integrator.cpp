#include "integrators/cvodes_integrator.hpp"

// clang-format off
#include <cvodes/cvodes.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>
// clang-format on

#include <chrono>
#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {
std::string Where(const std::string& name) { return "(integrator '" + name + "')"; }
}  // namespace

CvodesIntegrator::CvodesIntegrator(std::string name, IntegratorOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  where_ = Where(name_);
  Require(name_ == "cvodes_bdf" || name_ == "cvodes_adams",
          "CvodesIntegrator: unknown method '" + name_ + "'; known: cvodes_adams, cvodes_bdf");
  options_.Validate();
  Require(options_.fixed_step == 0.0,
          "integrator '" + name_ +
              "' is adaptive only (CVODES has no fixed-step mode); unset fixed_step or use "
              "another integrator");
}

void CvodesIntegrator::Create(const OdeProblem& problem) {
  const std::string& where = where_;
  mem_.reset();
  nonlinear_solver_.reset();
  linear_solver_.reset();
  matrix_.reset();
  y_.reset();
  context_ = std::make_unique<snode::Context>();
  const sunindextype n = static_cast<sunindextype>(problem.z0.size());
  y_ = MakeNVector(problem.z0, *context_);
  const bool bdf = name_ == "cvodes_bdf";
  mem_.reset(CVodeCreate(bdf ? CV_BDF : CV_ADAMS, *context_));
  detail::CheckNotNull(mem_.get(), "CVodeCreate", where);
  void* mem = mem_.get();
  detail::CheckCvodes(CVodeSetErrHandlerFn(mem, detail::RecordingErrorHandler, &error_record_),
                      "CVodeSetErrHandlerFn", where);
  detail::CheckCvodes(CVodeInit(mem, RhsTrampoline, problem.t0, y_.get()), "CVodeInit", where);
  detail::CheckCvodes(CVodeSetUserData(mem, &callback_data_), "CVodeSetUserData", where);
  detail::CheckCvodes(CVodeSStolerances(mem, options_.rtol, options_.atol), "CVodeSStolerances",
                      where);
  detail::CheckCvodes(CVodeSetMaxNumSteps(mem, options_.max_steps), "CVodeSetMaxNumSteps", where);
  if (options_.initial_step > 0.0) {
    detail::CheckCvodes(CVodeSetInitStep(mem, options_.initial_step), "CVodeSetInitStep", where);
  }
  if (options_.max_step > 0.0) {
    detail::CheckCvodes(CVodeSetMaxStep(mem, options_.max_step), "CVodeSetMaxStep", where);
  }
  if (bdf) {
    if (options_.linear_solver == "dense") {
      matrix_.reset(SUNDenseMatrix(n, n, *context_));
      detail::CheckNotNull(matrix_.get(), "SUNDenseMatrix", where);
      linear_solver_.reset(SUNLinSol_Dense(y_.get(), matrix_.get(), *context_));
      detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_Dense", where);
      detail::CheckCvodes(CVodeSetLinearSolver(mem, linear_solver_.get(), matrix_.get()),
                          "CVodeSetLinearSolver", where);
      detail::CheckCvodes(CVodeSetJacFn(mem, DenseJacobianTrampoline), "CVodeSetJacFn", where);
    } else {
      linear_solver_.reset(
          SUNLinSol_SPGMR(y_.get(), SUN_PREC_NONE, options_.krylov_max_dim, *context_));
      detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_SPGMR", where);
      detail::CheckCvodes(CVodeSetLinearSolver(mem, linear_solver_.get(), nullptr),
                          "CVodeSetLinearSolver", where);
      detail::CheckCvodes(CVodeSetJacTimes(mem, nullptr, JacTimesTrampoline), "CVodeSetJacTimes",
                          where);
    }
  } else {
    // Adams for non-stiff problems: fixed-point iteration needs neither J nor JVPs.
    nonlinear_solver_.reset(SUNNonlinSol_FixedPoint(y_.get(), 0, *context_));
    detail::CheckNotNull(nonlinear_solver_.get(), "SUNNonlinSol_FixedPoint", where);
    detail::CheckCvodes(CVodeSetNonlinearSolver(mem, nonlinear_solver_.get()),
                        "CVodeSetNonlinearSolver", where);
  }
  detail::CheckCvodes(CVodeSetMaxNonlinIters(mem, options_.max_nonlinear_iters),
                      "CVodeSetMaxNonlinIters", where);
  error_test_size_ = 0;  // scalar tolerances were just set
  state_size_ = problem.z0.size();
}

Trajectory CvodesIntegrator::Solve(const OdeProblem& problem) {
  Trajectory trajectory;
  SolveInto(problem, trajectory);
  return trajectory;
}

void CvodesIntegrator::SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
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
    detail::CheckCvodes(CVodeReInit(mem_.get(), problem.t0, y_.get()), "CVodeReInit", where);
  }

  void* mem = mem_.get();
  detail::EvolveHooks hooks;
  hooks.family = detail::SolverFamily::kCvodes;
  hooks.set_stop_time_call = "CVodeSetStopTime";
  hooks.evolve_call = "CVode";
  hooks.set_stop_time = [mem](double tstop) { return CVodeSetStopTime(mem, tstop); };
  hooks.evolve = [mem](double tout, N_Vector y, double* tret, bool one_step) {
    return CVode(mem, tout, y, tret, one_step ? CV_ONE_STEP : CV_NORMAL);
  };
  hooks.interpolate_call = "CVodeGetDky";
  hooks.interpolate = [mem](double t, N_Vector y) { return CVodeGetDky(mem, t, 0, y); };
  hooks.reset_call = "CVodeReInit";
  hooks.reset = [mem](double t, N_Vector y) { return CVodeReInit(mem, t, y); };
  // Created and re-initialised solvers keep their tolerances: set them only when the error
  // test changes (a seminorm problem after a plain one, or back).
  if (problem.error_test_size != error_test_size_) {
    detail::SetProblemTolerances(
        problem, options_, callback_data_, detail::SolverFamily::kCvodes, where,
        [mem](double rtol, double atol) { return CVodeSStolerances(mem, rtol, atol); },
        [mem] { return CVodeWFtolerances(mem, EwtTrampoline); });
    error_test_size_ = problem.error_test_size;
  }
  detail::RunOutputLoop(problem, options_, name_, y_.get(), hooks, callback_data_, error_record_,
                        trajectory);

  long steps = 0, error_test_fails = 0, nonlinear_iters = 0, nonlinear_fails = 0;
  detail::CheckCvodes(CVodeGetNumSteps(mem, &steps), "CVodeGetNumSteps", where);
  detail::CheckCvodes(CVodeGetNumErrTestFails(mem, &error_test_fails), "CVodeGetNumErrTestFails",
                      where);
  detail::CheckCvodes(CVodeGetNonlinSolvStats(mem, &nonlinear_iters, &nonlinear_fails),
                      "CVodeGetNonlinSolvStats", where);
  IntegratorStats& stats = trajectory.stats;
  if (linear_solver_) {
    long linear_iters = 0;
    detail::CheckCvodes(CVodeGetNumLinIters(mem, &linear_iters), "CVodeGetNumLinIters", where);
    stats.linear_iters = linear_iters;
  }
  stats.steps = steps;
  detail::CheckCvodes(CVodeGetActualInitStep(mem, &stats.first_step), "CVodeGetActualInitStep",
                      where);
  stats.rejected_steps = error_test_fails + nonlinear_fails;
  stats.rhs_evals = callback_data_.rhs_evals;
  stats.jvp_evals = callback_data_.jvp_evals;
  stats.jacobian_evals = callback_data_.jacobian_evals;
  stats.nonlinear_iters = nonlinear_iters;
  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace snode
