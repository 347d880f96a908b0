#include "studies/reaction_diffusion_bench.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "adjoint/finite_difference.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "io/files.hpp"
#include "models/operator_field.hpp"
#include "problems/reaction_diffusion.hpp"
#include "studies/bench_util.hpp"
#include "studies/report.hpp"

namespace snode {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A method of the benchmark and the sizes it runs at (`Skip` returns why not, "" to run).
struct ScalingMethod {
  std::string label;
  std::string gradient;
  std::string integrator;
  std::string linear_solver;
  std::string preconditioner;
  std::string backward_integrator;  // empty: the forward one
  std::function<std::string(Index points, const ReactionDiffusionBenchOptions&,
                            const std::vector<ScalingRun>& earlier)>
      skip;
};

std::string NoSkip(Index, const ReactionDiffusionBenchOptions&, const std::vector<ScalingRun>&) {
  return "";
}

// bptt/sdirk keeps every stage of every step: its tape at N is predicted from the largest smaller
// size it ran at (linear in N, the steps barely change with N under the preconditioned solve).
std::string SkipAfterCostlyRun(Index, const ReactionDiffusionBenchOptions&,
                               const std::vector<ScalingRun>& earlier);

std::string SkipLargeTape(Index points, const ReactionDiffusionBenchOptions& options,
                          const std::vector<ScalingRun>& earlier) {
  const std::string costly = SkipAfterCostlyRun(points, options, earlier);
  if (!costly.empty()) return costly;
  for (auto it = earlier.rbegin(); it != earlier.rend(); ++it) {
    if (!it->ran || it->last.threw) continue;
    const double predicted =
        it->last.stats.stored_bytes * static_cast<double>(points) / static_cast<double>(it->points);
    if (predicted > options.tape_limit_bytes) {
      return "tape ~" + FormatBytes(predicted) + " (from " +
             FormatBytes(it->last.stats.stored_bytes) + " at N = " + std::to_string(it->points) +
             ") exceeds the " + FormatBytes(options.tape_limit_bytes) + " limit";
    }
    return "";
  }
  return "";
}

// A method runs at a size only while every smaller size took under 10 s: backsolve_adjoint
// reconstructs z backward in time, where diffusion is unstable, so its cost explodes with N;
// bptt/sdirk's cost grows faster than N (the benchmark's table shows its counts).
std::string SkipAfterCostlyRun(Index, const ReactionDiffusionBenchOptions&,
                               const std::vector<ScalingRun>& earlier) {
  for (const ScalingRun& run : earlier) {
    if (!run.ran) return "skipped at N = " + std::to_string(run.points) + " already";
    if (!run.seconds.empty() && run.seconds.front() > 10.0) {
      return "took " + FormatSeconds(run.seconds.front()) +
             " at N = " + std::to_string(run.points) +
             (run.last.stats.flagged ? " and was flagged" : std::string());
    }
  }
  return "";
}

// Dense Newton: n JVPs per Jacobian and O(n³) per factorisation, so only the smallest size; above
// kMaxDenseNewtonStates states the library refuses it.
std::string SkipDense(Index points, const ReactionDiffusionBenchOptions&,
                      const std::vector<ScalingRun>&) {
  if (2 * points > kMaxDenseNewtonStates) {
    return "refused by the library above " + std::to_string(kMaxDenseNewtonStates) +
           " states (an n × n matrix)";
  }
  if (points > 100) return "n JVPs per Jacobian and O(n³) per factorisation";
  return "";
}

std::vector<ScalingMethod> ScalingMethods() {
  std::vector<ScalingMethod> methods;
  methods.push_back(
      {MainScalingMethod(), "cvodes_adjoint", "cvodes_bdf", "gmres", "field", "sdirk", NoSkip});
  methods.push_back(
      {ReferenceScalingMethod(), "cvodes_adjoint", "cvodes_bdf", "gmres", "field", "", NoSkip});
  methods.push_back({"cvodes_adjoint/cvodes_bdf gmres+band", "cvodes_adjoint", "cvodes_bdf",
                     "gmres", "band", "",
                     [](Index points, const ReactionDiffusionBenchOptions& o,
                        const std::vector<ScalingRun>&) -> std::string {
                       if (points <= o.band_max_points) return "";
                       return "the band preconditioner leaves out the periodic corners: its "
                              "Krylov iterations grow with N (over 7 min at N = 10⁵)";
                     }});

  methods.push_back({"cvodes_adjoint/cvodes_bdf gmres", "cvodes_adjoint", "cvodes_bdf", "gmres",
                     "none", "",
                     [](Index points, const ReactionDiffusionBenchOptions& o,
                        const std::vector<ScalingRun>&) -> std::string {
                       if (points <= o.unpreconditioned_max_points) return "";
                       return "unpreconditioned Krylov iterations grow with the stiffness ∝ N²";
                     }});
  methods.push_back({"cvodes_adjoint/cvodes_bdf dense", "cvodes_adjoint", "cvodes_bdf", "dense",
                     "none", "", SkipDense});
  methods.push_back({"backsolve_adjoint/cvodes_bdf gmres+field", "backsolve_adjoint", "cvodes_bdf",
                     "gmres", "field", "", SkipAfterCostlyRun});
  methods.push_back(
      {"bptt/sdirk gmres+field", "bptt", "sdirk", "gmres", "field", "", SkipLargeTape});
  methods.push_back({"bptt/dopri5 (explicit)", "bptt", "dopri5", "dense", "none", "",
                     [](Index points, const ReactionDiffusionBenchOptions& o,
                        const std::vector<ScalingRun>&) -> std::string {
                       if (points <= o.explicit_max_points) return "";
                       const double steps = 2.0 * 4e-3 * double(points) * double(points) / 3.3;
                       return "explicit: ~" + FormatCompact(steps) +
                              " steps (step < 3.3/|λ|max, |λ|max = 4e-3·N²)";
                     }});
  return methods;
}

// The tight reference's method: CVODES' own checkpointed backward, which the main method (an
// sdirk backward) does not share.
ScalingMethod ReferenceMethod() {
  for (const ScalingMethod& method : ScalingMethods()) {
    if (method.label == ReferenceScalingMethod()) return method;
  }
  throw std::logic_error("reaction-diffusion bench: no reference method");
}

MethodSpec SpecFor(const ScalingMethod& method, double rtol, double atol) {
  MethodSpec spec = MakeMethod(method.gradient, method.integrator, rtol, atol);
  spec.options.tolerance_check = false;  // the time of one gradient, not of its self-check
  spec.options.integrator_options.linear_solver = method.linear_solver;
  spec.options.integrator_options.preconditioner = method.preconditioner;
  spec.options.backward_integrator = method.backward_integrator;
  spec.settings = method.label.substr(method.label.find(' ') + 1);
  return spec;
}

OperatorPlusPointwiseField* OperatorField(const problems::ProblemSetup& setup) {
  return dynamic_cast<OperatorPlusPointwiseField*>(setup.ode.field.get());
}

// ‖g − ref‖₂/‖ref‖₂ and max_i |g_i − ref_i|/‖ref‖∞ over the first ref.size() entries (dL/dθ).
void CompareWithReference(const Vector& reference, ScalingRun& run) {
  run.error = run.max_component_error = kNaN;
  if (reference.size() == 0 || run.last.threw || run.last.gradient.size() < reference.size()) {
    return;
  }
  const Vector difference = run.last.gradient.head(reference.size()) - reference;
  run.error = difference.norm() / reference.norm();
  run.max_component_error = difference.cwiseAbs().maxCoeff() / reference.cwiseAbs().maxCoeff();
}

void RunRepetitions(const ScalingMethod& method, const problems::ProblemSetup& setup,
                    const ReactionDiffusionBenchOptions& options, ScalingRun& run,
                    std::ostream* progress) {
  const MethodSpec spec = SpecFor(method, options.rtol, options.atol);
  OperatorPlusPointwiseField* field = OperatorField(setup);
  const bool record_costs = field != nullptr && method.label == MainScalingMethod();
  for (int r = 0; r < options.repetitions; ++r) {
    auto costs = std::make_shared<OperatorFieldCosts>();
    if (record_costs && r == 0) field->SetCostRecorder(costs);
    const bool rss_reset = r == 0 && ResetPeakResidentMemory();
    run.last = RunGradient(spec, setup.ode, *setup.loss);
    if (r == 0) run.peak_rss_bytes = rss_reset ? PeakResidentMemoryBytes() : kNaN;
    if (record_costs && r == 0) {
      field->SetCostRecorder(nullptr);
      run.operator_seconds = costs->operator_seconds;
      run.pointwise_seconds = costs->pointwise_seconds;
      run.setup_seconds = costs->setup_seconds;
      run.solve_seconds = costs->solve_seconds;
      run.operator_calls = costs->operator_calls;
      run.pointwise_calls = costs->pointwise_calls;
    }
    run.seconds.push_back(run.last.seconds);
    run.cpu_seconds.push_back(run.last.cpu_seconds);
    if (progress != nullptr) {
      *progress << "  N = " << run.points << "  " << run.label << "  " << (r + 1) << "/"
                << options.repetitions << "  "
                << (run.last.threw ? "failed: " + run.last.message
                                   : FormatSeconds(run.last.seconds))
                << std::endl;
    }
    if (run.last.threw) break;  // a failure repeats; one message is enough
  }
}

// Central differences (Richardson-extrapolated, relative step 1e-3) of L at the reference
// tolerances on a few θ entries, against the reference gradient.
void DifferenceCheck(const problems::ProblemSetup& setup,
                     const ReactionDiffusionBenchOptions& options, ScalingSize& size) {
  size.difference_error = kNaN;
  if (size.points > options.difference_max_points || size.reference.size() == 0) return;
  const MethodSpec spec =
      SpecFor(ReferenceMethod(), options.reference_rtol * 1e-2, options.reference_atol * 1e-2);
  LossMap map(setup.ode, *setup.loss, spec.options);
  const Index params = size.reference.size();
  const double scale = size.reference.cwiseAbs().maxCoeff();
  double worst = 0.0;
  for (int k = 0; k < options.difference_entries; ++k) {
    const Index i =
        options.difference_entries == 1 ? 0 : (params - 1) * k / (options.difference_entries - 1);
    const double x = map.base()(i);
    const double h = 1e-3 * std::max(1.0, std::abs(x));
    auto quotient = [&](double step) {
      return (map.WithComponent(i, x + step) - map.WithComponent(i, x - step)) / (2.0 * step);
    };
    const double d = (4.0 * quotient(h / 2.0) - quotient(h)) / 3.0;
    size.difference_entries.push_back(i);
    size.differences.push_back(d);
    worst = std::max(worst, std::abs(size.reference(i) - d) / std::max(std::abs(d), 1e-3 * scale));
  }
  size.difference_error = worst;
}

ScalingSize RunSize(const problems::ProblemSetup& setup, Index points, double data_seconds,
                    const ReactionDiffusionBenchOptions& options,
                    const std::vector<ScalingSize>& earlier, std::ostream* progress) {
  ScalingSize size;
  size.points = points;
  size.data_seconds = data_seconds;
  if (progress != nullptr) {
    *progress << "N = " << points << ": data in " << FormatSeconds(size.data_seconds) << std::endl;
  }
  const GradientRun reference =
      RunGradient(SpecFor(ReferenceMethod(), options.reference_rtol, options.reference_atol),
                  setup.ode, *setup.loss);
  size.reference_seconds = reference.seconds;
  if (reference.threw) {
    size.reference_failure = reference.message;
  } else {
    size.reference = reference.gradient.head(setup.ode.theta.size());
  }
  DifferenceCheck(setup, options, size);
  const std::vector<ScalingMethod> methods = ScalingMethods();
  for (std::size_t m = 0; m < methods.size(); ++m) {
    std::vector<ScalingRun> before;
    for (const ScalingSize& e : earlier) before.push_back(e.runs[m]);
    ScalingRun run;
    run.label = methods[m].label;
    run.points = points;
    run.skipped = methods[m].skip(points, options, before);
    if (run.skipped.empty()) {
      run.ran = true;
      RunRepetitions(methods[m], setup, options, run, progress);
      CompareWithReference(size.reference, run);
    }
    size.runs.push_back(std::move(run));
  }
  return size;
}

// The second of two gradients in a row of the main method (the first warms caches and the
// allocator, as the repetitions before it do in a training loop); NaN when it fails.
double WarmMainSeconds(const problems::ProblemSetup& setup,
                       const ReactionDiffusionBenchOptions& options) {
  const MethodSpec spec = SpecFor(ScalingMethods().front(), options.rtol, options.atol);
  for (int k = 0;; ++k) {
    const GradientRun run = RunGradient(spec, setup.ode, *setup.loss);
    if (run.threw) return kNaN;
    if (k == 1) return run.seconds;
  }
}

// ScalingSize::paired_ratios of `large` against `small` (sizes a decade apart).
void PairedRatios(const problems::ProblemSetup& small_setup,
                  const problems::ProblemSetup& large_setup,
                  const ReactionDiffusionBenchOptions& options, Index small_points,
                  ScalingSize& large, std::ostream* progress) {
  for (int r = 0; r < options.repetitions; ++r) {
    const double small_seconds = WarmMainSeconds(small_setup, options);
    const double large_seconds = WarmMainSeconds(large_setup, options);
    if (!std::isfinite(small_seconds) || !std::isfinite(large_seconds)) return;
    large.paired_small_seconds.push_back(small_seconds);
    large.paired_seconds.push_back(large_seconds);
    large.paired_ratios.push_back(large_seconds / small_seconds);
    if (progress != nullptr) {
      *progress << "  pair " << (r + 1) << "/" << options.repetitions << "  N = " << small_points
                << ": " << FormatSeconds(small_seconds) << ", N = " << large.points << ": "
                << FormatSeconds(large_seconds) << "  ratio "
                << FormatNumber(large_seconds / small_seconds, 3) << std::endl;
    }
  }
}

}  // namespace

