#include "integrators/epi2_integrator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "core/errors.hpp"
#include "integrators/fixed_steps.hpp"
#include "integrators/integrator_support.hpp"

namespace snode {

namespace {

// Krylov error allowance in the WRMS norm of the step (1 = the local error tolerance). A tenth
// keeps the φ_1 projection error below the time-discretisation error the controller sees.
constexpr double kKrylovTol = 0.1;
// Step controller (local error of epi2 is O(h³)).
constexpr double kSafety = 0.9;
constexpr double kMaxGrowth = 5.0;
constexpr double kMinShrink = 0.2;
constexpr double kNonFiniteShrink = 0.25;
constexpr double kKrylovShrink = 0.5;
// Consecutive failures of one step before giving up.
constexpr int kMaxNonFiniteFailures = 10;
constexpr int kMaxErrorTestFailures = 20;
constexpr int kMaxKrylovFailures = 20;

}  // namespace

using detail::FormatTime;

Epi2Integrator::Epi2Integrator(const IntegratorOptions& options)
    : options_(options), phi_([&options] {
        options.Validate();
        KrylovPhiOptions o;
        o.max_dim = options.krylov_max_dim;
        return o;
      }()) {
  // Captures only `this`, so std::function stores it without a heap allocation, and the
  // operator reads the per-step linearisation point from members.
  jacobian_operator_ = [this](ConstVectorRef x, VectorRef y) {
    if (autonomous_) {
      field_->Jvp(op_t_, *op_z_, *theta_, x, y);
      return;
    }
    // Autonomised operator on (z, ζ) with ζ = t/η: [J x_z + η ∂f/∂t x_ζ; 0].
    const Index n = n_;
    field_->Jvp(op_t_, *op_z_, *theta_, x.head(n), y.head(n));
    y.head(n) += (time_scale_ * x[n]) * ft_;
    y[n] = 0.0;
  };
}

void Epi2Integrator::Resize(Index n, bool autonomous) {
  const Index n_aug = autonomous ? n : n + 1;
  if (n != n_) {
    z_.resize(n);
    f_.resize(n);
    z_half_.resize(n);
    f_half_.resize(n);
    z_new_.resize(n);
    f_new_.resize(n);
    weights_.resize(n);
    diff_.resize(n);
    ft_.resize(n);
    steps_out_.resize(n, 3);
    taus_one_.resize(1);
    taus_two_.resize(2);
    n_ = n;
  }
  if (v_aug_.size() != n_aug) {
    v_aug_.resize(n_aug);
    weights_aug_.resize(n_aug);
    w_out_.resize(n_aug, 2);
  }
}

bool Epi2Integrator::EvaluateField(double t, const Vector& z, Vector& out) {
  field_->F(t, z, *theta_, out);
  ++stats_.rhs_evals;
  return out.allFinite();
}

void Epi2Integrator::ComputeWeights(const Vector& z) {
  weights_ = (options_.rtol * z.cwiseAbs().array() + options_.atol).inverse().matrix();
}

double Epi2Integrator::WrmsNorm(const Vector& x) const {
  return std::sqrt(x.cwiseProduct(weights_).squaredNorm() / static_cast<double>(x.size()));
}

double Epi2Integrator::InitialStep(double t0, double t_end) {
  // Hairer–Nørsett–Wanner's first guess h = 0.01‖z0‖/‖f0‖ in the error-weight norm; the
  // controller grows it by up to 5× per step.
  const double span = t_end - t0;
  ComputeWeights(z_);
  const double d0 = WrmsNorm(z_);
  const double d1 = WrmsNorm(f_);
  double h = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 * span : 0.01 * d0 / d1;
  h = std::min(h, span);
  if (options_.max_step > 0.0) h = std::min(h, options_.max_step);
  return std::max(h, 1e-12 * std::max(1.0, std::abs(t0)));
}

Epi2Integrator::StepResult Epi2Integrator::ExponentialEulerSteps(double t, const Vector& z,
                                                                 const Vector& f,
                                                                 ConstVectorRef taus,
                                                                 MatrixRef out) {
  const Index n = n_;
  op_t_ = t;
  op_z_ = &z;
  if (autonomous_) {
    v_aug_ = f;
    weights_aug_ = weights_;
  } else {
    // h φ_1(hJ) f + h² φ_2(hJ) f_t is the z-part of h φ_1(hJ̃)[f; 1] with J̃ = [[J, f_t], [0, 0]]
    // (t appended to the state). The appended coordinate is scaled, ζ = t/η, so that the start
    // vector is [f; 1/η] with 1/η ≈ 1e-4‖f‖ (a power of 2, exact): a small t-entry keeps the
    // rounding error of the (large) t-part of w out of the z-part; measured on a stiff affine
    // system, 1/η = ‖f‖ lost two to three more digits than 1e-4‖f‖.
    field_->TimeDerivative(t, z, *theta_, ft_);
    stats_.rhs_evals += 2;
    if (!ft_.allFinite()) return StepResult::kNonFinite;
    const double f_norm = f.norm();
    time_scale_ = f_norm > 0.0 ? std::ldexp(1.0, -std::ilogb(1e-4 * f_norm)) : 1.0;
    v_aug_.head(n) = f;
    v_aug_[n] = 1.0 / time_scale_;
    weights_aug_.head(n) = weights_;
    // An error δζ in the appended entry feeds η·f_t·δζ into z over the step, so it is weighted
    // by η·τ·‖f_t‖_W (a zero weight would let Arnoldi stop before it resolves the f_t term).
    weights_aug_[n] = time_scale_ * taus[taus.size() - 1] * WrmsNorm(ft_);
  }
  auto w = w_out_.leftCols(taus.size());
  const PhiReport report =
      phi_.SolveAffine(jacobian_operator_, v_aug_, taus, kKrylovTol, weights_aug_, w);
  stats_.jvp_evals += report.operator_applications;
  stats_.linear_iters += report.arnoldi_iters;
  stats_.krylov_dim_max = std::max(stats_.krylov_dim_max, report.krylov_dim_max);
  krylov_sweeps_ += report.sweeps;
  krylov_dim_sum_ += report.krylov_dim_sum;
  if (report.status == PhiStatus::kNonFinite) return StepResult::kNonFinite;
  if (report.status == PhiStatus::kNotConverged) return StepResult::kKrylovFailure;
  for (Index j = 0; j < taus.size(); ++j) out.col(j) = z + w.col(j).head(n);
  return out.allFinite() ? StepResult::kOk : StepResult::kNonFinite;
}

IntegratorCapabilities Epi2Integrator::Capabilities() const {
  IntegratorCapabilities capabilities;
  capabilities.kind = IntegratorKind::kExponential;
  capabilities.order = 2;
  capabilities.error_estimate = true;
  capabilities.records_steps = true;
  return capabilities;
}

Trajectory Epi2Integrator::Solve(const OdeProblem& problem) {
  const auto start = std::chrono::steady_clock::now();
  detail::RequireStopTimesOnly("epi2", options_, problem);
  problem.Validate();
  field_ = problem.field.get();
  theta_ = &problem.theta;
  autonomous_ = field_->IsAutonomous();
  Resize(field_->state_size(), autonomous_);
  stats_ = IntegratorStats();
  krylov_sweeps_ = 0;
  krylov_dim_sum_ = 0;
  where_ = " (integrator 'epi2', field '" + field_->name() + "')";

  Trajectory trajectory;
  trajectory.times = problem.output_times;
  trajectory.states.reserve(problem.output_times.size());
  double t = problem.t0;
  z_ = problem.z0;
  if (options_.record_steps) trajectory.step_times.push_back(t);
  if (!EvaluateField(t, z_, f_)) {
    throw NumericalError("epi2: the vector field returned NaN/Inf at the initial state, t=" +
                         FormatTime(t) + where_ + "; check z0, theta and the model");
  }
  const bool fixed = options_.fixed_step > 0.0;
  double h = fixed ? 0.0 : FirstStep(t, problem.output_times.back());
  for (const double t_out : problem.output_times) {
    long steps_here = 0;
    Failures failures;
    // Fixed steps: the plan of integrators/fixed_steps.hpp, max_steps checked before the work.
    const long planned = fixed && t < t_out ? PlanFixedSteps(t, t_out) : 0;
    while (t < t_out) {
      if (steps_here >= options_.max_steps) {
        throw SundialsError("Epi2Integrator", -1, "EPI2_TOO_MUCH_WORK",
                            "at t=" + FormatTime(t) + " after " + std::to_string(steps_here) +
                                " steps towards t=" + FormatTime(t_out) +
                                " (integrator 'epi2'); raise max_steps or loosen rtol");
      }
      ComputeWeights(z_);
      if (fixed) {
        FixedStep(t, t_out, steps_here + 1 == planned);
      } else if (!AdaptiveStep(t, t_out, h, failures)) {
        continue;  // rejected: retry with the smaller h
      }
      ++steps_here;
      if (options_.record_steps) trajectory.step_times.push_back(t);
    }
    trajectory.states.push_back(z_);
  }

  stats_.krylov_dim_mean =
      krylov_sweeps_ > 0 ? static_cast<double>(krylov_dim_sum_) / krylov_sweeps_ : 0.0;
  stats_.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  trajectory.stats = stats_;
  field_ = nullptr;
  theta_ = nullptr;
  op_z_ = nullptr;
  return trajectory;
}

double Epi2Integrator::FirstStep(double t0, double t_end) {
  double h = options_.initial_step > 0.0 ? options_.initial_step : InitialStep(t0, t_end);
  if (options_.max_step > 0.0) h = std::min(h, options_.max_step);
  return h;
}

void Epi2Integrator::Accept(double t_new, double& t) {
  t = t_new;
  std::swap(z_, z_new_);
  std::swap(f_, f_new_);
  ++stats_.steps;
}

long Epi2Integrator::PlanFixedSteps(double t, double t_out) const {
  const double steps = FixedStepCount(t, t_out, options_.fixed_step);
  if (steps > static_cast<double>(options_.max_steps)) {
    throw SundialsError(
        "Epi2Integrator", -1, "EPI2_TOO_MUCH_WORK",
        "at t=" + FormatTime(t) + " (integrator 'epi2'); " +
            FixedStepTooMuchWork(t, t_out, options_.fixed_step, options_.max_steps));
  }
  return static_cast<long>(steps);
}

void Epi2Integrator::FixedStep(double& t, double t_out, bool last) {
  // The last step of the plan ends exactly on t_out, whatever round-off t has gathered.
  const double remaining = t_out - t;
  const double h_step = last ? remaining : options_.fixed_step;
  const double t_new = last ? t_out : t + h_step;
  taus_one_[0] = h_step;
  const StepResult r = ExponentialEulerSteps(t, z_, f_, taus_one_, steps_out_.leftCols(1));
  if (r == StepResult::kKrylovFailure) {
    throw SundialsError("Epi2Integrator", -6, "EPI2_KRYLOV_FAILURE",
                        "at t=" + FormatTime(t) + " with h=" + FormatTime(h_step) +
                            " (integrator 'epi2'): the Krylov approximation of phi_1 did "
                            "not converge; raise krylov_max_dim or reduce fixed_step");
  }
  z_new_ = steps_out_.col(0);
  if (r == StepResult::kNonFinite || !EvaluateField(t_new, z_new_, f_new_)) {
    throw NumericalError("epi2: NaN/Inf from the vector field in the step from t=" + FormatTime(t) +
                         " to t=" + FormatTime(t_new) + where_ +
                         "; fixed-step mode cannot shrink the step: reduce fixed_step, "
                         "use adaptive stepping or check the model");
  }
  Accept(t_new, t);
}

bool Epi2Integrator::AdaptiveStep(double& t, double t_out, double& h, Failures& failures) {
  // A step within 10% of the remaining interval is stretched to end on t_out, which avoids a
  // sliver step before every output time.
  const double remaining = t_out - t;
  const bool stretched =
      h * 1.1 >= remaining && (options_.max_step <= 0.0 || remaining <= options_.max_step);
  const double h_step = stretched ? remaining : h;
  const double t_new = stretched ? t_out : t + h_step;
  if (h_step <= 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t))) {
    if (failures.last_nonfinite) {
      throw NumericalError("epi2: the vector field returned NaN/Inf just after t=" + FormatTime(t) +
                           where_ + " and the step shrank to " + FormatTime(h_step) +
                           " without avoiding it; check the model and its parameters");
    }
    throw SundialsError("Epi2Integrator", -3, "EPI2_STEP_TOO_SMALL",
                        "at t=" + FormatTime(t) + ": step size " + FormatTime(h_step) +
                            " underflows (integrator 'epi2'); loosen rtol/atol or check the "
                            "model for a singularity");
  }
  double err = 0.0;
  const StepResult r = DoubledStep(t, h_step, t_new, err);
  if (r != StepResult::kOk || err > 1.0) {
    h = Reject(r, err, t, h_step, failures);
    return false;
  }
  const bool had_failures = failures.nonfinite + failures.error_test + failures.krylov > 0;
  Accept(t_new, t);
  double factor = err > 0.0
                      ? std::clamp(kSafety * std::pow(err, -1.0 / 3.0), kMinShrink, kMaxGrowth)
                      : kMaxGrowth;
  if (had_failures) factor = std::min(factor, 1.0);
  double h_next = h_step * factor;
  // A step shortened to hit t_out says little about the step size the solution allows.
  if (h_step < h && factor >= 1.0) h_next = std::max(h_next, h);
  if (options_.max_step > 0.0) h_next = std::min(h_next, options_.max_step);
  h = h_next;
  failures = Failures();
  return true;
}

