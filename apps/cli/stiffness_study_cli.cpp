#include "apps/cli/stiffness_study_cli.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "problems/problem_registry.hpp"
#include "studies/stiffness_plan.hpp"
#include "studies/thread_pool.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "stiffness_study: gradient error and cost of BPTT, the backsolve adjoint and the CVODES\n"
    "adjoint on problems of growing stiffness: built-in problems (--list-problems), problems from\n"
    "plug-ins (--plugin) and reaction networks or linear systems from files (--problem-file).\n"
    "usage: stiffness_study [options]      e.g. stiffness_study --problems vdp --lambdas 1e1:1e5";

constexpr std::size_t kMaxListEntries = 20;  // --tolerances, --robertson-horizons

void AddStudyOptions(po::options_description& desc) {
  CommonDefaults defaults;
  defaults.out = "results/stiffness";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("preset", po::value<std::string>()->default_value("default"),
       "what to run unless the flags below say otherwise: quick (3 problems, 5 methods, one "
       "tolerance: seconds), default (6 problems, 10 methods, 2 tolerances), full (every "
       "registered problem, 12 methods, 4 tolerances, λ two decades further, training)")
      ("problems", po::value<std::string>(),
       "comma-separated problem names (see --list-problems); default: the preset's")
      ("problem-file", po::value<std::vector<std::string>>()->composing(),
       "register the problem of the JSON file FILE (a reaction network or a linear system; "
       "docs/file-formats.md) under its \"name\" (repeatable)")
      ("list-problems", po::bool_switch(), "list the registered problems and exit")
      ("lambdas", po::value<std::string>(),
       "the λ grid of the swept problems: a list 1,10,100, a decade range 1e1:1e5 or N "
       "log-spaced values 1:1e4:13; default: each problem's own")
      ("lambda-max", po::value<double>(), "the grid λ = 1, 10, …, up to this value")
      ("methods", po::value<std::string>(),
       "comma-separated GRADIENT/INTEGRATOR[/BACKWARD] pairs; default: the preset's")
      ("tolerances", po::value<std::string>(),
       "comma-separated rtol values of the adaptive methods (atol = rtol × the problem's scale)")
      ("threads", po::value<int>(), "runs in parallel, 1 to 256 (default: the machine's cores); "
       "the results do not depend on it")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run counts as ok (1e-16 to 1)")
      ("tables", po::bool_switch(), "also print every problem's full table")
      ("train", po::value<std::string>(), "on|off: train the trainable problems (default: the "
       "preset's; on in full)")
      ("neural-iterations", po::value<int>()->default_value(30),
       "Adam steps per method when the study trains (1 to 100000)")
      ("neural-lr", po::value<double>()->default_value(1e-2),
       "Adam learning rate when the study trains (1e-9 to 10)")
      ("robertson-horizons", po::value<std::string>()->default_value("40,1e5"),
       "Robertson end times T of --bench")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workload W5 (Robertson, both losses, --robertson-horizons) N times: medians of the "
       "time per gradient and dL/dk errors; writes <out>/bench.json");
  // clang-format on
}

std::vector<std::string> ReadProblemFiles(const Flags& flags) {
  if (flags.count("problem-file") == 0) return {};
  const auto files = flags["problem-file"].as<std::vector<std::string>>();
  for (const std::string& path : files) RequireRegularFile(path, "--problem-file");
  return files;
}

std::vector<double> ReadLambdas(const Flags& flags) {
  const bool max_set = flags.count("lambda-max") != 0;
  Require(!(flags.count("lambdas") && max_set), "give either --lambdas or --lambda-max, not both");
  if (max_set) {
    const double lambda_max = flags["lambda-max"].as<double>();
    Require(std::isfinite(lambda_max) && lambda_max >= 1.0,
            "--lambda-max must be a finite number >= 1 (λ > 0), got " + FormatNumber(lambda_max));
    Require(lambda_max <= std::pow(10.0, static_cast<double>(kMaxLambdas - 1)),
            "--lambda-max " + FormatCompact(lambda_max) + ": the decades 1, 10, … up to it are " +
                "more than " + std::to_string(kMaxLambdas) + " values of λ");
    return ParseLambdaSpec("1:" + FormatNumber(lambda_max, 17), "--lambda-max");
  }
  if (!flags.count("lambdas")) return {};
  return ParseLambdaSpec(flags["lambdas"].as<std::string>(), "--lambdas");
}

std::vector<double> ReadTolerances(const Flags& flags) {
  if (!flags.count("tolerances")) return {};
  const std::vector<double> tolerances =
      ParseDoubleList(flags["tolerances"].as<std::string>(), "--tolerances");
  Require(tolerances.size() <= kMaxListEntries,
          "--tolerances: at most " + std::to_string(kMaxListEntries) + " values, got " +
              std::to_string(tolerances.size()));
  for (const double tol : tolerances) {
    Require(std::isfinite(tol) && tol >= 1e-15 && tol < 1.0,
            "--tolerances: rtol must lie in [1e-15, 1), got " + FormatNumber(tol) +
                UnrepresentableNote(tol));
  }
  return SortedUnique(tolerances);
}

