#include "adjoint/bptt.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "adjoint/bptt_explicit_tape.hpp"
#include "adjoint/bptt_implicit_tape.hpp"
#include "adjoint/bptt_reverse.hpp"
#include "adjoint/bptt_tape.hpp"
#include "core/errors.hpp"
#include "core/ode_problem.hpp"
#include "core/vector_field.hpp"
#include "integrators/fixed_steps.hpp"

namespace snode {

namespace {

using detail::BpttNumber;

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon();

std::string FormatBytes(double bytes) {
  char buffer[64];
  if (bytes >= 1e9) {
    std::snprintf(buffer, sizeof(buffer), "%.1f GB", bytes / 1e9);
  } else if (bytes >= 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%.1f MB", bytes / 1e6);
  } else if (bytes >= 1e3) {
    std::snprintf(buffer, sizeof(buffer), "%.1f kB", bytes / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.0f B", bytes);
  }
  return buffer;
}

// Fixed step h: the number of steps of each output interval (the integrators' plan,
// integrators/fixed_steps.hpp), summed. Throws ConfigError when an interval needs more than
// max_steps.
double FixedStepCount(const IntegratorOptions& options, const OdeProblem& problem) {
  const double h = options.fixed_step;
  double estimate = 0.0;
  double a = problem.t0;
  for (const double b : problem.output_times) {
    const double steps = b > a ? snode::FixedStepCount(a, b, h) : 0.0;
    // Messages are built only on failure: these checks run on every Compute().
    if (steps > static_cast<double>(options.max_steps)) {
      throw ConfigError("gradient 'bptt': " + FixedStepTooMuchWork(a, b, h, options.max_steps));
    }
    estimate += steps;
    a = b;
  }
  return estimate;
}

// Interpolated outputs: the recorded steps as they are; only the last output is a stop time and
// ends the last step. Appends to times, which holds t0.
void AppendRecordedStepsInterpolated(const std::string& integrator, const OdeProblem& problem,
                                     const std::vector<double>& recorded,
                                     std::vector<double>& times) {
  for (std::size_t k = 1; k < recorded.size(); ++k) {
    if (recorded[k] > times.back()) times.push_back(recorded[k]);
  }
  const double last = problem.output_times.back();
  Require(times.size() > 1 || last == problem.t0,
          "gradient 'bptt': integrator '" + integrator + "' recorded no steps");
  if (times.size() > 1) {
    const double tolerance =
        1e-12 * std::max(std::abs(last), std::abs(times.back() - times[times.size() - 2]));
    Require(std::abs(times.back() - last) <= tolerance,
            "gradient 'bptt': recorded steps of integrator '" + integrator + "' end at " +
                BpttNumber(times.back()) + ", not at the last output time " + BpttNumber(last));
    times.back() = last;
  }
}

// Outputs at stop times: the recorded steps, each output time landed on exactly (ARKODE's record
// may be off by round-off). Throws ConfigError when a step passes an output or the record does
// not reach every output. Appends to times, which holds t0.
void AppendRecordedSteps(const std::string& integrator, const OdeProblem& problem,
                         const std::vector<double>& recorded, std::vector<double>& times) {
  const std::vector<double>& outputs = problem.output_times;
  std::size_t next_output = 0;
  while (next_output < outputs.size() && outputs[next_output] <= problem.t0) ++next_output;
  for (std::size_t k = 1; k < recorded.size(); ++k) {
    double r = recorded[k];
    const double previous = times.back();
    if (next_output < outputs.size()) {
      const double out = outputs[next_output];
      const double tolerance = 1e-12 * std::max(std::abs(out), std::abs(r - previous));
      if (std::abs(r - out) <= tolerance) {
        r = out;  // ARKODE lands on stop times; remove any round-off in the record
        ++next_output;
      } else if (r > out) {
        throw ConfigError("gradient 'bptt': integrator '" + integrator +
                          "' stepped over output time " + BpttNumber(out) + " (step ends at " +
                          BpttNumber(r) + ")");
      }
    }
    if (r > previous) times.push_back(r);
  }
  Require(next_output == outputs.size(), "gradient 'bptt': recorded steps of integrator '" +
                                             integrator + "' do not reach every output time");
}

// The growth of the reverse pass: max_n ‖λ_n‖ over the largest of ‖dL/dz0‖ and the output
// gradients ‖∂ℓ_k/∂z(t_k)‖ (1 when all of them are zero).
double ReverseAmplification(const detail::BpttTape& tape) {
  double scale = tape.w.lambda.lpNorm<Eigen::Infinity>();
  for (std::size_t k = 0; k < tape.outputs.size(); ++k) {
    scale = std::max(scale, tape.w.dl_dz[k].lpNorm<Eigen::Infinity>());
  }
  if (tape.max_adjoint <= scale) return 1.0;
  return scale > 0.0 ? tape.max_adjoint / scale : std::numeric_limits<double>::infinity();
}

}  // namespace

void Bptt::Diagnose(double amplification, Index num_steps, GradientStats& stats) const {
  stats.amplification = amplification;
  stats.error_estimate =
      kUnitRoundoff * amplification * std::sqrt(std::max<double>(1.0, num_steps));
  const bool adaptive = IsAdaptive();
  const double allowed = adaptive ? options_.integrator_options.rtol : kFixedStepRoundoffLimit;
  if (!(stats.error_estimate <= allowed)) {
    char reason[256];
    std::snprintf(reason, sizeof(reason),
                  "bptt: reverse pass amplified round-off %.2g-fold over %ld steps; estimated "
                  "relative error %.2g > %s %.2g",
                  amplification, static_cast<long>(num_steps), stats.error_estimate,
                  adaptive ? "rtol" : "the fixed-step limit", allowed);
    stats.Flag(reason);
  }
}

Bptt::Bptt(GradientOptions options, BpttOptions bptt_options)
    : options_(std::move(options)), bptt_options_(bptt_options) {
  options_.Validate();
  bptt_options_.Validate();
  // The integrator declares the scheme bptt replays; adaptive steps come from its recording
  // solve.
  IntegratorOptions recording = options_.integrator_options;
  recording.record_steps = true;
  recorder_ = IntegratorRegistry().Create(options_.integrator, recording);
  scheme_ = std::make_unique<const detail::BpttScheme>(options_, recorder_->Capabilities());
  work_ = std::make_unique<detail::BpttWorkspace>();
}

Bptt::~Bptt() = default;

bool Bptt::IsAdaptive() const { return options_.integrator_options.fixed_step <= 0.0; }

void Bptt::CheckMemory(Index num_steps, Index state_size) const {
  const double bytes = scheme_->EstimateBytes(num_steps, state_size);
  if (bytes > bptt_options_.max_trajectory_bytes) {
    throw ConfigError("bptt would store " + FormatBytes(bytes) + " of trajectory (> limit " +
                      FormatBytes(bptt_options_.max_trajectory_bytes) +
                      "); use cvodes_adjoint or raise max_trajectory_bytes (" +
                      std::to_string(num_steps) + " steps of integrator '" + options_.integrator +
                      "', state size " + std::to_string(state_size) + ")");
  }
}

std::vector<double> Bptt::StepTimes(const OdeProblem& problem) {
  std::vector<double> times;
  StepTimesInto(problem, times);
  return times;
}

void Bptt::StepTimesInto(const OdeProblem& problem, std::vector<double>& times) {
  problem.Validate();
  times.clear();
  times.push_back(problem.t0);
  if (!IsAdaptive()) {
    const double estimate = FixedStepCount(options_.integrator_options, problem);
    CheckMemory(static_cast<Index>(estimate), problem.z0.size());
    times.reserve(static_cast<std::size_t>(estimate) + 2);
    AppendFixedStepTimes(problem.t0, problem.output_times, options_.integrator_options.fixed_step,
                         times);
    return;
  }
  RecordingSolve(problem);
  const Trajectory& recorded = recording_;
  last_recording_rhs_evals_ = recorded.stats.rhs_evals;
  Require(!recorded.step_times.empty(),
          "gradient 'bptt': integrator '" + options_.integrator +
              "' returned no step times from its recording solve (record_steps is set and it "
              "declares records_steps)");
  if (scheme_->interpolate) {
    AppendRecordedStepsInterpolated(options_.integrator, problem, recorded.step_times, times);
  } else {
    AppendRecordedSteps(options_.integrator, problem, recorded.step_times, times);
  }
}

void Bptt::RecordingSolve(const OdeProblem& problem) {
  if (scheme_->implicit) {
    recorder_->SolveInto(problem, recording_);
    return;
  }
  // The stage slopes of the accepted steps are among the recording solve's f calls.
  detail::BpttWorkspace& w = *work_;
  w.recording_problem = problem;
  w.recording_problem.field = w.recording_field;
  w.recording_field->Bind(problem.field.get(), problem.z0.size(),
                          bptt_options_.max_trajectory_bytes);
  try {
    recorder_->SolveInto(w.recording_problem, recording_);
  } catch (...) {
    w.recording_field->Disarm();
    throw;
  }
  w.recording_field->Disarm();
}

LossAndGradient Bptt::Compute(const OdeProblem& problem, const Loss& loss) {
  const auto start = std::chrono::steady_clock::now();
  last_recording_rhs_evals_ = 0;
  StepTimesInto(problem, step_times_);
  LossAndGradient result = Run(problem, loss, step_times_, last_recording_rhs_evals_,
                               IsAdaptive() && !scheme_->implicit);
  work_->recording_field->Clear();
  result.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

LossAndGradient Bptt::ComputeOnSteps(const OdeProblem& problem, const Loss& loss,
                                     const std::vector<double>& step_times) {
  const auto start = std::chrono::steady_clock::now();
  problem.Validate();
  LossAndGradient result = Run(problem, loss, step_times, 0, false);
  result.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

LossAndGradient Bptt::Run(const OdeProblem& problem, const Loss& loss,
                          const std::vector<double>& times, long recording_rhs_evals,
                          bool use_recorded) {
  if (times.empty() || times.front() != problem.t0) {
    throw ConfigError("gradient 'bptt': step sequence must start at t0 = " +
                      BpttNumber(problem.t0));
  }
  LossAndGradient result;
  detail::BpttTape tape(*scheme_, options_, bptt_options_, *work_, problem, loss, times, result);
  tape.MapOutputs();
  const Index num_steps = static_cast<Index>(tape.num_steps);
  CheckMemory(num_steps, tape.n);
  tape.Begin(use_recorded);
  if (scheme_->implicit) {
    detail::RecordImplicitSteps(tape);
  } else {
    detail::RecordExplicitSteps(tape);
  }
  detail::WalkBackward(tape);

  result.loss = tape.loss_value;
  result.dz0 = work_->lambda;
  GradientStats& stats = result.stats;
  stats.forward_rhs_evals = tape.rhs_evals + recording_rhs_evals;
  stats.backward_rhs_evals = 0;  // every stage state is stored; nothing is recomputed
  stats.vjp_evals = tape.vjp_evals;
  stats.jvp_evals = tape.jvp_evals;
  stats.forward_steps = static_cast<long>(num_steps);
  stats.backward_steps = static_cast<long>(num_steps);
  stats.forward_nonlinear_iters = tape.forward_krylov.solves;
  stats.forward_linear_iters = tape.forward_krylov.iterations;
  stats.forward_preconditioner_setups = tape.forward_krylov.setups;
  stats.forward_preconditioner_solves = tape.forward_krylov.preconditioner_solves;
  stats.backward_nonlinear_iters = tape.backward_krylov.solves;
  stats.backward_linear_iters = tape.backward_krylov.iterations;
  stats.backward_preconditioner_setups = tape.backward_krylov.setups;
  stats.backward_preconditioner_solves = tape.backward_krylov.preconditioner_solves;
  Diagnose(ReverseAmplification(tape), num_steps, stats);
  // The trajectory, and the saved forward passes and recorded f calls held for the reverse pass.
  stats.stored_bytes = scheme_->EstimateBytes(num_steps, tape.n) +
                       (use_recorded ? work_->recording_field->Bytes() : 0.0) +
                       (tape.save_stages ? tape.StageSaveBytes() : 0.0);
  result.forward.stats.steps = static_cast<long>(num_steps);
  result.forward.stats.rhs_evals = stats.forward_rhs_evals;
  result.forward.stats.jvp_evals = tape.jvp_evals;
  result.forward.stats.nonlinear_iters = stats.forward_nonlinear_iters;
  result.forward.stats.linear_iters = stats.forward_linear_iters;
  result.forward.stats.preconditioner_setups = stats.forward_preconditioner_setups;
  result.forward.stats.preconditioner_solves = stats.forward_preconditioner_solves;
  return result;
}

}  // namespace snode
