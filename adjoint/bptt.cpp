#include "adjoint/bptt.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "core/ode_problem.hpp"
#include "core/vector_field.hpp"

namespace snode {

namespace {

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon();
// Newton stops when ‖Δ‖∞ ≤ kNewtonTolerance·‖z‖∞, far below ARKODE's WRMS test, so that the
// forward map is the backward-Euler map itself (up to round-off), not a tolerance-dependent
// approximation of it, and finite differences of it are smooth.
constexpr double kNewtonTolerance = 1e-14;
// GMRES relative residuals: Newton corrections (inexact Newton still converges to the exact
// root) and the transposed adjoint solves (their error enters the gradient directly).
constexpr double kGmresNewtonRtol = 1e-12;
constexpr double kGmresAdjointRtol = 1e-13;
constexpr int kGmresMaxRestarts = 50;

const char* const kSupported[] = {"backward_euler", "dopri5", "euler", "heun", "rk4", "sdirk"};

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

// Cubic Hermite basis on [0, 1]: z(σ) = h00 z_0 + h01 z_1 + h h10 z'_0 + h h11 z'_1.
struct HermiteWeights {
  double h00, h01, h10, h11;
};
HermiteWeights Hermite(double sigma) {
  const double r = 1.0 - sigma;
  return {(1.0 + 2.0 * sigma) * r * r, sigma * sigma * (3.0 - 2.0 * sigma), sigma * r * r,
          -sigma * sigma * r};
}

std::string Num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

// Restarted GMRES(m) with modified Gram–Schmidt (two passes) and Givens rotations. Workspace is
// kept between calls so the step loops do not allocate.
class Gmres {
 public:
  // Solves A x = b from x = 0 until ‖b − A x‖ ≤ rtol·‖b‖ or the restarts run out; apply(v, out)
  // writes A v. Returns the relative residual reached; *applies counts products.
  template <class Apply>
  double Solve(Apply&& apply, const Vector& b, Vector& x, double rtol, int max_dim, long* applies) {
    const Index n = b.size();
    const int m = static_cast<int>(std::max<Index>(1, std::min<Index>(max_dim, n)));
    if (v_.rows() != n || v_.cols() != m + 1) {
      v_.resize(n, m + 1);
      h_.resize(m + 1, m);
      cs_.resize(m);
      sn_.resize(m);
      g_.resize(m + 1);
      y_.resize(m);
      w_.resize(n);
      r_.resize(n);
    }
    x.setZero();
    const double b_norm = b.norm();
    if (b_norm == 0.0) return 0.0;
    double relative = 1.0;
    r_ = b;
    for (int restart = 0; restart <= kGmresMaxRestarts; ++restart) {
      if (restart > 0) {
        apply(x, w_);
        ++*applies;
        r_ = b - w_;
      }
      const double beta = r_.norm();
      relative = beta / b_norm;
      if (relative <= rtol) return relative;
      v_.col(0) = r_ / beta;
      g_.setZero();
      g_(0) = beta;
      h_.setZero();
      int k = 0;
      for (int j = 0; j < m; ++j) {
        apply(v_.col(j), w_);
        ++*applies;
        for (int pass = 0; pass < 2; ++pass) {
          for (int i = 0; i <= j; ++i) {
            const double hij = v_.col(i).dot(w_);
            h_(i, j) += hij;
            w_.noalias() -= hij * v_.col(i);
          }
        }
        const double h_next = w_.norm();
        for (int i = 0; i < j; ++i) {
          const double temp = cs_(i) * h_(i, j) + sn_(i) * h_(i + 1, j);
          h_(i + 1, j) = -sn_(i) * h_(i, j) + cs_(i) * h_(i + 1, j);
          h_(i, j) = temp;
        }
        const double denom = std::hypot(h_(j, j), h_next);
        k = j + 1;
        if (denom == 0.0) {  // singular Krylov matrix: keep what we have
          k = j;
          break;
        }
        cs_(j) = h_(j, j) / denom;
        sn_(j) = h_next / denom;
        h_(j, j) = denom;
        g_(j + 1) = -sn_(j) * g_(j);
        g_(j) = cs_(j) * g_(j);
        if (h_next == 0.0 || std::abs(g_(j + 1)) <= rtol * b_norm) break;
        v_.col(j + 1) = w_ / h_next;
      }
      if (k == 0) break;
      y_.head(k) = g_.head(k);
      h_.topLeftCorner(k, k).triangularView<Eigen::Upper>().solveInPlace(y_.head(k));
      x.noalias() += v_.leftCols(k) * y_.head(k);
    }
    apply(x, w_);
    ++*applies;
    r_ = b - w_;
    return r_.norm() / b_norm;
  }

 private:
  Matrix v_, h_;
  Vector cs_, sn_, g_, y_, w_, r_;
};

// Forwards every call to the wrapped field and, while armed, keeps each F call's (t, z, f) of the
// recording solve. The replay of an adaptive explicit method then takes the slopes ARKODE
// already computed at its accepted stages instead of evaluating f a second time.
class RecordingField final : public ForwardingField {
 public:
  void Bind(VectorField* inner, Index n, double max_bytes) {
    ForwardingField::Bind(inner);
    n_ = n;
    save_size_ = inner->ForwardSaveSize();
    max_bytes_ = max_bytes;
    Clear();
    armed_ = true;
  }
  void Disarm() { armed_ = false; }
  // Drops the records (capacity kept): the replay then evaluates f itself.
  void Clear() {
    times_.clear();
    values_.clear();
    saved_used_ = 0;
    cursor_ = 0;
  }

