#include "integrators/step_integrator.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <utility>

#include "core/errors.hpp"
#include "integrators/fixed_steps.hpp"
#include "integrators/integrator_support.hpp"

namespace snode {

namespace {

using detail::FormatTime;

// Controller limits: the step may shrink to 1/5 or grow 5× per step; 0.9 is the usual safety
// factor against repeated rejections. A failed stage (NaN, Newton) retries with a quarter.
constexpr double kSafety = 0.9;
constexpr double kMinFactor = 0.2;
constexpr double kMaxFactor = 5.0;
constexpr double kFailureFactor = 0.25;
// Newton on an implicit stage: converged when the weighted RMS update is below this (the
// controller's unit is the error it accepts) or below round-off relative to the iterate.
constexpr double kNewtonTolerance = 1e-3;
constexpr double kNewtonRoundOff = 1e-14;

}  // namespace

// ---------------------------------------------------------------------------------------------
// StepContext

void StepContext::F(double t, const Vector& y, Vector& out) {
  owner_.EvaluateChecked(t, y, out, /*recoverable=*/true);
}

const Vector& StepContext::StartSlope() {
  if (!owner_.f0_valid_) {
    owner_.EvaluateChecked(owner_.t_, owner_.z_, owner_.f0_, /*recoverable=*/false);
    owner_.f0_valid_ = true;
  }
  return owner_.f0_;
}

const Vector& StepContext::EndSlope(const Vector& z_new) {
  owner_.EvaluateChecked(owner_.t_step_end_, z_new, owner_.f1_, /*recoverable=*/true);
  owner_.f1_valid_ = true;
  return owner_.f1_;
}

Vector& StepContext::Work(int i) {
  std::deque<Vector>& work = owner_.work_;  // growing keeps references valid
  if (static_cast<std::size_t>(i) >= work.size()) work.resize(static_cast<std::size_t>(i) + 1);
  Vector& v = work[static_cast<std::size_t>(i)];
  if (v.size() != size()) v.resize(size());
  return v;
}

Index StepContext::size() const { return owner_.z_.size(); }

const IntegratorOptions& StepContext::options() const { return owner_.options_; }

void StepContext::SolveImplicitStage(double t, double gamma_h, const Vector& base,
                                     const Vector& guess, Vector& out) {
  StepIntegrator& o = owner_;
  const OdeProblem& problem = *o.problem_;
  VectorField& field = *problem.field;
  const Index n = size();
  CheckDenseNewtonSize(n, o.name());
  o.newton_matrix_.resize(n, n);
  field.DenseJacobian(t, guess, problem.theta, o.newton_matrix_);
  if (field.HasDenseJacobian()) {
    ++o.stats_.jacobian_evals;
  } else {
    o.stats_.jvp_evals += n;  // the default DenseJacobian: one Jvp per column
  }
  o.newton_matrix_ *= -gamma_h;
  o.newton_matrix_.diagonal().array() += 1.0;
  o.newton_lu_.compute(o.newton_matrix_);
  if (&out != &guess) out = guess;
  Vector& residual = o.newton_residual_;
  Vector& delta = o.newton_delta_;
  const int max_iters = o.options_.max_nonlinear_iters;
  const bool finite_matrix = o.newton_matrix_.allFinite();
  for (int iter = 0; iter < max_iters && finite_matrix; ++iter) {
    F(t, out, residual);
    residual = base + gamma_h * residual - out;  // −G(Z) for G(Z) = Z − base − γh f(t, Z)
    delta = o.newton_lu_.solve(residual);
    out += delta;
    ++o.stats_.nonlinear_iters;
    if (!delta.allFinite()) break;
    const bool small = o.Wrms(delta, out, n) <= kNewtonTolerance ||
                       delta.cwiseAbs().maxCoeff() <= kNewtonRoundOff * out.cwiseAbs().maxCoeff();
    if (small) return;
  }
  o.Fail(o.Where() + ": the Newton iteration of an implicit stage did not converge in " +
             std::to_string(max_iters) + " iterations at t=" + FormatTime(t) +
             " (step h=" + FormatTime(o.t_step_end_ - o.t_) +
             "); reduce the step (fixed_step, max_step) or raise max_nonlinear_iters",
         /*recoverable=*/true);
}

// ---------------------------------------------------------------------------------------------
// Dense output over the step being accepted.

class StepIntegrator::StepDense final : public DenseOutput {
 public:
  StepDense(const StepIntegrator& owner, const StepInterval& interval)
      : owner_(owner), interval_(interval) {}
  void Evaluate(double t, VectorRef z) const override {
    const double t0 = interval_.t, t1 = interval_.t + interval_.h;
    const double slack = 1e-12 * std::max({std::abs(t0), std::abs(t1), interval_.h});
    if (!(t >= t0 - slack && t <= t1 + slack)) {
      throw SundialsError("DenseOutput::Evaluate", -1, "STEP_BAD_T",
                          owner_.Where() + ": t=" + FormatTime(t) + " is outside the step [" +
                              FormatTime(t0) + ", " + FormatTime(t1) + "]");
    }
    owner_.Interpolate(interval_, t, z);
  }