Epi2Integrator::StepResult Epi2Integrator::DoubledStep(double t, double h_step, double t_new,
                                                       double& err) {
  const double t_half = t + 0.5 * h_step;
  taus_two_[0] = 0.5 * h_step;
  taus_two_[1] = h_step;
  taus_one_[0] = 0.5 * h_step;
  // Columns of steps_out_: 0 first half step, 1 full step, 2 two half steps.
  StepResult r = ExponentialEulerSteps(t, z_, f_, taus_two_, steps_out_.leftCols(2));
  if (r == StepResult::kOk) {
    z_half_ = steps_out_.col(0);
    if (!EvaluateField(t_half, z_half_, f_half_)) r = StepResult::kNonFinite;
  }
  if (r == StepResult::kOk) {
    r = ExponentialEulerSteps(t_half, z_half_, f_half_, taus_one_, steps_out_.rightCols(1));
  }
  if (r == StepResult::kOk) {
    diff_ = (steps_out_.col(2) - steps_out_.col(1)) / 3.0;
    err = WrmsNorm(diff_);
    if (!std::isfinite(err)) r = StepResult::kNonFinite;
  }
  if (r == StepResult::kOk && err <= 1.0) {
    z_new_ = steps_out_.col(2);
    if (!EvaluateField(t_new, z_new_, f_new_)) r = StepResult::kNonFinite;
  }
  return r;
}

