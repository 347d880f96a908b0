#include "integrators/arkode_erk_integrator.hpp"

#include <cstdio>
// clang-format off
#include <arkode/arkode_butcher_erk.h>
#include <arkode/arkode_erkstep.h>
// clang-format on

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "core/errors.hpp"

namespace snode {

namespace {

std::string Where(const std::string& name) { return "(integrator '" + name + "')"; }

// ERKStep 6.4.1 takes the last stage's f as f(t_{n+1}, y_{n+1}) whenever c_s = 1 (its
// FULLRHS_END shortcut), which is only true for FSAL tables. Classic RK4 has c_4 = 1 but is not
// FSAL, and ERKStep then starts every step from a wrong f (error 3e-5 at h = 0.125 on a logistic
// equation). Appending the stage Y_{s+1} = y_{n+1} (row b, c = 1, weight 0) makes the table FSAL
// without changing the solution or the cost: that stage's f is reused as the next step's first.
ButcherTableau FsalSafe(const ButcherTableau& tableau) {
  const int s = tableau.stages;
  const bool last_node_is_one = tableau.c[s - 1] == 1.0;
  const bool fsal = (tableau.a.row(s - 1).transpose() - tableau.b).cwiseAbs().maxCoeff() == 0.0;
  if (!last_node_is_one || fsal) return tableau;
  ButcherTableau safe = tableau;
  safe.stages = s + 1;
  safe.a = Matrix::Zero(s + 1, s + 1);
  safe.a.topLeftCorner(s, s) = tableau.a;
  safe.a.row(s).head(s) = tableau.b.transpose();
  safe.b = Vector::Zero(s + 1);
  safe.b.head(s) = tableau.b;
  safe.c = Vector::Ones(s + 1);
  safe.c.head(s) = tableau.c;
  if (tableau.HasEmbedding()) {
    safe.b_embedded = Vector::Zero(s + 1);
    safe.b_embedded.head(s) = tableau.b_embedded;
  }
  return safe;
}

// RMS of v_i / (atol + rtol |y_i|) over the first `size` components: the error-weighted norm the
// starting-step rule compares against the tolerances.
double ScaledRms(const Vector& v, const Vector& y, Index size, double rtol, double atol) {
  double sum = 0.0;
  for (Index i = 0; i < size; ++i) {
    const double scaled = v[i] / (atol + rtol * std::abs(y[i]));
    sum += scaled * scaled;
  }
  return std::sqrt(sum / static_cast<double>(size));
}

}  // namespace

double ArkodeErkIntegrator::EstimateInitialStep(const OdeProblem& problem) {
  // Hairer, Nørsett & Wanner, Solving ODEs I (2nd ed.), II.4: h0 from the scales of y0 and f0,
  // then h1 from a finite-difference estimate of y'' so that the local error of the method of
  // order p is about the tolerance; take min(100 h0, h1). ARKODE's own estimate bounds the error
  // of an Euler step instead and came out at 3e-6 on W4's ODE block, where this gives ~0.1.
  const double t0 = problem.t0;
  const double t_end = problem.output_times.back();
  const double span = std::abs(t_end - t0);
  if (!(span > 0.0)) return 0.0;
  const Index n = problem.z0.size();
  const Index size = problem.error_test_size > 0 ? problem.error_test_size : n;
  constexpr double kOrder = 5.0;  // dopri5
  start_f_.resize(n);
  start_y_.resize(n);
  start_f_next_.resize(n);
  VectorField& field = *problem.field;
  field.F(t0, problem.z0, problem.theta, start_f_);
  const double d0 = ScaledRms(problem.z0, problem.z0, size, options_.rtol, options_.atol);
  const double d1 = ScaledRms(start_f_, problem.z0, size, options_.rtol, options_.atol);
  const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  const double direction = t_end > t0 ? 1.0 : -1.0;
  start_y_ = problem.z0 + (direction * h0) * start_f_;
  field.F(t0 + direction * h0, start_y_, problem.theta, start_f_next_);
  callback_data_.rhs_evals += 2;
  start_f_next_ -= start_f_;
  const double d2 = ScaledRms(start_f_next_, problem.z0, size, options_.rtol, options_.atol) / h0;
  const double largest = std::max(d1, d2);
  const double h1 =
      largest <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / largest, 1.0 / (kOrder + 1.0));
  double h = std::min({100.0 * h0, h1, span});
  if (options_.max_step > 0.0) h = std::min(h, options_.max_step);
  // A non-finite f here is reported by the solver's own first evaluation: leave h0 to ARKODE.
  return std::isfinite(h) && h > 0.0 ? direction * h : 0.0;
}