const char* MainScalingMethod() { return "cvodes_adjoint/cvodes_bdf gmres+field, sdirk backward"; }
const char* ReferenceScalingMethod() { return "cvodes_adjoint/cvodes_bdf gmres+field"; }

void ReactionDiffusionBenchOptions::Validate() const {
  Require(!sizes.empty(), "reaction-diffusion bench: no grid sizes given");
  for (const Index n : sizes) {
    Require(n >= 3 && n <= 10000000,
            "reaction-diffusion bench: a grid size must be between 3 and 1e7 points, got " +
                std::to_string(n));
  }
  Require(repetitions >= 1, "reaction-diffusion bench: repetitions must be >= 1");
  Require(rtol > 0 && atol > 0 && reference_rtol > 0 && reference_atol > 0,
          "reaction-diffusion bench: tolerances must be positive");
  Require(difference_entries >= 1, "reaction-diffusion bench: difference_entries must be >= 1");
}

std::vector<ScalingSize> RunReactionDiffusionBench(const ReactionDiffusionBenchOptions& options,
                                                   std::ostream* progress) {
  options.Validate();
  std::vector<Index> sizes = options.sizes;
  std::sort(sizes.begin(), sizes.end());  // smallest first: the peak-memory marks stay honest
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  std::vector<ScalingSize> results;
  std::vector<problems::ProblemSetup> setups;  // kept for the paired ratios (data: 20 states each)
  for (const Index points : sizes) {
    problems::ReactionDiffusionOptions problem_options;
    problem_options.points = points;
    problem_options.seed = options.seed;
    const bench::Stopwatch data_clock;
    setups.push_back(problems::MakeReactionDiffusionProblem(problem_options));
    const double data_seconds = data_clock.Seconds();
    results.push_back(RunSize(setups.back(), points, data_seconds, options, results, progress));
  }
  for (std::size_t k = 1; k < results.size(); ++k) {
    if (results[k].points != 10 * results[k - 1].points) continue;
    const ScalingRun& small = results[k - 1].runs.front();
    const ScalingRun& large = results[k].runs.front();
    if (!small.ran || small.last.threw || !large.ran || large.last.threw) continue;
    if (progress != nullptr)
      *progress << "paired runs of " << MainScalingMethod() << ":" << std::endl;
    PairedRatios(setups[k - 1], setups[k], options, results[k - 1].points, results[k], progress);
  }
  return results;
}

bool ResetPeakResidentMemory() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

double PeakResidentMemoryBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      double kib = kNaN;
      fields >> kib;
      return kib * 1024.0;
    }
  }
  return kNaN;
}

}  // namespace snode