double Epi2Integrator::Reject(StepResult result, double err, double t, double h_step,
                              Failures& failures) {
  ++stats_.rejected_steps;
  failures.last_nonfinite = result == StepResult::kNonFinite;
  if (result == StepResult::kNonFinite) {
    if (++failures.nonfinite > kMaxNonFiniteFailures) {
      throw NumericalError(
          "epi2: the vector field returned NaN/Inf in the step from t=" + FormatTime(t) + where_ +
          " also after shrinking the step " + std::to_string(kMaxNonFiniteFailures) +
          " times to h=" + FormatTime(h_step) + "; check the model and its parameters");
    }
    return kNonFiniteShrink * h_step;
  }
  if (result == StepResult::kKrylovFailure) {
    if (++failures.krylov > kMaxKrylovFailures) {
      throw SundialsError("Epi2Integrator", -6, "EPI2_KRYLOV_FAILURE",
                          "at t=" + FormatTime(t) + " with h=" + FormatTime(h_step) +
                              " (integrator 'epi2'): the Krylov approximation of phi_1 did "
                              "not converge; raise krylov_max_dim");
    }
    return kKrylovShrink * h_step;
  }
  if (++failures.error_test > kMaxErrorTestFailures) {
    throw SundialsError("Epi2Integrator", -3, "EPI2_ERR_FAILURE",
                        "at t=" + FormatTime(t) + " with h=" + FormatTime(h_step) + " after " +
                            std::to_string(kMaxErrorTestFailures) +
                            " error-test failures (integrator 'epi2'); loosen rtol/atol "
                            "or check the model");
  }
  return h_step * std::max(kMinShrink, kSafety * std::pow(err, -1.0 / 3.0));
}

}  // namespace snode
