#include "integrators/sundials_stepper.hpp"

// clang-format off
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunmatrix/sunmatrix_dense.h>
// clang-format on

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {

std::string KnownMethods(std::initializer_list<const char*> methods) {
  std::string known;
  for (const char* method : methods) known += (known.empty() ? "" : ", ") + std::string(method);
  return known;
}

}  // namespace

void SundialsStepper::MemoryDeleter::operator()(void* memory) const noexcept {
  if (memory != nullptr) free_memory(&memory);
}

SundialsStepper::SundialsStepper(std::string name, IntegratorOptions options, const StepperApi& api,
                                 const char* kind, std::initializer_list<const char*> methods)
    : name_(std::move(name)),
      where_("(integrator '" + name_ + "')"),
      label_("integrator '" + name_ + "'"),
      options_(std::move(options)),
      api_(api),
      memory_(nullptr, MemoryDeleter{api.free_memory}) {
  const bool known = std::any_of(methods.begin(), methods.end(),
                                 [&](const char* method) { return name_ == method; });
  Require(known, [&] {
    return std::string(kind) + ": unknown method '" + name_ + "'; known: " + KnownMethods(methods);
  });
  options_.Validate();
}

void SundialsStepper::Check(int flag, const char* call) const {
  if (api_.family == detail::SolverFamily::kArkode) {
    detail::CheckArkode(flag, call, where_);
  } else {
    detail::CheckCvodes(flag, call, where_);
  }
}

void SundialsStepper::Create(const OdeProblem& problem) {
  memory_.reset();
  nonlinear_solver_.reset();
  linear_solver_.reset();
  matrix_.reset();
  y_.reset();
  context_ = std::make_unique<Context>();
  y_ = MakeNVector(problem.z0, *context_);
  memory_.reset(NewMemory(problem, y_.get()));
  void* mem = memory_.get();
  Check(api_.set_error_handler.function(mem, detail::RecordingErrorHandler, &error_record_),
        api_.set_error_handler.name);
  Check(api_.set_user_data.function(mem, &callback_data()), api_.set_user_data.name);
  ConfigureMethod(problem, y_.get());
  SetCommonOptions();
  BuildHooks();
  error_test_size_ = 0;  // scalar tolerances were just set
  band_ = -1;
  state_size_ = problem.z0.size();
}

void SundialsStepper::SetCommonOptions() {
  void* mem = memory_.get();
  Check(api_.scalar_tolerances.function(mem, options_.rtol, options_.atol),
        api_.scalar_tolerances.name);
  Check(api_.set_max_num_steps.function(mem, options_.max_steps), api_.set_max_num_steps.name);
  // CVODES refuses fixed_step in its constructor, so set_fixed_step is only called on ARKODE.
  if (options_.fixed_step > 0.0) {
    Check(api_.set_fixed_step.function(mem, options_.fixed_step), api_.set_fixed_step.name);
  } else if (options_.initial_step > 0.0) {
    Check(api_.set_init_step.function(mem, options_.initial_step), api_.set_init_step.name);
  }
  if (options_.max_step > 0.0) {
    Check(api_.set_max_step.function(mem, options_.max_step), api_.set_max_step.name);
  }
}

// The hooks capture only `this` (stored in std::function without allocating) and read the solver
// memory at each call.
void SundialsStepper::BuildHooks() {
  hooks_.family = api_.family;
  hooks_.set_stop_time_call = api_.set_stop_time.name;
  hooks_.set_stop_time = [this](double tstop) {
    return api_.set_stop_time.function(memory_.get(), tstop);
  };
  hooks_.set_fixed_step_call = api_.set_fixed_step.name;
  hooks_.set_fixed_step = nullptr;
  if (api_.set_fixed_step.function != nullptr) {
    hooks_.set_fixed_step = [this](double h) {
      return api_.set_fixed_step.function(memory_.get(), h);
    };
  }
  hooks_.evolve_call = api_.evolve.name;
  hooks_.evolve = [this](double tout, N_Vector y, double* tret, bool one_step) {
    return api_.evolve.function(memory_.get(), tout, y, tret,
                                one_step ? api_.one_step_task : api_.normal_task);
  };
  hooks_.interpolate_call = api_.get_dky.name;
  hooks_.interpolate = nullptr;
  if (HasDenseOutput()) {
    hooks_.interpolate = [this](double t, N_Vector y) {
      return api_.get_dky.function(memory_.get(), t, 0, y);
    };
  }
  hooks_.reset_call = api_.reset.name;
  hooks_.reset = [this](double t, N_Vector y) { return api_.reset.function(memory_.get(), t, y); };
}

IntegratorCapabilities SundialsStepper::Capabilities() const {
  IntegratorCapabilities capabilities;
  capabilities.output_jumps = true;
  capabilities.records_steps = true;
  capabilities.step_hook = HasDenseOutput();
  capabilities.interpolated_outputs = HasDenseOutput();
  return capabilities;
}