std::vector<double> ReadRobertsonHorizons(const Flags& flags) {
  const std::vector<double> horizons =
      ParseDoubleList(flags["robertson-horizons"].as<std::string>(), "--robertson-horizons");
  Require(horizons.size() <= kMaxListEntries,
          "--robertson-horizons: at most " + std::to_string(kMaxListEntries) + " values, got " +
              std::to_string(horizons.size()));
  for (const double horizon : horizons) {
    Require(horizon > 0.0, "--robertson-horizons: T must be positive, got " +
                               FormatNumber(horizon) + UnrepresentableNote(horizon));
    Require(horizon >= 1e-6 && horizon <= 1e11,
            "--robertson-horizons: T must be between 1e-6 and 1e11 (time units), got " +
                FormatNumber(horizon) + UnrepresentableNote(horizon));
  }
  return horizons;
}

// The problems the study runs (without checking the names: --problem-file names are not yet
// registered) and whether one of them is trainable.
bool AnyTrainable(const StiffnessOptions& options) {
  std::vector<std::string> names = options.problems;
  if (names.empty()) names = FindPreset(options.preset).problems;
  if (names.empty()) names = problems::ProblemRegistry().Names();
  return std::any_of(names.begin(), names.end(), [](const std::string& name) {
    return problems::ProblemRegistry().Contains(name) &&
           problems::ProblemRegistry()
               .Create(name, problems::ProblemOptions{})
               ->Capabilities()
               .trainable;
  });
}

// --train, and --neural-iterations / --neural-lr when the study trains.
void ReadTraining(const Flags& flags, StiffnessOptions& options) {
  if (flags.count("train")) {
    const std::string train = flags["train"].as<std::string>();
    Require(train == "on" || train == "off", "--train must be on or off, got '" + train + "'");
    options.train_neural = train == "on" ? 1 : 0;
  }
  const bool train = options.train_neural < 0 ? FindPreset(options.preset).train_neural
                                              : options.train_neural == 1;
  const bool trainable = AnyTrainable(options);
  Require(!(options.train_neural == 1 && !trainable),
          "--train on: none of the selected problems is trainable (a trainable one: neural)");
  if (!(train && trainable)) {
    for (const char* flag : {"neural-iterations", "neural-lr"}) {
      Require(!flags.Given(flag), std::string("--") + flag +
                                      " applies only when the study trains (--train on or "
                                      "--preset full, with a trainable problem such as neural); "
                                      "this run trains nothing; leave it out");
    }
    return;
  }
  options.neural_iterations =
      static_cast<int>(Count(flags, "neural-iterations", 1, 100000, "(Adam steps)"));
  options.neural_lr = Number(flags, "neural-lr", 1e-9, 10.0, "(Adam's learning rate)");
}

// --preset, --problems, --problem-file and the λ grid: what the sweep (or the check) runs on.
void ReadProblemChoice(const Flags& flags, StiffnessCommandLine& line) {
  StiffnessOptions& options = line.study;
  options.preset = FindPreset(flags["preset"].as<std::string>()).name;
  if (flags.count("problems")) {
    options.problems = ParseNameList(flags["problems"].as<std::string>());
    Require(!options.problems.empty(), "--problems: name at least one problem");
  }
  options.lambdas = ReadLambdas(flags);
  line.problem_files = ReadProblemFiles(flags);
  if (line.problem_files.empty()) CheckProblemNames(options);  // before any work
}

// The flags of the sweep itself (not --bench).
void ReadSweep(const Flags& flags, StiffnessOptions& options) {
  if (flags.count("methods")) {
    options.methods = ParseMethodList(flags["methods"].as<std::string>(), "--methods");
  }
  options.tolerances = ReadTolerances(flags);
  options.threads = flags.count("threads")
                        ? static_cast<int>(Count(flags, "threads", 1, 256, "(runs in parallel)"))
                        : HardwareThreads();
  ReadTraining(flags, options);
  options.plots = !flags["no-plots"].as<bool>();
  options.tables = flags["tables"].as<bool>();
}

}  // namespace

void CheckProblemNames(const StiffnessOptions& options) { SelectedProblems(options); }

StiffnessCommandLine ReadStiffnessCommandLine(const Flags& flags) {
  StiffnessCommandLine line;
  if (flags["list-problems"].as<bool>()) {
    line.list_problems = true;
    line.problem_files = ReadProblemFiles(flags);
    RejectUnusedFlags(flags, "--list-problems");
    return line;
  }
  line.common = ReadCommonOptions(flags);
  const CommonOptions& common = line.common;
  StiffnessOptions& options = line.study;
  options.ok_tol = Number(flags, "ok-tol", 1e-16, 1.0, "(a relative error)");
  RejectMethodOptions(common, "stiffness_study");
  options.overrides = ToMethodOverrides(common);
  options.seed = common.seed;
  options.check_gradients = common.check_gradient;  // --check-gradient(s): the notes as well
  options.quiet = common.quiet;
  options.out_dir = common.out_dir;
  const bool bench = flags.count("bench") != 0;
  if (!bench || common.check_gradient) ReadProblemChoice(flags, line);
  if (bench) {
    line.bench_repetitions = Count(flags, "bench", 1, 1000, "(repetitions)");
    options.robertson_horizons = ReadRobertsonHorizons(flags);
    options.plots = false;
    flags.MarkRead("no-plots");  // honoured: the bench draws no plots
  } else {
    ReadSweep(flags, options);
  }
  RejectUnusedFlags(flags, bench ? "stiffness_study --bench" : "stiffness_study without --bench");
  return line;
}

AppCommandLine StiffnessStudyCommandLine() {
  return {"stiffness_study", kUsage, AddStudyOptions,
          [](const Flags& flags) { ReadStiffnessCommandLine(flags); }};
}

}  // namespace snode::app