  // When the recording solve evaluated f at time t and state y (to round-off: the replay forms
  // the stage states as ERKStep does, but from the recorded step times), copies its state into y
  // and its slope into k and returns true. Records are searched in call order from the last one
  // taken; stages of rejected attempts have other times and are passed over.
  int Take(double t, double h, double* y, double* k) {
    const double t_tolerance = 64.0 * kUnitRoundoff * std::max(std::abs(t), std::abs(h));
    const std::size_t un = static_cast<std::size_t>(n_);
    for (std::size_t e = cursor_; e < times_.size(); ++e) {
      if (std::abs(times_[e] - t) > t_tolerance) continue;
      const double* recorded_z = values_.data() + 2 * e * un;
      double scale = 0.0, difference = 0.0;
      for (std::size_t i = 0; i < un; ++i) {
        scale = std::max(scale, std::abs(y[i]));
        difference = std::max(difference, std::abs(y[i] - recorded_z[i]));
      }
      if (difference > 1e-13 * std::max(scale, 1e-300)) continue;
      std::copy(recorded_z, recorded_z + un, y);
      std::copy(recorded_z + un, recorded_z + 2 * un, k);
      cursor_ = e + 1;
      return static_cast<int>(e);
    }
    return -1;
  }
  // What the record holds: per call t, z, f and the saved forward pass.
  double Bytes() const {
    return static_cast<double>(times_.size() + values_.size() + saved_used_) * sizeof(double);
  }
  // The field's saved forward pass of record `entry` (VectorField::FSaving), or null.
  const double* Saved(int entry) const {
    if (entry < 0 || save_size_ == 0) return nullptr;
    return saved_.data() + static_cast<std::size_t>(entry) * static_cast<std::size_t>(save_size_);
  }

  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    const std::size_t save = static_cast<std::size_t>(save_size_);
    const double next_bytes = static_cast<double>(values_.size() + saved_used_ +
                                                  2 * static_cast<std::size_t>(n_) + save) *
                              sizeof(double);
    if (next_bytes > max_bytes_) armed_ = false;  // the replay evaluates the rest itself
    if (!armed_ || z.size() != n_) {
      inner()->F(t, z, theta, out);
      return;
    }
    if (save > 0) {
      // saved_ only grows (no zero-filling once it is large enough); saved_used_ is its extent.
      if (saved_.size() < saved_used_ + save) saved_.resize(saved_used_ + save);
      inner()->FSaving(t, z, theta, out, saved_.data() + saved_used_);
      saved_used_ += save;
    } else {
      inner()->F(t, z, theta, out);
    }
    times_.push_back(t);
    values_.insert(values_.end(), z.data(), z.data() + n_);
    values_.insert(values_.end(), out.data(), out.data() + n_);
  }

 private:
  Index n_ = 0;
  double max_bytes_ = 0.0;
  bool armed_ = false;
  std::vector<double> times_;
  std::vector<double> values_;  // per call: z (n) then f (n)
  std::vector<double> saved_;   // per call: the field's saved forward pass (save_size_)
  std::size_t saved_used_ = 0;
  Index save_size_ = 0;
  std::size_t cursor_ = 0;
};

}  // namespace

// Per-size buffers, reused by every Compute() so the step loops never allocate.
struct Bptt::Workspace {
  Index n = 0;
  std::vector<double> z;       // (N+1)·n: z_0 … z_N
  std::vector<double> stages;  // N·stored·n: stage states needed by the reverse pass
  Matrix k;                    // n × s: stage slopes K_i of the current step
  Matrix mu;                   // n × s: μ_i of the current step (reverse)
  Vector y_tmp, lambda, gbar, grad_g, scaled;
  std::vector<double> coef;             // h·a_ij or h·b_j of the current step
  std::vector<Vector> dl_dz;            // ∂ℓ_i/∂z per output
  std::vector<int> output_at;           // output index at each step boundary, −1 if none
  std::vector<const double*> saved_at;  // N·s: saved forward pass of each stage, or null
  std::vector<double> stage_saved;      // the replay's own saved passes (N·s·ForwardSaveSize)
  // Interpolated outputs: those inside step n are interior[interior_start[n] …
  // interior_start[n+1]).
  std::vector<std::size_t> interior_start;
  std::vector<int> interior;
  Vector interp, extra_first, extra_last, extra_zn;
  // Backward Euler.
  Matrix jac, m;
  Eigen::PartialPivLU<Matrix> lu;
  Vector f, residual, delta, x;
  Gmres gmres;
  // Adaptive explicit methods: the recording solve runs on `recording_problem`, whose field
  // keeps the slopes the replay can take over.
  std::shared_ptr<RecordingField> recording_field = std::make_shared<RecordingField>();
  OdeProblem recording_problem;

  void Resize(Index size, int num_stages) {
    if (n == size && k.cols() == num_stages) return;
    n = size;
    k.resize(n, num_stages);
    mu.resize(n, num_stages);
    y_tmp.resize(n);
    lambda.resize(n);
    gbar.resize(n);
    grad_g.resize(n);
    scaled.resize(n);
    interp.resize(n);
    extra_first.resize(n);
    extra_last.resize(n);
    extra_zn.resize(n);
    coef.assign(static_cast<std::size_t>(num_stages), 0.0);
    jac.resize(n, n);
    m.resize(n, n);
    f.resize(n);
    residual.resize(n);
    delta.resize(n);
    x.resize(n);
  }
};