 private:
  const StepIntegrator& owner_;
  StepInterval interval_;
};

void StepIntegrator::Interpolate(const StepInterval& step, double t, VectorRef out) const {
  // Cubic Hermite basis on σ = (t − t0)/h.
  const double s = (t - step.t) / step.h;
  const double h00 = (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s);
  const double h10 = s * (1.0 - s) * (1.0 - s);
  const double h01 = s * s * (3.0 - 2.0 * s);
  const double h11 = s * s * (s - 1.0);
  out = h00 * *step.z + h01 * *step.z_new + (step.h * h10) * *step.f0 + (step.h * h11) * *step.f1;
}

// ---------------------------------------------------------------------------------------------
// StepIntegrator

StepIntegrator::StepIntegrator(std::string name, IntegratorOptions options, StepMethod method)
    : name_(std::move(name)), options_(std::move(options)), method_(std::move(method)) {
  options_.Validate();
  Require(!name_.empty(), "a step integrator needs a name");
  Require(method_.order > 0 && method_.error_order >= 0 && method_.own_dense_output_order >= 0,
          [&] {
            return Where() +
                   ": StepMethod needs order > 0, error_order >= 0 and "
                   "own_dense_output_order >= 0";
          });
  Require(!method_.tableau || method_.tableau->order == method_.order, [&] {
    return Where() + ": StepMethod::tableau has order " + std::to_string(method_.tableau->order) +
           ", the method " + std::to_string(method_.order);
  });
  Require(method_.error_order > 0 || options_.fixed_step > 0.0, [&] {
    return "integrator '" + name_ + "' has no error estimator and needs options.fixed_step > 0";
  });
}

std::string StepIntegrator::Where() const { return "integrator '" + name_ + "'"; }

IntegratorCapabilities StepIntegrator::Capabilities() const {
  IntegratorCapabilities c;
  c.kind = method_.kind;
  c.order = method_.order;
  c.error_estimate = method_.error_order > 0;
  c.needs_fixed_step = method_.error_order == 0;
  c.dense_output_order = method_.own_dense_output_order > 0 ? method_.own_dense_output_order
                                                            : std::min(method_.order, 3);
  c.output_jumps = true;
  c.step_hook = true;
  c.interpolated_outputs = method_.error_order > 0;
  c.records_steps = true;
  c.tableau = method_.tableau;
  return c;
}

Trajectory StepIntegrator::Solve(const OdeProblem& problem) {
  Trajectory trajectory;
  SolveInto(problem, trajectory);
  return trajectory;
}

void StepIntegrator::SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
  const auto start = std::chrono::steady_clock::now();
  Start(problem, trajectory);
  try {
    Integrate(problem, trajectory);
  } catch (...) {
    problem_ = nullptr;
    throw;
  }
  problem_ = nullptr;
  stats_.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  trajectory.stats = stats_;
}

void StepIntegrator::Start(const OdeProblem& problem, Trajectory& trajectory) {
  options_.Validate();
  problem.Validate();
  if (options_.interpolate_outputs) {
    Require(!problem.at_output && !problem.after_step, [&] {
      return Where() +
             ": interpolate_outputs cannot be combined with OdeProblem::at_output or "
             "OdeProblem::after_step (they need stop times)";
    });
  }
  const Index n = problem.z0.size();
  for (Vector* v : {&z_new_, &error_, &f0_, &f1_, &newton_delta_, &newton_residual_, &hairer_y_}) {
    if (v->size() != n) v->resize(n);
  }
  problem_ = &problem;
  z_ = problem.z0;
  stats_ = IntegratorStats();
  t_ = problem.t0;
  fixed_ = options_.fixed_step > 0.0;
  h_ = fixed_ ? options_.fixed_step : options_.initial_step;
  f0_valid_ = f1_valid_ = in_step_ = false;
  next_output_ = 0;
  trajectory.times = problem.output_times;
  trajectory.states.resize(problem.store_all_states ? problem.output_times.size() : 1);
  trajectory.step_times.clear();
  if (options_.record_steps) trajectory.step_times.push_back(problem.t0);
}