ArkodeErkIntegrator::ArkodeErkIntegrator(std::string name, IntegratorOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  where_ = Where(name_);
  Require(name_ == "euler" || name_ == "rk4" || name_ == "dopri5",
          "ArkodeErkIntegrator: unknown method '" + name_ + "'; known: dopri5, euler, rk4");
  options_.Validate();
  Require(name_ == "dopri5" || options_.fixed_step > 0.0,
          "integrator '" + name_ + "' has no error estimator and needs options.fixed_step > 0");
}

void ArkodeErkIntegrator::Create(const OdeProblem& problem) {
  const std::string& where = where_;
  mem_.reset();
  y_.reset();
  context_ = std::make_unique<snode::Context>();
  y_ = MakeNVector(problem.z0, *context_);
  mem_.reset(ERKStepCreate(RhsTrampoline, problem.t0, y_.get(), *context_));
  detail::CheckNotNull(mem_.get(), "ERKStepCreate", where);
  void* mem = mem_.get();
  detail::CheckArkode(ERKStepSetErrHandlerFn(mem, detail::RecordingErrorHandler, &error_record_),
                      "ERKStepSetErrHandlerFn", where);
  detail::CheckArkode(ERKStepSetUserData(mem, &callback_data_), "ERKStepSetUserData", where);
  if (name_ == "dopri5") {
    detail::CheckArkode(ERKStepSetTableNum(mem, ARKODE_DORMAND_PRINCE_7_4_5), "ERKStepSetTableNum",
                        where);
    // 6.4.1 returns the state at a stop time through the Hermite interpolant; its default degree
    // 4 costs one extra f per output time (notes §2), degree 3 none. At the step's end point both
    // reproduce y_n to rounding, so outputs are unchanged while W2 saves 101 of 709 evaluations.
    detail::CheckArkode(ERKStepSetInterpolantDegree(mem, 3), "ERKStepSetInterpolantDegree", where);
  } else {
    // No named forward-Euler or classic-RK4 table in ARKODE 6.4.1: hand over ours (copied).
    const detail::ArkodeTablePtr table = detail::MakeArkodeTable(FsalSafe(ExplicitTableau(name_)));
    detail::CheckArkode(ERKStepSetTable(mem, table.get()), "ERKStepSetTable", where);
  }
  if (name_ == "euler") {
    // 6.4.1 caps the Hermite interpolant at degree q-1 = 0 (the average of the last two states),
    // which would be returned at stop times; Lagrange degree 0 returns y_n exactly (notes §3).
    detail::CheckArkode(ERKStepSetInterpolantType(mem, ARK_INTERP_LAGRANGE),
                        "ERKStepSetInterpolantType", where);
  }
  detail::CheckArkode(ERKStepSStolerances(mem, options_.rtol, options_.atol), "ERKStepSStolerances",
                      where);
  detail::CheckArkode(ERKStepSetMaxNumSteps(mem, options_.max_steps), "ERKStepSetMaxNumSteps",
                      where);
  if (options_.fixed_step > 0.0) {
    detail::CheckArkode(ERKStepSetFixedStep(mem, options_.fixed_step), "ERKStepSetFixedStep",
                        where);
  } else if (options_.initial_step > 0.0) {
    detail::CheckArkode(ERKStepSetInitStep(mem, options_.initial_step), "ERKStepSetInitStep",
                        where);
  }
  if (options_.max_step > 0.0) {
    detail::CheckArkode(ERKStepSetMaxStep(mem, options_.max_step), "ERKStepSetMaxStep", where);
  }
  error_test_size_ = 0;  // scalar tolerances were just set
  state_size_ = problem.z0.size();
}