std::vector<std::string> Bptt::SupportedIntegrators() {
  return std::vector<std::string>(std::begin(kSupported), std::end(kSupported));
}

Bptt::Bptt(GradientOptions options) : options_(std::move(options)) {
  options_.Validate();
  const std::string& integrator = options_.integrator;
  const auto supported = SupportedIntegrators();
  if (std::find(supported.begin(), supported.end(), integrator) == supported.end()) {
    std::string list;
    for (const auto& name : supported) list += (list.empty() ? "" : ", ") + name;
    throw ConfigError("gradient 'bptt' does not support integrator '" + integrator +
                      "'; supported: " + list);
  }
  implicit_ = integrator == "backward_euler" || integrator == "sdirk";
  tableau_ = implicit_ ? ImplicitTableau(integrator) : ExplicitTableau(integrator);
  if (options_.integrator_options.fixed_step <= 0.0) {
    Require(integrator != "backward_euler" && tableau_.HasEmbedding(),
            "gradient 'bptt' with integrator '" + integrator +
                "' needs integrator option fixed_step > 0 (only methods with an error estimator "
                "can be replayed from adaptive steps)");
  }
  const int s = tableau_.stages;
  interpolate_ = options_.integrator_options.interpolate_outputs;
  if (interpolate_) {
    // The Hermite interpolant needs the slopes at both ends of a step among the stages.
    Require(s > 1 && tableau_.c[0] == 0.0 && tableau_.a(0, 0) == 0.0 && tableau_.c[s - 1] == 1.0,
            "gradient 'bptt' with interpolate_outputs needs a method whose first stage is at the "
            "step start and last at its end (dopri5, sdirk); integrator '" +
                integrator + "' has none");
  }
  // A stage enters the reverse pass iff b_i ≠ 0 or a later used stage depends on it (and, with
  // interpolated outputs, the first and last stages: their slopes enter the interpolant).
  stage_used_.assign(static_cast<std::size_t>(s), 0);
  for (int i = s - 1; i >= 0; --i) {
    bool used = tableau_.b[i] != 0.0 || (interpolate_ && (i == 0 || i == s - 1));
    for (int j = i + 1; j < s && !used; ++j) used = stage_used_[j] && tableau_.a(j, i) != 0.0;
    stage_used_[i] = used ? 1 : 0;
  }
  stage_slot_.assign(static_cast<std::size_t>(s), -1);
  stored_stages_ = 0;
  dirk_ = implicit_ && s > 1;
  if (!implicit_ || dirk_) {
    // Explicit: stage 1 is z_n itself. DIRK: every used stage is an implicit solve.
    for (int i = dirk_ ? 0 : 1; i < s; ++i) {
      if (stage_used_[i]) stage_slot_[i] = stored_stages_++;
    }
  }
  // First-same-as-last: the last stage is evaluated at z_{n+1} (c = 1, last row of a = b), so
  // ERKStep copies its slope into K_0 of the next step; doing the same keeps the replay
  // bit-compatible with ARKODE and saves one f evaluation per step.
  fsal_ = !implicit_ && s > 1 && tableau_.c[s - 1] == 1.0;
  for (int j = 0; fsal_ && j < s; ++j) fsal_ = tableau_.a(s - 1, j) == tableau_.b[j];
  work_ = std::make_unique<Workspace>();
}

Bptt::~Bptt() = default;

bool Bptt::IsAdaptive() const { return options_.integrator_options.fixed_step <= 0.0; }

double Bptt::EstimateBytes(Index num_steps, Index state_size) const {
  const double steps = static_cast<double>(num_steps);
  const double n = static_cast<double>(state_size);
  return ((steps + 1.0) + steps * static_cast<double>(stored_stages_)) * n * sizeof(double);
}