void SundialsStepper::AttachLinearSolver() {
  void* mem = memory_.get();
  if (options_.DenseLinearSolver()) {
    const sunindextype n = N_VGetLength(y_.get());
    CheckDenseNewtonSize(n, label_);
    matrix_.reset(SUNDenseMatrix(n, n, *context_));
    detail::CheckNotNull(matrix_.get(), "SUNDenseMatrix", where_);
    linear_solver_.reset(SUNLinSol_Dense(y_.get(), matrix_.get(), *context_));
    detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_Dense", where_);
    Check(api_.set_linear_solver.function(mem, linear_solver_.get(), matrix_.get()),
          api_.set_linear_solver.name);
    // The solver forms I − γJ itself; the callback fills ∂f/∂z.
    Check(api_.set_jac_fn.function(mem, DenseJacobianTrampoline), api_.set_jac_fn.name);
  } else {
    linear_solver_.reset(detail::NewKrylovSolver(options_, y_.get(), *context_));
    detail::CheckNotNull(linear_solver_.get(), "SUNLinSol_SPGMR", where_);
    Check(api_.set_linear_solver.function(mem, linear_solver_.get(), nullptr),
          api_.set_linear_solver.name);
    Check(api_.set_jac_times.function(mem, nullptr, JacTimesTrampoline), api_.set_jac_times.name);
  }
}

SUNNonlinearSolver SundialsStepper::AdoptNonlinearSolver(SUNNonlinearSolver solver,
                                                         const char* call) {
  nonlinear_solver_.reset(solver);
  detail::CheckNotNull(solver, call, where_);
  return solver;
}

void SundialsStepper::SetTolerancesFor(const OdeProblem& problem) {
  // Created and re-initialised solvers keep their tolerances: set them only when the error
  // test changes (a seminorm problem after a plain one, or back).
  if (problem.error_test_size == error_test_size_) return;
  detail::SetProblemTolerances(
      problem, options_, callback_data(), api_.family, where_,
      [this](double rtol, double atol) {
        return api_.scalar_tolerances.function(memory_.get(), rtol, atol);
      },
      [this] { return api_.weight_function.function(memory_.get(), EwtTrampoline); });
  error_test_size_ = problem.error_test_size;
}

Trajectory SundialsStepper::Solve(const OdeProblem& problem) {
  Trajectory trajectory;
  SolveInto(problem, trajectory);
  return trajectory;
}

void SundialsStepper::SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
  const auto start = std::chrono::steady_clock::now();
  options_.Validate();
  problem.Validate();
  CallbackData& data = callback_data();
  data.Bind(problem.field.get(), &problem.theta);
  data.preconditioner = nullptr;
  preconditioner_.reset();
  error_record_.Clear();
  // Resolved before any work, so a bad preconditioner option fails first.
  detail::PreconditionerPlan plan =
      detail::PlanPreconditioner(options_, *problem.field, PreconditionerSide::kForward, label_);
  if (!memory_ || state_size_ != problem.z0.size()) {
    Create(problem);
  } else {
    AsEigen(y_.get()) = problem.z0;
    ReInitMemory(problem, y_.get());
  }
  AttachPreconditioner(std::move(plan));
  SetTolerancesFor(problem);
  BeforeOutputLoop(problem);
  detail::RunOutputLoop(problem, options_, name_, y_.get(), hooks_, data, error_record_,
                        trajectory);
  ReadStats(trajectory.stats);
  trajectory.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void SundialsStepper::AttachPreconditioner(detail::PreconditionerPlan plan) {
  if (!linear_solver_ || options_.DenseLinearSolver()) return;
  void* mem = memory_.get();
  detail::ApplyPreconditionerPlan(
      plan, linear_solver_.get(), options_, &band_,
      [this](int flag, const char* call) { Check(flag, call); },
      [&](Index half_bandwidth) {
        Check(api_.band_prec_init.function(mem, N_VGetLength(y_.get()), half_bandwidth,
                                           half_bandwidth),
              api_.band_prec_init.name);
      },
      [&] {
        Check(api_.set_preconditioner.function(mem, PrecSetupTrampoline, PrecSolveTrampoline),
              api_.set_preconditioner.name);
      });
  preconditioner_ = std::move(plan.field_owned);
  callback_data().preconditioner = preconditioner_.get();
}

void SundialsStepper::ReadStats(IntegratorStats& stats) {
  void* mem = memory_.get();
  Check(api_.get_num_steps.function(mem, &stats.steps), api_.get_num_steps.name);
  Check(api_.get_actual_init_step.function(mem, &stats.first_step), api_.get_actual_init_step.name);
  ReadMethodStats(stats);
  const CallbackData& counted = callback_data();
  if (band_ >= 0) {
    // The band preconditioner's calls, counted by SUNDIALS.
    Check(api_.get_num_prec_evals.function(mem, &stats.preconditioner_setups),
          api_.get_num_prec_evals.name);
    Check(api_.get_num_prec_solves.function(mem, &stats.preconditioner_solves),
          api_.get_num_prec_solves.name);
  } else {
    stats.preconditioner_setups = counted.preconditioner_setups;
    stats.preconditioner_solves = counted.preconditioner_solves;
  }
  const CallbackData& data = callback_data();
  stats.rhs_evals = data.rhs_evals;
  stats.jvp_evals = data.jvp_evals;
  stats.jacobian_evals = data.jacobian_evals;
}

}  // namespace snode