Trajectory ArkodeErkIntegrator::Solve(const OdeProblem& problem) {
  Trajectory trajectory;
  SolveInto(problem, trajectory);
  return trajectory;
}

void ArkodeErkIntegrator::SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
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
    // ReInit keeps every option (table, tolerances, fixed step) and resets the counters and the
    // step-size history, so a reused object reproduces a fresh one.
    detail::CheckArkode(ERKStepReInit(mem_.get(), RhsTrampoline, problem.t0, y_.get()),
                        "ERKStepReInit", where);
  }

  void* mem = mem_.get();
  detail::EvolveHooks hooks;
  hooks.family = detail::SolverFamily::kArkode;
  hooks.set_stop_time_call = "ERKStepSetStopTime";
  hooks.evolve_call = "ERKStepEvolve";
  hooks.set_stop_time = [mem](double tstop) { return ERKStepSetStopTime(mem, tstop); };
  hooks.evolve = [mem](double tout, N_Vector y, double* tret, bool one_step) {
    return ERKStepEvolve(mem, tout, y, tret, one_step ? ARK_ONE_STEP : ARK_NORMAL);
  };
  hooks.interpolate_call = "ERKStepGetDky";
  hooks.interpolate = [mem](double t, N_Vector y) { return ERKStepGetDky(mem, t, 0, y); };
  hooks.reset_call = "ERKStepReset";
  hooks.reset = [mem](double t, N_Vector y) { return ERKStepReset(mem, t, y); };
  // Created and re-initialised solvers keep their tolerances: set them only when the error
  // test changes (a seminorm problem after a plain one, or back).
  if (problem.error_test_size != error_test_size_) {
    detail::SetProblemTolerances(
        problem, options_, callback_data_, detail::SolverFamily::kArkode, where,
        [mem](double rtol, double atol) { return ERKStepSStolerances(mem, rtol, atol); },
        [mem] { return ERKStepWFtolerances(mem, EwtTrampoline); });
    error_test_size_ = problem.error_test_size;
  }
  if (name_ == "dopri5" && options_.fixed_step == 0.0 && options_.initial_step == 0.0 &&
      options_.initial_step_estimate == "hairer") {
    // Every solve: ReInit keeps the last h0 it was given.
    detail::CheckArkode(ERKStepSetInitStep(mem, EstimateInitialStep(problem)), "ERKStepSetInitStep",
                        where);
    // ERKStep's first stage is f(t0, z0) again, which the estimate has just evaluated.
    callback_data_.known_f = &start_f_;
    callback_data_.known_z = &problem.z0;
    callback_data_.known_t = problem.t0;
  }
  detail::RunOutputLoop(problem, options_, name_, y_.get(), hooks, callback_data_, error_record_,
                        trajectory);

  long steps = 0, attempts = 0;
  detail::CheckArkode(ERKStepGetNumSteps(mem, &steps), "ERKStepGetNumSteps", where);
  detail::CheckArkode(ERKStepGetNumStepAttempts(mem, &attempts), "ERKStepGetNumStepAttempts",
                      where);
  IntegratorStats& stats = trajectory.stats;
  stats.steps = steps;
  detail::CheckArkode(ERKStepGetActualInitStep(mem, &stats.first_step), "ERKStepGetActualInitStep",
                      where);
  stats.rejected_steps = attempts - steps;
  stats.rhs_evals = callback_data_.rhs_evals;
  stats.jvp_evals = callback_data_.jvp_evals;
  stats.jacobian_evals = callback_data_.jacobian_evals;
  stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace snode