void Bptt::CheckMemory(Index num_steps, Index state_size) const {
  const double bytes = EstimateBytes(num_steps, state_size);
  if (bytes > options_.max_trajectory_bytes) {
    throw ConfigError("bptt would store " + FormatBytes(bytes) + " of trajectory (> limit " +
                      FormatBytes(options_.max_trajectory_bytes) +
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
  const std::vector<double>& outputs = problem.output_times;
  times.clear();
  times.push_back(problem.t0);
  if (!IsAdaptive()) {
    // Same sequence as ARKODE's fixed-step mode with a stop time at every output: t += h, and a
    // step that would end past (or within round-off of) the output time ends exactly on it.
    const double h = options_.integrator_options.fixed_step;
    double estimate = 0.0;
    double a = problem.t0;
    for (const double b : outputs) {
      const double steps = std::ceil((b - a) / h * (1.0 - 1e-12));
      // Messages are built only on failure: these checks run on every Compute().
      if (steps > static_cast<double>(options_.integrator_options.max_steps)) {
        throw ConfigError(
            "gradient 'bptt': output interval [" + Num(a) + ", " + Num(b) + "] needs " +
            Num(steps) + " steps of fixed_step " + Num(h) +
            ", more than max_steps = " + std::to_string(options_.integrator_options.max_steps));
      }
      estimate += steps;
      a = b;
    }
    CheckMemory(static_cast<Index>(estimate), problem.z0.size());
    times.reserve(static_cast<std::size_t>(estimate) + 2);
    double t = problem.t0;
    for (const double b : outputs) {
      while (t < b) {
        const double next = t + h;
        if (next > b - 100.0 * kUnitRoundoff * (std::abs(t) + h)) {
          t = b;
        } else {
          t = next;
        }
        times.push_back(t);
      }
    }
    return;
  }
  // Adaptive: run the registered integrator once, recording its accepted steps.
  if (!recorder_) {
    IntegratorOptions recording = options_.integrator_options;
    recording.record_steps = true;
    recorder_ = IntegratorRegistry().Create(options_.integrator, recording);
  }
  Workspace& w = *work_;
  if (!implicit_) {
    // The stage slopes of the accepted steps are among the recording solve's f calls.
    w.recording_problem = problem;
    w.recording_problem.field = w.recording_field;
    w.recording_field->Bind(problem.field.get(), problem.z0.size(), options_.max_trajectory_bytes);
    try {
      recorder_->SolveInto(w.recording_problem, recording_);
    } catch (...) {
      w.recording_field->Disarm();
      throw;
    }
    w.recording_field->Disarm();
  } else {
    recorder_->SolveInto(problem, recording_);
  }
  const Trajectory& recorded = recording_;
  last_recording_rhs_evals_ = recorded.stats.rhs_evals;
  Require(!recorded.step_times.empty(),
          "gradient 'bptt': integrator '" + options_.integrator + "' recorded no step times");
  if (interpolate_) {
    // Outputs fall inside steps; only the last one is a stop time and ends the last step.
    for (std::size_t k = 1; k < recorded.step_times.size(); ++k) {
      if (recorded.step_times[k] > times.back()) times.push_back(recorded.step_times[k]);
    }
    const double last = outputs.back();
    Require(times.size() > 1 || last == problem.t0,
            "gradient 'bptt': integrator '" + options_.integrator + "' recorded no steps");
    if (times.size() > 1) {
      const double tolerance =
          1e-12 * std::max(std::abs(last), std::abs(times.back() - times[times.size() - 2]));
      Require(std::abs(times.back() - last) <= tolerance,
              "gradient 'bptt': recorded steps of integrator '" + options_.integrator +
                  "' end at " + Num(times.back()) + ", not at the last output time " + Num(last));
      times.back() = last;
    }
    return;
  }
  std::size_t next_output = 0;
  while (next_output < outputs.size() && outputs[next_output] <= problem.t0) ++next_output;
  for (std::size_t k = 1; k < recorded.step_times.size(); ++k) {
    double r = recorded.step_times[k];
    const double previous = times.back();
    if (next_output < outputs.size()) {
      const double out = outputs[next_output];
      const double tolerance = 1e-12 * std::max(std::abs(out), std::abs(r - previous));
      if (std::abs(r - out) <= tolerance) {
        r = out;  // ARKODE lands on stop times; remove any round-off in the record
        ++next_output;
      } else if (r > out) {
        throw ConfigError("gradient 'bptt': integrator '" + options_.integrator +
                          "' stepped over output time " + Num(out) + " (step ends at " + Num(r) +
                          ")");
      }
    }
    if (r > previous) times.push_back(r);
  }
  Require(next_output == outputs.size(), "gradient 'bptt': recorded steps of integrator '" +
                                             options_.integrator +
                                             "' do not reach every output time");
  return;
}

LossAndGradient Bptt::Compute(const OdeProblem& problem, const Loss& loss) {
  const auto start = std::chrono::steady_clock::now();
  last_recording_rhs_evals_ = 0;
  StepTimesInto(problem, step_times_);
  LossAndGradient result =
      Run(problem, loss, step_times_, last_recording_rhs_evals_, IsAdaptive() && !implicit_);
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
  VectorField& field = *problem.field;
  const Vector& theta = problem.theta;
  const Index n = problem.z0.size();
  const int s = tableau_.stages;
  const std::vector<double>& outputs = problem.output_times;
  const std::size_t num_outputs = outputs.size();

  // Validate the step sequence and map output times to step boundaries.
  if (times.empty() || times.front() != problem.t0) {
    throw ConfigError("gradient 'bptt': step sequence must start at t0 = " + Num(problem.t0));
  }
  const std::size_t num_steps = times.size() - 1;
  Workspace& w = *work_;
  w.Resize(n, s);
  w.output_at.assign(times.size(), -1);
  w.interior_start.assign(times.size(), 0);
  w.interior.clear();
  {
    std::size_t k = 0;
    for (std::size_t i = 0; i < num_outputs; ++i) {
      while (k < times.size() && times[k] < outputs[i]) ++k;
      if (k < times.size() && times[k] == outputs[i]) {
        w.output_at[k] = static_cast<int>(i);
      } else if (interpolate_ && k > 0 && k < times.size()) {
        w.interior.push_back(static_cast<int>(i));  // inside step k − 1
        ++w.interior_start[k];
      } else {
        throw ConfigError("gradient 'bptt': output time " + Num(outputs[i]) +
                          (interpolate_ ? " lies outside the steps" : " is not a step boundary"));
      }
    }
    // Counts per step (stored at the step's end index) → start offsets per step.
    std::size_t offset = 0;
    for (std::size_t j = 0; j + 1 < times.size(); ++j) {
      const std::size_t count = w.interior_start[j + 1];
      w.interior_start[j] = offset;
      offset += count;
    }
    w.interior_start[times.size() - 1] = offset;
    for (std::size_t j = 1; j < times.size(); ++j) {
      if (!(times[j] > times[j - 1])) {
        throw ConfigError("gradient 'bptt': step times must be strictly increasing (step " +
                          std::to_string(j) + " at t = " + Num(times[j]) + ")");
      }
    }
  }
  CheckMemory(static_cast<Index>(num_steps), n);

  const bool running_cost = loss.HasRunningCost();
  LossAndGradient result;
  result.dreadout = Vector::Zero(loss.num_readout_params());
  result.dtheta = Vector::Zero(theta.size());
  GradientStats& stats = result.stats;
  Trajectory& forward = result.forward;
  forward.times = outputs;
  forward.states.reserve(num_outputs);
  if (options_.integrator_options.record_steps) forward.step_times = times;

  w.z.resize((num_steps + 1) * static_cast<std::size_t>(n));
  w.stages.resize(num_steps * static_cast<std::size_t>(stored_stages_) *
                  static_cast<std::size_t>(n));
  if (w.dl_dz.size() < num_outputs) w.dl_dz.resize(num_outputs);
  double* const z_store = w.z.data();
  double* const stage_store = w.stages.data();
  const std::size_t un = static_cast<std::size_t>(n);
  const std::size_t step_stride = static_cast<std::size_t>(stored_stages_) * un;
  using ConstMap = Eigen::Map<const Vector>;
  using MutableMap = Eigen::Map<Vector>;
  auto z_at = [&](std::size_t k) { return z_store + k * un; };
  auto stage_at = [&](std::size_t step, int slot) {
    return stage_store + step * step_stride + static_cast<std::size_t>(slot) * un;
  };

  long rhs_evals = 0, vjp_evals = 0, jvp_evals = 0;
  RecordingField& recorded = *w.recording_field;
  // Each stage's saved forward pass (VectorField::FSaving), which its VJP reuses: from the record
  // of the recording solve, or, when the replay evaluates f itself, kept by the replay while the
  // memory limit allows; null when there is none.
  const std::size_t slots = num_steps * static_cast<std::size_t>(s);
  w.saved_at.assign(slots, nullptr);
  auto saved_at = [&](std::size_t step, int stage) -> const double*& {
    return w.saved_at[step * static_cast<std::size_t>(s) + static_cast<std::size_t>(stage)];
  };
  const std::size_t save_size = static_cast<std::size_t>(field.ForwardSaveSize());
  const double stage_save_bytes =
      static_cast<double>(slots) * static_cast<double>(save_size) * sizeof(double);
  const bool save_stages = !implicit_ && !use_recorded && save_size > 0 &&
                           EstimateBytes(static_cast<Index>(num_steps), n) + stage_save_bytes <=
                               options_.max_trajectory_bytes;
  if (save_stages && w.stage_saved.size() < slots * save_size) {
    w.stage_saved.resize(slots * save_size);
  }
  // k = f(t, y) for stage `stage` of step `step`, keeping the forward pass when the replay saves.
  auto evaluate = [&](double t, const double* y, VectorRef k, std::size_t step, int stage) {
    ++rhs_evals;
    if (!save_stages) {
      field.F(t, ConstMap(y, n), theta, k);
      return;
    }
    double* slot =
        w.stage_saved.data() +
        (step * static_cast<std::size_t>(s) + static_cast<std::size_t>(stage)) * save_size;
    field.FSaving(t, ConstMap(y, n), theta, k, slot);
    saved_at(step, stage) = slot;
  };
  // A stage slope from the record: true when taken (saved_at set from the record).
  auto take = [&](double t, double h, double* y, VectorRef k, std::size_t step, int stage) {
    if (!use_recorded) return false;
    const int entry = recorded.Take(t, h, y, k.data());
    if (entry < 0) return false;
    saved_at(step, stage) = recorded.Saved(entry);
    return true;
  };
  double loss_value = 0.0;

  auto output_term = [&](std::size_t k) {
    const int i = w.output_at[k];
    if (i < 0) return;
    const ConstMap zk(z_at(k), n);
    Vector& dl = w.dl_dz[static_cast<std::size_t>(i)];
    dl.resize(n);
    loss_value += loss.Term(static_cast<std::size_t>(i), outputs[static_cast<std::size_t>(i)], zk,
                            dl, result.dreadout);
    forward.states.emplace_back(zk);
  };
  auto check_finite = [&](std::size_t k) {
    const ConstMap zk(z_at(k), n);
    if (!zk.allFinite()) {
      throw NumericalError("gradient 'bptt': state became NaN/Inf at t = " + Num(times[k]) +
                           " (integrator '" + options_.integrator + "', step " + std::to_string(k) +
                           "); reduce the step or check the model");
    }
  };
  // Dense Jacobian of f at (t, z) into w.jac, counting JVPs when it is assembled from them.
  auto dense_jacobian = [&](double t, ConstVectorRef z) {
    field.DenseJacobian(t, z, theta, w.jac);
    if (!field.HasDenseJacobian()) jvp_evals += n;
  };

  // Outputs inside step `step` (interpolate_outputs), after its stages are in w.k.
  auto interior_terms = [&](std::size_t step) {
    const double t = times[step];
    const double h = times[step + 1] - t;
    const ConstMap zn(z_at(step), n), znext(z_at(step + 1), n);
    for (std::size_t q = w.interior_start[step]; q < w.interior_start[step + 1]; ++q) {
      const std::size_t i = static_cast<std::size_t>(w.interior[q]);
      const HermiteWeights c = Hermite((outputs[i] - t) / h);
      w.interp =
          c.h00 * zn + c.h01 * znext + (h * c.h10) * w.k.col(0) + (h * c.h11) * w.k.col(s - 1);
      Vector& dl = w.dl_dz[i];
      dl.resize(n);
      loss_value += loss.Term(i, outputs[i], w.interp, dl, result.dreadout);
      forward.states.emplace_back(w.interp);
    }
  };
  // The adjoint of those outputs, at the start of the reverse of step `step` (λ = ∂L/∂z_{n+1}).
  auto interior_adjoint = [&](std::size_t step) {
    if (w.interior_start[step] == w.interior_start[step + 1]) return false;
    const double t = times[step];
    const double h = times[step + 1] - t;
    w.extra_first.setZero();
    w.extra_last.setZero();
    w.extra_zn.setZero();
    for (std::size_t q = w.interior_start[step]; q < w.interior_start[step + 1]; ++q) {
      const std::size_t i = static_cast<std::size_t>(w.interior[q]);
      const HermiteWeights c = Hermite((outputs[i] - t) / h);
      const Vector& ybar = w.dl_dz[i];
      w.lambda.noalias() += c.h01 * ybar;
      w.extra_first.noalias() += (h * c.h10) * ybar;
      w.extra_last.noalias() += (h * c.h11) * ybar;
      w.extra_zn.noalias() += c.h00 * ybar;
    }
    return true;
  };

  std::copy(problem.z0.data(), problem.z0.data() + n, z_store);
  output_term(0);

  // ---------------------------------------------------------------- forward
  if (!implicit_) {
    for (std::size_t step = 0; step < num_steps; ++step) {
      const double t = times[step];
      const double h = times[step + 1] - t;
      const double* zn = z_at(step);
      double* znext = z_at(step + 1);
      if (step > 0 && fsal_) {
        w.k.col(0) = w.k.col(s - 1);
      } else if (!take(t, h, z_at(step), w.k.col(0), step, 0)) {
        evaluate(t, zn, w.k.col(0), step, 0);
      }
      if (step > 0 && fsal_) saved_at(step, 0) = saved_at(step - 1, s - 1);
      if (running_cost && tableau_.b[0] != 0.0) {
        loss_value += h * tableau_.b[0] * loss.RunningCost(t, ConstMap(zn, n));
      }
      for (int i = 1; i < s; ++i) {
        double* y = stage_slot_[i] >= 0 ? stage_at(step, stage_slot_[i]) : w.y_tmp.data();
        // ERKStep's order of operations (N_VLinearCombination): Σ_j (h a_ij) K_j, then + z_n.
        bool first = true;
        for (int j = 0; j < i; ++j) {
          const double c = h * tableau_.a(i, j);
          if (c == 0.0) continue;
          const double* kj = w.k.col(j).data();
          if (first) {
            for (Index e = 0; e < n; ++e) y[e] = c * kj[e];
            first = false;
          } else {
            for (Index e = 0; e < n; ++e) y[e] += c * kj[e];
          }
        }
        if (first) {
          for (Index e = 0; e < n; ++e) y[e] = zn[e];
        } else {
          for (Index e = 0; e < n; ++e) y[e] += zn[e];
        }
        const double ti = t + tableau_.c[i] * h;
        if (!take(ti, h, y, w.k.col(i), step, i)) evaluate(ti, y, w.k.col(i), step, i);
        if (running_cost && tableau_.b[i] != 0.0) {
          loss_value += h * tableau_.b[i] * loss.RunningCost(ti, ConstMap(y, n));
        }
      }
      bool first = true;
      for (int j = 0; j < s; ++j) {
        const double c = h * tableau_.b[j];
        if (c == 0.0) continue;
        const double* kj = w.k.col(j).data();
        if (first) {
          for (Index e = 0; e < n; ++e) znext[e] = c * kj[e];
          first = false;
        } else {
          for (Index e = 0; e < n; ++e) znext[e] += c * kj[e];
        }
      }
      for (Index e = 0; e < n; ++e) znext[e] += zn[e];
      check_finite(step + 1);
      if (interpolate_) interior_terms(step);
      output_term(step + 1);
    }
  } else {
    const bool dense = options_.integrator_options.linear_solver == "dense";
    const int max_iters = options_.integrator_options.max_nonlinear_iters + 10;
    // Newton on G(y) = y − base − γ f(t, y) = 0 from y = base (γ = h a_ii).
    auto solve_stage = [&](double ti, double gamma, const double* base_ptr, double* y_ptr) {
      const ConstMap base(base_ptr, n);
      MutableMap y(y_ptr, n);
      y = base;
      bool converged = false;
      double previous_norm = std::numeric_limits<double>::infinity();
      double delta_norm = 0.0;
      for (int iter = 0; iter < max_iters && !converged; ++iter) {
        field.F(ti, y, theta, w.f);
        ++rhs_evals;
        w.residual = y - base - gamma * w.f;
        w.residual = -w.residual;
        if (dense) {
          dense_jacobian(ti, y);
          w.m = -gamma * w.jac;
          w.m.diagonal().array() += 1.0;
          w.lu.compute(w.m);
          w.delta = w.lu.solve(w.residual);
        } else {
          auto apply = [&](ConstVectorRef v, VectorRef out) {
            field.Jvp(ti, y, theta, v, out);
            out = v - gamma * out;
          };
          w.gmres.Solve(apply, w.residual, w.delta, kGmresNewtonRtol,
                        options_.integrator_options.krylov_max_dim, &jvp_evals);
        }
        y += w.delta;
        delta_norm = w.delta.cwiseAbs().maxCoeff();
        const double scale = y.cwiseAbs().maxCoeff();
        // Converged, or stagnated at the round-off floor of the linear solve.
        converged = delta_norm <= kNewtonTolerance * scale ||
                    (delta_norm <= 1e-11 * scale && delta_norm >= 0.5 * previous_norm);
        previous_norm = delta_norm;
      }
      if (!converged) {
        throw NumericalError("gradient 'bptt': Newton iteration of integrator '" +
                             options_.integrator + "' did not converge at t = " + Num(ti) +
                             " (last |delta| = " + Num(delta_norm) +
                             "); reduce the step or raise max_nonlinear_iters");
      }
    };
    for (std::size_t step = 0; step < num_steps; ++step) {
      const double t = times[step];
      const double h = times[step + 1] - t;
      if (!dirk_) {
        // Backward Euler: z_{n+1} = z_n + h f(t_n + h, z_{n+1}) is the stage itself.
        const double t1 = t + tableau_.c[0] * h;
        solve_stage(t1, h, z_at(step), z_at(step + 1));
        if (running_cost) loss_value += h * loss.RunningCost(t1, ConstMap(z_at(step + 1), n));
      } else {
        // DIRK: Y_i = z_n + h Σ_{j<i} a_ij K_j + h a_ii f(t_i, Y_i), K_i = f(t_i, Y_i).
        const double* zn = z_at(step);
        double* znext = z_at(step + 1);
        for (int i = 0; i < s; ++i) {
          double* y = stage_slot_[i] >= 0 ? stage_at(step, stage_slot_[i]) : w.y_tmp.data();
          double* base = w.scaled.data();
          for (Index e = 0; e < n; ++e) base[e] = 0.0;
          for (int j = 0; j < i; ++j) {
            const double c = h * tableau_.a(i, j);
            if (c == 0.0) continue;
            const double* kj = w.k.col(j).data();
            for (Index e = 0; e < n; ++e) base[e] += c * kj[e];
          }
          for (Index e = 0; e < n; ++e) base[e] += zn[e];
          const double ti = t + tableau_.c[i] * h;
          const double gamma = h * tableau_.a(i, i);
          if (gamma != 0.0) {
            solve_stage(ti, gamma, base, y);
          } else {
            std::copy(base, base + n, y);
          }
          field.F(ti, ConstMap(y, n), theta, w.k.col(i));
          ++rhs_evals;
          if (running_cost && tableau_.b[i] != 0.0) {
            loss_value += h * tableau_.b[i] * loss.RunningCost(ti, ConstMap(y, n));
          }
        }
        bool first = true;
        for (int j = 0; j < s; ++j) {
          const double c = h * tableau_.b[j];
          if (c == 0.0) continue;
          const double* kj = w.k.col(j).data();
          if (first) {
            for (Index e = 0; e < n; ++e) znext[e] = c * kj[e];
            first = false;
          } else {
            for (Index e = 0; e < n; ++e) znext[e] += c * kj[e];
          }
        }
        for (Index e = 0; e < n; ++e) znext[e] += zn[e];
      }
      check_finite(step + 1);
      if (interpolate_) interior_terms(step);
      output_term(step + 1);
    }
  }

  // ---------------------------------------------------------------- reverse
  Vector& lambda = w.lambda;
  lambda.setZero();
  auto add_output_gradient = [&](std::size_t k) {
    const int i = w.output_at[k];
    if (i >= 0) lambda += w.dl_dz[static_cast<std::size_t>(i)];
  };
  add_output_gradient(num_steps);
  if (!implicit_) {
    for (std::size_t step = num_steps; step-- > 0;) {
      const double t = times[step];
      const double h = times[step + 1] - t;
      const bool interior = interpolate_ && interior_adjoint(step);
      for (int i = s - 1; i >= 0; --i) {
        if (!stage_used_[i]) continue;
        // ḡ_i = h b_i λ + h Σ_{j>i} a_ji μ_j
        w.gbar = (h * tableau_.b[i]) * lambda;
        for (int j = i + 1; j < s; ++j) {
          if (!stage_used_[j] || tableau_.a(j, i) == 0.0) continue;
          w.gbar.noalias() += (h * tableau_.a(j, i)) * w.mu.col(j);
        }
        if (interior && i == 0) w.gbar += w.extra_first;
        if (interior && i == s - 1) w.gbar += w.extra_last;
        const double* y = i == 0 ? z_at(step) : stage_at(step, stage_slot_[i]);
        const double ti = t + tableau_.c[i] * h;
        const double* saved = saved_at(step, i);
        if (saved != nullptr) {
          field.VjpSaved(ti, ConstMap(y, n), theta, saved, w.gbar, w.mu.col(i), result.dtheta);
        } else {
          field.Vjp(ti, ConstMap(y, n), theta, w.gbar, w.mu.col(i), result.dtheta);
        }
        ++vjp_evals;
        if (running_cost && tableau_.b[i] != 0.0) {
          loss.RunningCostGradient(ti, ConstMap(y, n), w.grad_g);
          w.mu.col(i).noalias() += (h * tableau_.b[i]) * w.grad_g;
        }
      }
      for (int i = 0; i < s; ++i) {
        if (stage_used_[i]) lambda += w.mu.col(i);
      }
      if (interior) lambda += w.extra_zn;
      add_output_gradient(step);
    }
  } else {
    const bool dense = options_.integrator_options.linear_solver == "dense";
    // Solves (I − γ J(t, y)ᵀ) x = rhs into w.x.
    auto transposed_solve = [&](double ti, double gamma, ConstVectorRef y, const Vector& rhs) {
      if (dense) {
        dense_jacobian(ti, y);
        w.m = -gamma * w.jac;
        w.m.diagonal().array() += 1.0;
        w.lu.compute(w.m);
        w.x = w.lu.transpose().solve(rhs);
        return;
      }
      auto apply = [&](ConstVectorRef v, VectorRef out) {
        field.VjpState(ti, y, theta, v, out);
        out = v - gamma * out;
      };
      long applies = 0;
      const double residual = w.gmres.Solve(apply, rhs, w.x, kGmresAdjointRtol,
                                            options_.integrator_options.krylov_max_dim, &applies);
      vjp_evals += applies;
      if (!(residual <= 1e-8)) {
        throw NumericalError(
            "gradient 'bptt': GMRES for the transposed stage system of "
            "integrator '" +
            options_.integrator + "' reached only relative residual " + Num(residual) +
            " at t = " + Num(ti) + "; raise krylov_max_dim or use linear_solver dense");
      }
    };
    for (std::size_t step = num_steps; step-- > 0;) {
      const double t = times[step];
      const double h = times[step + 1] - t;
      const bool interior = interpolate_ && interior_adjoint(step);
      if (!dirk_) {
        // (I − h J(z_{n+1}))ᵀ x = λ (+ h ∂g/∂z for a running cost); dL/dθ += h f_θᵀ x.
        const double t1 = t + tableau_.c[0] * h;
        const ConstMap z1(z_at(step + 1), n);
        if (running_cost) {
          loss.RunningCostGradient(t1, z1, w.grad_g);
          lambda.noalias() += h * w.grad_g;
        }
        transposed_solve(t1, h, z1, lambda);
        w.scaled = h * w.x;
        field.VjpParams(t1, z1, theta, w.scaled, result.dtheta);
        ++vjp_evals;
        lambda = w.x;
      } else {
        // DIRK, i = s…1: (I − h a_ii J_iᵀ) κ_i = h b_i λ + h Σ_{j>i} a_ji ν_j (+ h a_ii h b_i
        // ∂g/∂z), ν_i = J_iᵀ κ_i (+ h b_i ∂g/∂z), dL/dθ += f_θ(Y_i)ᵀ κ_i, ∂L/∂z_n = λ + Σ ν_i.
        for (int i = s - 1; i >= 0; --i) {
          if (!stage_used_[i]) continue;
          const double ti = t + tableau_.c[i] * h;
          const ConstMap y(stage_at(step, stage_slot_[i]), n);
          w.gbar = (h * tableau_.b[i]) * lambda;
          for (int j = i + 1; j < s; ++j) {
            if (!stage_used_[j] || tableau_.a(j, i) == 0.0) continue;
            w.gbar.noalias() += (h * tableau_.a(j, i)) * w.mu.col(j);
          }
          if (interior && i == 0) w.gbar += w.extra_first;
          if (interior && i == s - 1) w.gbar += w.extra_last;
          const bool stage_cost = running_cost && tableau_.b[i] != 0.0;
          if (stage_cost) {
            loss.RunningCostGradient(ti, y, w.grad_g);
            w.gbar.noalias() += (h * tableau_.a(i, i) * h * tableau_.b[i]) * w.grad_g;
          }
          const double gamma = h * tableau_.a(i, i);
          if (gamma != 0.0) {
            transposed_solve(ti, gamma, y, w.gbar);
          } else {
            w.x = w.gbar;
          }
          field.Vjp(ti, y, theta, w.x, w.mu.col(i), result.dtheta);
          ++vjp_evals;
          if (stage_cost) w.mu.col(i).noalias() += (h * tableau_.b[i]) * w.grad_g;
        }
        for (int i = 0; i < s; ++i) {
          if (stage_used_[i]) lambda += w.mu.col(i);
        }
        if (interior) lambda += w.extra_zn;
      }
      add_output_gradient(step);
    }
  }

  if (!result.dtheta.allFinite() || !lambda.allFinite()) {
    throw NumericalError("gradient 'bptt': the reverse pass produced NaN/Inf (integrator '" +
                         options_.integrator +
                         "'): the field's vector-Jacobian products are not finite along the "
                         "forward trajectory; check the model");
  }
  result.loss = loss_value;
  result.dz0 = lambda;
  stats.forward_rhs_evals = rhs_evals + recording_rhs_evals;
  stats.backward_rhs_evals = 0;  // every stage state is stored; nothing is recomputed
  stats.vjp_evals = vjp_evals;
  stats.jvp_evals = jvp_evals;
  stats.forward_steps = static_cast<long>(num_steps);
  stats.backward_steps = static_cast<long>(num_steps);
  // The trajectory, and the saved forward passes and recorded f calls held for the reverse pass.
  stats.stored_bytes = EstimateBytes(static_cast<Index>(num_steps), n) +
                       (use_recorded ? recorded.Bytes() : 0.0) +
                       (save_stages ? stage_save_bytes : 0.0);
  forward.stats.steps = static_cast<long>(num_steps);
  forward.stats.rhs_evals = stats.forward_rhs_evals;
  forward.stats.jvp_evals = jvp_evals;
  return result;
}

}  // namespace snode