void StepIntegrator::Integrate(const OdeProblem& problem, Trajectory& trajectory) {
  const std::vector<double>& times = problem.output_times;
  if (options_.interpolate_outputs) {
    // Outputs at t0 are z0; the others before the last are filled by AcceptStep.
    while (next_output_ + 1 < times.size() && times[next_output_] <= t_) {
      CheckState(z_, t_);
      StoreOutput(next_output_++, trajectory);
    }
    AdvanceTo(times.back(), trajectory);
    CheckState(z_, t_);
    StoreOutput(times.size() - 1, trajectory);
    return;
  }
  for (std::size_t k = 0; k < times.size(); ++k) {
    AdvanceTo(times[k], trajectory);
    CheckState(z_, t_);
    if (problem.at_output && problem.at_output(k, t_, z_)) {
      f0_valid_ = false;  // the state jumped: its slope is no longer f0
      CheckState(z_, t_);
    }
    StoreOutput(k, trajectory);
  }
}

void StepIntegrator::StoreOutput(std::size_t index, Trajectory& trajectory) {
  if (!problem_->store_all_states && index + 1 < problem_->output_times.size()) return;
  trajectory.states[problem_->store_all_states ? index : 0] = z_;
}

void StepIntegrator::AdvanceFixed(double tout, Trajectory& trajectory) {
  // max_step caps a fixed step too.
  const double h = options_.max_step > 0.0 ? std::min(options_.fixed_step, options_.max_step)
                                           : options_.fixed_step;
  const double planned = FixedStepCount(t_, tout, h);
  if (planned > static_cast<double>(options_.max_steps)) {
    ThrowTooMuchWork(tout, FixedStepTooMuchWork(t_, tout, h, options_.max_steps));
  }
  const long steps = static_cast<long>(planned);
  h_ = h;
  for (long k = 1; k <= steps; ++k) {
    const bool last = k == steps;
    const double t_end = last ? tout : t_ + h;
    steps_in_interval_ = k;
    TryStep(last ? tout - t_ : h, t_end, last);  // fixed steps are always accepted
    AcceptStep(t_end, trajectory);
  }
}

void StepIntegrator::AdvanceTo(double tout, Trajectory& trajectory) {
  steps_in_interval_ = 0;
  if (fixed_) {
    if (t_ < tout) AdvanceFixed(tout, trajectory);
    return;
  }
  while (t_ < tout) {
    if (++steps_in_interval_ > options_.max_steps) ThrowTooMuchWork(tout);
    if (!fixed_ && h_ == 0.0) h_ = InitialStep();
    if (options_.max_step > 0.0) h_ = std::min(h_, options_.max_step);
    // Land exactly on tout: shorten the last step of the interval (and do not leave a sliver
    // below round-off behind).
    double step = std::min(h_, tout - t_);
    const bool last = t_ + step >= tout || tout - (t_ + step) <= 1e-12 * std::abs(tout);
    if (last) step = tout - t_;
    if (!fixed_ && stats_.steps == 0 && stats_.rejected_steps == 0) stats_.first_step = step;
    if (TryStep(step, last ? tout : t_ + step, last))
      AcceptStep(last ? tout : t_ + step, trajectory);
  }
}

bool StepIntegrator::TryStep(double step, double t_end, bool last) {
  t_step_end_ = t_end;
  f1_valid_ = false;
  StepContext context(*this);
  double factor = kFailureFactor;
  std::string failure;
  in_step_ = true;
  try {
    Step(context, t_, z_, step, z_new_, error_);
    in_step_ = false;
  } catch (const StepFailure& e) {
    in_step_ = false;
    failure = e.message;
  } catch (...) {
    in_step_ = false;
    throw;
  }
  if (fixed_) return true;  // a non-finite state is reported at the output time
  const double q = std::min(method_.order, method_.error_order);
  const double norm = failure.empty() ? ErrorNorm() : 2.0;
  if (failure.empty() && std::isfinite(norm)) {
    factor = norm == 0.0
                 ? kMaxFactor
                 : std::clamp(kSafety * std::pow(norm, -1.0 / (q + 1.0)), kMinFactor, kMaxFactor);
  }
  if (norm <= 1.0) {
    h_ = (last ? std::max(h_, step) : step) * factor;
    return true;
  }
  ++stats_.rejected_steps;
  h_ = step * factor;
  if (t_ + h_ == t_) {
    throw NumericalError(
        failure.empty()
            ? Where() + ": step size underflow at t=" + FormatTime(t_) +
                  "; the problem may be stiff (use an implicit method, e.g. sdirk or cvodes_bdf)"
            : failure + " (the step size underflowed at t=" + FormatTime(t_) +
                  ": a smaller step does not avoid it)");
  }
  return false;
}

