#include "studies/gradient_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/tolerance_check.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "studies/bench_util.hpp"
#include "studies/report.hpp"

namespace snode {

std::string MethodSpec::Label() const {
  return gradient + "/" + integrator + (settings.empty() ? "" : " " + settings);
}

MethodSpec MakeMethod(const std::string& gradient, const std::string& integrator, double rtol,
                      double atol, double fixed_step, const std::string& settings) {
  MethodSpec spec;
  spec.gradient = gradient;
  spec.integrator = integrator;
  spec.options.integrator = integrator;
  spec.options.integrator_options.rtol = rtol;
  spec.options.integrator_options.atol = atol;
  spec.options.integrator_options.fixed_step = fixed_step;
  // A study judges single gradients: each estimates its own error (adjoint/tolerance_check.hpp).
  spec.options.tolerance_check = fixed_step == 0.0;
  if (!settings.empty()) {
    spec.settings = settings;
  } else if (fixed_step > 0.0) {
    spec.settings = "h=" + FormatCompact(fixed_step);
  } else if (rtol == atol) {
    spec.settings = "tol=" + FormatCompact(rtol);
  } else {
    spec.settings = "tol=" + FormatCompact(rtol) + "/" + FormatCompact(atol);
  }
  return spec;
}

bool GradientRun::Finite() const {
  return !threw && std::isfinite(loss) && gradient.size() > 0 && gradient.allFinite();
}

GradientRun RunGradient(const MethodSpec& spec, const OdeProblem& problem, const Loss& loss) {
  GradientRun run;
  run.spec = spec;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = bench::ThreadCpuSeconds();
  try {
    auto method = CreateGradientMethod(spec.gradient, spec.options);
    LossAndGradient result = method->Compute(problem, loss);
    run.loss = result.loss;
    run.gradient.resize(result.dtheta.size() + result.dz0.size());
    run.gradient << result.dtheta, result.dz0;
    run.forward_states = std::move(result.forward.states);
    run.stats = result.stats;
  } catch (const std::exception& e) {
    // Solver failures are results here, not errors: the study records them and moves on.
    run.threw = true;
    run.message = e.what();
    run.gradient.resize(0);
    run.forward_states.clear();
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.cpu_seconds = bench::ThreadCpuSeconds() - cpu_start;
  return run;
}

bool SupportsCombination(const MethodSpec& spec, std::string* reason) {
  if (!GradientRegistry().Contains(spec.gradient)) {
    if (reason) *reason = "gradient method '" + spec.gradient + "' is not registered";
    return false;
  }
  if (!IntegratorRegistry().Contains(spec.integrator)) {
    if (reason) *reason = "integrator '" + spec.integrator + "' is not registered";
    return false;
  }
  const std::string& backward = spec.options.backward_integrator;
  if (!backward.empty() && !IntegratorRegistry().Contains(backward)) {
    if (reason) *reason = "integrator '" + backward + "' is not registered";
    return false;
  }
  const OdeProblem probe = problems::DecayOde(1.0);
  const LinearFunctionalLoss loss = problems::DecayLoss();
  try {
    auto method = GradientRegistry().Create(spec.gradient, spec.options);
    method->Compute(probe, loss);
  } catch (const ConfigError& e) {
    if (reason) *reason = e.what();
    return false;
  } catch (const std::exception&) {
    // A numerical failure on the probe is a result, not an unsupported combination.
  }
  return true;
}

GradientError CompareGradient(const Vector& g, const Vector& exact) {
  GradientError error;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (g.size() == 0 || !g.allFinite()) {
    error.rel = error.abs = error.underflow_abs = nan;
    for (Index i = 0; i < exact.size(); ++i) error.underflow |= std::abs(exact(i)) < kUnderflow;
    return error;
  }
  Require(g.size() == exact.size(), "CompareGradient: gradient length " + std::to_string(g.size()) +
                                        " != exact length " + std::to_string(exact.size()));
  for (Index i = 0; i < g.size(); ++i) {
    const double diff = std::abs(g(i) - exact(i));
    error.abs = std::max(error.abs, diff);
    if (std::abs(exact(i)) >= kUnderflow) {
      error.rel = std::max(error.rel, diff / std::abs(exact(i)));
    } else {
      error.underflow = true;
      error.underflow_abs = std::max(error.underflow_abs, diff);
    }
  }
  return error;
}

bool WithinTolerance(const Vector& g, const Vector& exact, double ok_tol, double abs_tol,
                     bool abs_for_all) {
  if (g.size() != exact.size() || !g.allFinite()) return false;
  for (Index i = 0; i < g.size(); ++i) {
    const double e = std::abs(exact(i));
    const double allowed = ok_tol * e + ((abs_for_all || e < kUnderflow) ? abs_tol : 0.0);
    if (!(std::abs(g(i) - exact(i)) <= allowed)) return false;
  }
  return true;
}

std::string Classify(const GradientRun& run, const Vector& exact, double ok_tol, double abs_tol,
                     bool abs_for_all) {
  if (run.threw) return "failed";
  if (!run.Finite()) return "non-finite";
  // The method's own diagnosis outranks the comparison: a flagged gradient is never "ok".
  if (run.stats.flagged) return "flagged";
  return WithinTolerance(run.gradient, exact, ok_tol, abs_tol, abs_for_all) ? "ok" : "inaccurate";
}

namespace {

// Backward-pass scaffolding shared by the two reconstructions.
struct BackwardPass {
  std::shared_ptr<detail::BacksolveAugmentedField> field;
  std::unique_ptr<Integrator> integrator;
  Index n = 0;
  Index p = 0;
};

BackwardPass MakeBackwardPass(const MethodSpec& spec, const OdeProblem& problem, const Loss& loss) {
  BackwardPass pass;
  pass.field = std::make_shared<detail::BacksolveAugmentedField>(problem.field, &loss);
  pass.integrator = IntegratorRegistry().Create(spec.options.EffectiveBackwardIntegrator(),
                                                spec.options.EffectiveBackwardOptions());
  pass.n = problem.field->state_size();
  pass.p = problem.field->num_params();
  return pass;
}

// y = [z(T); ∂ℓ_N/∂z; 0].
Vector InitialAugmentedState(const BackwardPass& pass, const OdeProblem& problem, const Loss& loss,
                             const std::vector<Vector>& forward_states) {
  Require(forward_states.size() == problem.output_times.size(),
          "backsolve reconstruction: forward states do not match the output times");
  Vector y = Vector::Zero(2 * pass.n + pass.p);
  const std::size_t last = problem.output_times.size() - 1;
  y.head(pass.n) = forward_states[last];
  Vector dl(pass.n), readout(loss.num_readout_params());
  readout.setZero();
  loss.Term(last, problem.output_times[last], forward_states[last], dl, readout);
  y.segment(pass.n, pass.n) = dl;
  return y;
}

// Adds ∂ℓ_i/∂z at observation i (a jump of the adjoint).
void AddJump(const BackwardPass& pass, const OdeProblem& problem, const Loss& loss,
             const std::vector<Vector>& forward_states, std::size_t i, Vector* y) {
  Vector dl(pass.n), readout(loss.num_readout_params());
  readout.setZero();
  loss.Term(i, problem.output_times[i], forward_states[i], dl, readout);
  y->segment(pass.n, pass.n) += dl;
}

// Solves the augmented system from s_from to s_to (s = −t); returns false on failure.
bool Advance(BackwardPass& pass, const OdeProblem& problem, double s_from, double s_to, Vector* y,
             std::string* message) {
  if (!(s_to > s_from)) return true;
  OdeProblem segment;
  segment.field = pass.field;
  segment.z0 = *y;
  segment.theta = problem.theta;
  segment.t0 = s_from;
  segment.output_times = {s_to};
  try {
    const Trajectory trajectory = pass.integrator->Solve(segment);
    *y = trajectory.states.back();
  } catch (const std::exception& e) {
    *message = e.what();
    return false;
  }
  if (!y->head(pass.n).allFinite()) {
    *message = "z became non-finite at t = " + FormatNumber(-s_to, 4);
    return false;
  }
  return true;
}

}  // namespace

Reconstruction ReconstructBacksolve(const MethodSpec& spec, const OdeProblem& problem,
                                    const Loss& loss, const std::vector<Vector>& forward_states,
                                    int grid_points) {
  Require(grid_points >= 2, "ReconstructBacksolve: need at least 2 grid points");
  Reconstruction result;
  BackwardPass pass = MakeBackwardPass(spec, problem, loss);
  Vector y = InitialAugmentedState(pass, problem, loss, forward_states);
  const double t_end = problem.output_times.back();
  const double t0 = problem.t0;
  // Grid in t from T down to t0, merged with the earlier observation times (jumps).
  std::vector<double> times;
  for (int k = 0; k < grid_points; ++k) {
    times.push_back(t_end - (t_end - t0) * k / (grid_points - 1));
  }
  for (std::size_t i = 0; i + 1 < problem.output_times.size(); ++i) {
    times.push_back(problem.output_times[i]);
  }
  std::sort(times.begin(), times.end(), std::greater<double>());
  times.erase(std::unique(times.begin(), times.end()), times.end());

  std::size_t next_obs = problem.output_times.size() - 1;  // index of the next jump below
  result.times.push_back(t_end);
  result.states.push_back(y.head(pass.n));
  for (std::size_t k = 1; k < times.size(); ++k) {
    // Apply jumps at observation times equal to the current point (t_k-1), before moving on.
    while (next_obs > 0 && problem.output_times[next_obs - 1] >= times[k - 1]) {
      --next_obs;
      AddJump(pass, problem, loss, forward_states, next_obs, &y);
    }
    if (!Advance(pass, problem, -times[k - 1], -times[k], &y, &result.message)) return result;
    result.times.push_back(times[k]);
    result.states.push_back(y.head(pass.n));
  }
  result.complete = true;
  return result;
}

bool ReconstructInitialState(const MethodSpec& spec, const OdeProblem& problem, const Loss& loss,
                             const std::vector<Vector>& forward_states, Vector* z0_rec,
                             std::string* message) {
  BackwardPass pass = MakeBackwardPass(spec, problem, loss);
  Vector y = InitialAugmentedState(pass, problem, loss, forward_states);
  // One segment per observation interval, as the backsolve adjoint does.
  for (std::size_t i = problem.output_times.size(); i-- > 0;) {
    if (i + 1 < problem.output_times.size()) AddJump(pass, problem, loss, forward_states, i, &y);
    const double lower = i > 0 ? problem.output_times[i - 1] : problem.t0;
    if (!Advance(pass, problem, -problem.output_times[i], -lower, &y, message)) return false;
  }
  *z0_rec = y.head(pass.n);
  return true;
}

std::string JoinNumbers(const Vector& v) {
  std::string text;
  char buffer[40];
  for (Index i = 0; i < v.size(); ++i) {
    std::snprintf(buffer, sizeof buffer, "%.17g", v(i));
    text += (i ? ";" : "") + std::string(buffer);
  }
  return text;
}

// ---------------------------------------------------------------- method matrices

MethodSpec WithBackward(MethodSpec spec, const std::string& backward) {
  spec.options.backward_integrator = backward;
  spec.settings += " bwd=" + backward;
  return spec;
}

namespace {

// settings with its first word ("tol=…" or "h=…") replaced by the one MakeMethod builds for io.
std::string RewriteStepSettings(const std::string& settings, const IntegratorOptions& io) {
  const std::string head = MakeMethod("", "", io.rtol, io.atol, io.fixed_step).settings;
  const std::size_t space = settings.find(' ');
  const bool has_step_word = settings.rfind("tol=", 0) == 0 || settings.rfind("h=", 0) == 0;
  if (!has_step_word) return settings.empty() ? head : head + " " + settings;
  return space == std::string::npos ? head : head + settings.substr(space);
}

// Whether the spec's integrator declares interpolated outputs (false when it cannot be created
// with the spec's options: the run itself then reports why).
bool DeclaresInterpolatedOutputs(const MethodSpec& spec) {
  try {
    return IntegratorRegistry()
        .Create(spec.integrator, spec.options.integrator_options)
        ->Capabilities()
        .interpolated_outputs;
  } catch (const ConfigError&) {
    return false;
  }
}

void ApplySettings(const MethodOverrides& overrides, MethodSpec& spec) {
  IntegratorOptions& io = spec.options.integrator_options;
  const IntegratorOptions& given = overrides.given;
  const bool adaptive = io.fixed_step == 0.0;
  bool changed = false;
  if (overrides.rtol_set && adaptive) io.rtol = given.rtol, changed = true;
  if (overrides.atol_set && adaptive) io.atol = given.atol, changed = true;
  if (overrides.step_set && given.fixed_step > 0.0 && !adaptive) {
    io.fixed_step = given.fixed_step, changed = true;
  }
  if (overrides.outputs_set && adaptive) {
    io.interpolate_outputs = overrides.outputs == "interpolate" ||
                             (overrides.outputs == "auto" && DeclaresInterpolatedOutputs(spec));
  }
  if (overrides.max_steps_set) io.max_steps = given.max_steps;
  if (overrides.linear_solver_set) io.linear_solver = given.linear_solver;
  if (overrides.preconditioner_set) io.preconditioner = given.preconditioner;
  if (overrides.step_controller_set) io.step_controller = given.step_controller;
  if (changed) spec.settings = RewriteStepSettings(spec.settings, io);
  const std::string& backward = overrides.backward_integrator;
  if (!overrides.backward_integrator_set || backward == spec.options.backward_integrator) return;
  const std::string old_word = "bwd=" + spec.options.backward_integrator;
  const std::size_t at = spec.settings.find(old_word);
  if (!spec.options.backward_integrator.empty() && at != std::string::npos) {
    spec.settings.replace(at, old_word.size(), backward.empty() ? "" : "bwd=" + backward);
    spec.options.backward_integrator = backward;
  } else if (!backward.empty()) {
    spec = WithBackward(spec, backward);
  }
}

}  // namespace

std::vector<MethodSpec> SelectMethods(std::vector<MethodSpec> specs,
                                      const MethodOverrides& overrides) {
  std::vector<MethodSpec> selected;
  for (MethodSpec& spec : specs) {
    if (overrides.gradient_set && spec.gradient != overrides.gradient) continue;
    if (overrides.integrator_set && spec.integrator != overrides.integrator) continue;
    selected.push_back(std::move(spec));
  }
  if (selected.empty()) {
    const IntegratorOptions& io = overrides.given;
    selected.push_back(
        MakeMethod(overrides.gradient, overrides.integrator, io.rtol, io.atol, io.fixed_step));
    selected.back().options.integrator_options = io;
  }
  // Settings applied to every method can make two alike (one backward integrator for all).
  std::vector<MethodSpec> distinct;
  for (MethodSpec& spec : selected) {
    ApplySettings(overrides, spec);
    const auto same = [&](const MethodSpec& other) { return other.Label() == spec.Label(); };
    if (std::none_of(distinct.begin(), distinct.end(), same)) distinct.push_back(std::move(spec));
  }
  return distinct;
}

std::vector<MethodSpec> SupportedOnly(const std::vector<MethodSpec>& specs,
                                      std::vector<std::string>* notes) {
  std::vector<MethodSpec> supported;
  for (const MethodSpec& spec : specs) {
    std::string reason;
    if (SupportsCombination(spec, &reason)) {
      supported.push_back(spec);
    } else {
      const std::string note = "skipped " + spec.Label() + ": " + reason;
      if (std::find(notes->begin(), notes->end(), note) == notes->end()) notes->push_back(note);
    }
  }
  return supported;
}

// ---------------------------------------------------------------- sweeps

std::vector<double> DecadesUpTo(double lambda_max) {
  std::vector<double> lambdas;
  for (double l = 1.0; l <= lambda_max * (1.0 + 1e-12); l *= 10.0) lambdas.push_back(l);
  if (lambdas.empty() || std::abs(lambdas.back() - lambda_max) > 1e-9 * lambda_max) {
    lambdas.push_back(lambda_max);
  }
  return lambdas;
}

std::vector<double> SortedUnique(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

namespace {

StudyProblem FromSetup(std::string name, problems::ProblemSetup setup, bool abs_for_all) {
  StudyProblem problem;
  problem.name = std::move(name);
  problem.lambda = setup.stiffness;
  problem.exact = setup.exact_gradient.value_or(Vector());
  problem.abs_for_all = abs_for_all;
  problem.setup = std::move(setup);
  return problem;
}

}  // namespace

StudyProblem DecayStudyProblem(double lambda) {
  return FromSetup("W1", problems::MakeDecay(lambda), true);
}

StudyProblem TwoRateStudyProblem(double lambda) {
  return FromSetup("W1b", problems::MakeTwoRateDecay(lambda), false);
}

GradientRecord Evaluate(const StudyProblem& problem, const MethodSpec& spec, double ok_tol,
                        double abs_tol) {
  GradientRecord record;
  record.problem = problem.name;
  record.lambda = problem.lambda;
  record.run = RunGradient(spec, problem.setup.ode, *problem.setup.loss);
  record.exact = problem.exact;
  record.error = CompareGradient(record.run.gradient, problem.exact);
  record.status = Classify(record.run, problem.exact, ok_tol, abs_tol, problem.abs_for_all);
  return record;
}

ReconstructionPanel PanelOf(double lambda, const Reconstruction& reconstruction) {
  ReconstructionPanel panel;
  panel.lambda = lambda;
  panel.times = reconstruction.times;
  for (const Vector& state : reconstruction.states) panel.values.push_back(state(0));
  panel.complete = reconstruction.complete;
  return panel;
}

}  // namespace snode