void StepIntegrator::AcceptStep(double t_end, Trajectory& trajectory) {
  const OdeProblem& problem = *problem_;
  const std::vector<double>& times = problem.output_times;
  const bool interpolate = options_.interpolate_outputs && next_output_ + 1 < times.size() &&
                           times[next_output_] <= t_end;
  if (problem.after_step || interpolate) {
    if (!f0_valid_) EvaluateChecked(t_, z_, f0_, /*recoverable=*/false);
    f0_valid_ = true;
    const bool hermite = method_.own_dense_output_order == 0;
    if (hermite && !f1_valid_) EvaluateChecked(t_end, z_new_, f1_, /*recoverable=*/false);
    f1_valid_ = f1_valid_ || hermite;
    const StepInterval interval{t_, t_end - t_, &z_, &z_new_, &f0_, f1_valid_ ? &f1_ : nullptr};
    const StepDense dense(*this, interval);
    if (problem.after_step) problem.after_step(t_, t_end, dense);
    while (interpolate && next_output_ + 1 < times.size() && times[next_output_] <= t_end) {
      if (problem.store_all_states) {
        Vector& state = trajectory.states[next_output_];
        if (state.size() != z_.size()) state.resize(z_.size());
        dense.Evaluate(times[next_output_], state);
        CheckState(state, times[next_output_]);
      }
      ++next_output_;
      steps_in_interval_ = 0;
    }
  }
  ++stats_.steps;
  std::swap(z_, z_new_);
  std::swap(f0_, f1_);
  f0_valid_ = f1_valid_;  // first same as last, or the dense output's end slope
  f1_valid_ = false;
  t_ = t_end;
  if (options_.record_steps) trajectory.step_times.push_back(t_);
}

double StepIntegrator::InitialStep() {
  // Hairer, Nørsett & Wanner's starting step; f(t0, z0) also serves as the first step's start
  // slope. A non-finite probe falls back to the first guess (the step reports it).
  const OdeProblem& problem = *problem_;
  const double span = problem.output_times.back() - t_;
  StepContext context(*this);
  const Vector& f0 = context.StartSlope();
  const Index k = ErrorTestSize();
  const double d0 = Wrms(z_, z_, k), d1 = Wrms(f0, z_, k);
  const double h0 = std::min(detail::HairerFirstGuess(d0, d1), span);
  hairer_y_ = z_ + h0 * f0;
  problem.field->F(t_ + h0, hairer_y_, problem.theta, f1_);
  ++stats_.rhs_evals;
  double h = h0;
  if (f1_.allFinite()) {
    f1_ -= f0;
    h = detail::HairerStartingStep(h0, d1, Wrms(f1_, z_, k) / h0, method_.order);
  }
  h = std::min(h, span);
  return std::isfinite(h) && h > 0.0 ? h : h0;
}

Index StepIntegrator::ErrorTestSize() const {
  const Index n = z_.size(), k = problem_->error_test_size;
  return k > 0 && k < n ? k : n;
}

double StepIntegrator::Wrms(const Vector& v, const Vector& y, Index size) const {
  double sum = 0.0;
  for (Index i = 0; i < size; ++i) {
    const double weight = 1.0 / (options_.rtol * std::abs(y[i]) + options_.atol);
    sum += (v[i] * weight) * (v[i] * weight);
  }
  return std::sqrt(sum / static_cast<double>(size));
}

double StepIntegrator::ErrorNorm() const {
  const Index k = ErrorTestSize();
  double sum = 0.0;
  for (Index i = 0; i < k; ++i) {
    const double scale = std::max(std::abs(z_[i]), std::abs(z_new_[i]));
    const double weighted = error_[i] / (options_.rtol * scale + options_.atol);
    sum += weighted * weighted;
  }
  return std::sqrt(sum / static_cast<double>(k));
}

void StepIntegrator::EvaluateChecked(double t, const Vector& y, Vector& out, bool recoverable) {
  problem_->field->F(t, y, problem_->theta, out);
  ++stats_.rhs_evals;
  if (!out.allFinite()) Fail(Where() + ": f is NaN or Inf at t=" + FormatTime(t), recoverable);
}

void StepIntegrator::Fail(const std::string& message, bool recoverable) const {
  if (recoverable && in_step_ && !fixed_) throw StepFailure{message};
  throw NumericalError(message);
}

void StepIntegrator::CheckState(const Vector& z, double t) const {
  if (!z.allFinite()) {
    throw NumericalError(Where() + ": the state is NaN or Inf at t=" + FormatTime(t) +
                         " (an unstable step size? reduce fixed_step or the tolerances)");
  }
}

void StepIntegrator::ThrowTooMuchWork(double tout, const std::string& remedy) const {
  std::string flag = name_;
  for (char& c : flag) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Same error type and wording as the SUNDIALS-based integrators (ARK_TOO_MUCH_WORK).
  throw SundialsError(
      "StepIntegrator::Solve", -1, flag + "_TOO_MUCH_WORK",
      "at t=" + FormatTime(t_) + " (" + Where() + "); " +
          (remedy.empty()
               ? "more than max_steps=" + std::to_string(options_.max_steps) +
                     " steps before t=" + FormatTime(tout) + ": raise max_steps or loosen rtol"
               : remedy));
}

}  // namespace snode
