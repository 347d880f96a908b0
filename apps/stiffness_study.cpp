// stiffness_study: where each gradient method breaks as a problem gets stiffer (the study itself
// is studies/stiffness_study.hpp, what it runs studies/stiffness_plan.hpp). Terminal: a header,
// a progress bar, the verdict table and the path of the report; in --out: report.html and
// report.md, stiffness_results.csv and .json (schema in docs/file-formats.md), the figures.
//
// --check-gradient (alias --check-gradients, which also adds the study's central-difference
// notes): CheckStudyGradients below, before the study.
//
// --bench N: Robertson, N repetitions: dL/dk on [0, T] for T = --robertson-horizons and both
// losses (final time, sum of observations) by every Robertson method plus the CVODES adjoint
// ladder; time per gradient (median, min, max) and the relative error of dL/dk against the tight
// reference, as a table and <out>/bench.json.

#include "studies/stiffness_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "problems/problem_file.hpp"
#include "problems/problem_registry.hpp"
#include "studies/bench_util.hpp"
#include "studies/stiffness_report.hpp"
#include "studies/study_report.hpp"
#include "studies/thread_pool.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "stiffness_study: gradient error and cost of BPTT, the backsolve adjoint and the CVODES\n"
    "adjoint on problems of growing stiffness: built-in problems (--list-problems), problems from\n"
    "plug-ins (--plugin) and reaction networks or linear systems from files (--problem-file).\n"
    "usage: stiffness_study [options]      e.g. stiffness_study --problems vdp --lambdas 1e1:1e5";

void AddStudyOptions(po::options_description& desc) {
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
      ("threads", po::value<int>(), "runs in parallel (default: the machine's cores); the results "
       "do not depend on it")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run counts as ok")
      ("tables", po::bool_switch(), "also print every problem's full table")
      ("train", po::value<std::string>(), "on|off: train the trainable problems (default: the "
       "preset's; on in full)")
      ("neural-iterations", po::value<int>()->default_value(30), "Adam steps per method")
      ("neural-lr", po::value<double>()->default_value(1e-2), "Adam learning rate")
      ("robertson-horizons", po::value<std::string>()->default_value("40,1e5"),
       "Robertson end times T of --bench")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workload W5 (Robertson, both losses, --robertson-horizons) N times: medians of the "
       "time per gradient and dL/dk errors; writes <out>/bench.json");
  // clang-format on
}

MethodOverrides Overrides(const CommonOptions& c) {
  RejectMethodOptions(c, "stiffness_study");
  return ToMethodOverrides(c);
}

std::vector<double> ReadLambdas(const Flags& vm) {
  const bool max_set = vm.count("lambda-max") != 0;
  Require(!(vm.count("lambdas") && max_set), "give either --lambdas or --lambda-max, not both");
  if (max_set) {
    const double lambda_max = vm["lambda-max"].as<double>();
    Require(std::isfinite(lambda_max) && lambda_max >= 1.0,
            "--lambda-max must be a finite number >= 1 (λ > 0), got " + FormatNumber(lambda_max));
    Require(lambda_max <= std::pow(10.0, static_cast<double>(kMaxLambdas - 1)),
            "--lambda-max " + FormatCompact(lambda_max) + ": the decades 1, 10, … up to it are " +
                "more than " + std::to_string(kMaxLambdas) + " values of λ");
    return ParseLambdaSpec("1:" + FormatNumber(lambda_max, 17), "--lambda-max");
  }
  if (!vm.count("lambdas")) return {};
  return ParseLambdaSpec(vm["lambdas"].as<std::string>(), "--lambdas");
}

std::vector<double> ReadTolerances(const Flags& vm) {
  if (!vm.count("tolerances")) return {};
  const std::vector<double> tolerances =
      ParseDoubleList(vm["tolerances"].as<std::string>(), "--tolerances");
  for (const double tol : tolerances) {
    Require(std::isfinite(tol) && tol >= 1e-15 && tol < 1.0,
            "--tolerances: rtol must lie in [1e-15, 1), got " + FormatNumber(tol));
  }
  return SortedUnique(tolerances);
}

void ReadTraining(const Flags& vm, StiffnessOptions& options) {
  if (vm.count("train")) {
    const std::string train = vm["train"].as<std::string>();
    Require(train == "on" || train == "off", "--train must be on or off, got '" + train + "'");
    options.train_neural = train == "on" ? 1 : 0;
  }
  options.neural_iterations = vm["neural-iterations"].as<int>();
  Require(options.neural_iterations >= 1, "--neural-iterations must be >= 1");
  options.neural_lr = vm["neural-lr"].as<double>();
  Require(std::isfinite(options.neural_lr) && options.neural_lr > 0.0,
          "--neural-lr must be positive");
}

StiffnessOptions ReadStudyOptions(const Flags& vm, const CommonOptions& common) {
  StiffnessOptions options;
  options.preset = FindPreset(vm["preset"].as<std::string>()).name;
  if (vm.count("problems")) {
    options.problems = ParseNameList(vm["problems"].as<std::string>());
    Require(!options.problems.empty(), "--problems: name at least one problem");
  }
  options.lambdas = ReadLambdas(vm);
  if (vm.count("methods")) {
    options.methods = ParseMethodList(vm["methods"].as<std::string>(), "--methods");
  }
  options.tolerances = ReadTolerances(vm);
  options.threads = HardwareThreads();
  if (vm.count("threads")) {
    options.threads = vm["threads"].as<int>();
    Require(options.threads >= 1 && options.threads <= 256,
            "--threads must lie in 1 … 256, got " + std::to_string(options.threads));
  }
  options.ok_tol = vm["ok-tol"].as<double>();
  Require(std::isfinite(options.ok_tol) && options.ok_tol > 0.0,
          "--ok-tol must be positive, got " + FormatNumber(options.ok_tol));
  options.robertson_horizons =
      ParseDoubleList(vm["robertson-horizons"].as<std::string>(), "--robertson-horizons");
  for (const double horizon : options.robertson_horizons) {
    Require(horizon > 0.0,
            "--robertson-horizons: T must be positive, got " + FormatNumber(horizon));
  }
  ReadTraining(vm, options);
  options.plots = !vm["no-plots"].as<bool>();
  options.tables = vm["tables"].as<bool>();
  options.overrides = Overrides(common);
  options.seed = common.seed;
  options.check_gradients = common.check_gradient;  // --check-gradient(s): the notes as well
  options.quiet = common.quiet;
  options.out_dir = common.out_dir;
  SelectedProblems(options);  // unknown names fail here, before any work
  return options;
}

// --check-gradient: the --gradient method with the common integrator and tolerances on every
// selected problem at every λ of its sweep, before the study, within the study's step budget
// unless --max-steps says otherwise. A check that fails to run is reported, not fatal.
void CheckStudyGradients(const StiffnessOptions& options, CommonOptions common) {
  if (!options.overrides.max_steps_set) common.integrator_options.max_steps = options.max_steps;
  const StudyPreset& preset = FindPreset(options.preset);
  problems::ProblemOptions problem_options;
  problem_options.seed = options.seed;
  for (const std::string& name : SelectedProblems(options)) {
    const auto definition = problems::ProblemRegistry().Create(name, problem_options);
    const problems::ProblemCapabilities capabilities = definition->Capabilities();
    for (const double lambda : SweepFor(capabilities, options.lambdas, preset.extra_decades)) {
      const std::string label = name + " " + capabilities.parameter + "=" + FormatCompact(lambda);
      try {
        const problems::ProblemSetup setup = definition->Make(lambda);
        RunGradientCheck(label, setup.ode, *setup.loss, common, std::cout);
      } catch (const Error& e) {
        std::cout << "gradient check " << label << ": could not run: " << e.what() << "\n\n";
      }
    }
  }
}

// --problem-file FILE...: registered before any problem name is looked up.
void RegisterProblemFiles(const Flags& vm) {
  if (vm.count("problem-file") == 0) return;
  for (const std::string& path : vm["problem-file"].as<std::vector<std::string>>()) {
    problems::RegisterProblemFile(problems::ProblemRegistry(), path);
  }
}

void ListProblems(std::ostream& out) {
  Table table({"problem", "parameter", "default grid", "gradient", "what"});
  for (const std::string& name : problems::ProblemRegistry().Names()) {
    const auto capabilities =
        problems::ProblemRegistry().Create(name, problems::ProblemOptions{})->Capabilities();
    std::string grid;
    for (const double lambda : capabilities.default_lambdas) {
      grid += (grid.empty() ? "" : ",") + FormatCompact(lambda);
    }
    table.AddRow({name, capabilities.sweeps ? capabilities.parameter : "-", grid,
                  capabilities.exact_gradient ? "exact" : "reference", capabilities.description});
  }
  table.Print(out);
}

// How the reference gradients of a problem were obtained, in one line for the report.
std::string ReferenceSummary(const StudiedProblem& problem) {
  std::vector<std::string> distinct;
  for (const std::string& reference : problem.references) {
    if (std::find(distinct.begin(), distinct.end(), reference) == distinct.end()) {
      distinct.push_back(reference);
    }
  }
  if (distinct.size() == 1) return distinct.front();
  std::string text;
  for (std::size_t i = 0; i < problem.references.size() && i < problem.lambdas.size(); ++i) {
    text += (text.empty() ? "" : "; ") + problem.capabilities.parameter + " = " +
            FormatCompact(problem.lambdas[i]) + ": " + problem.references[i];
  }
  return text;
}

// report.html and report.md in the output directory, the verdict on the terminal.
void Report(const StiffnessOptions& options, const StiffnessResults& results, RunInfo run) {
  StudyReportInput input;
  input.run = std::move(run);
  input.run.preset = results.preset;
  input.run.threads = results.threads;
  input.run.ok_tol = options.ok_tol;
  for (const StudiedProblem& problem : results.problems) {
    input.problems.push_back(
        MakeProblemInfo(problem.name, problem.capabilities, ReferenceSummary(problem)));
  }
  input.records = results.records;
  input.panels = results.panels;
  input.neural = results.neural;
  input.findings = results.summary;
  input.notes = results.notes;
  input.figures = options.plots;
  FinishRunInfo(input.run);
  const StudyReportFiles files = WriteStudyReport(options.out_dir, input);
  std::cout << "\n";
  PrintVerdictTable(input.records, std::cout);
  if (!files.figures_note.empty() && options.plots)
    std::cout << "note: " << files.figures_note << "\n";
  std::cout << "report: " << files.html << " (also " << files.markdown << ")\n";
}

int Run(int argc, char** argv) {
  RunInfo run = StartRunInfo(argc, argv);
  po::options_description desc("Options");
  CommonDefaults defaults;
  defaults.out = "results/stiffness";
  AddCommonOptions(desc, defaults);
  AddStudyOptions(desc);
  const Flags vm = ParseCommandLine(argc, argv, desc);
  RegisterProblemFiles(vm);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  if (vm["list-problems"].as<bool>()) {
    ListProblems(std::cout);
    return 0;
  }
  const CommonOptions common = ReadCommonOptions(vm);
  const StiffnessOptions options = ReadStudyOptions(vm, common);
  const auto start = std::chrono::steady_clock::now();
  EnsureDirectory(options.out_dir);
  if (common.check_gradient) CheckStudyGradients(options, common);
  if (vm.count("bench")) {
    const int repetitions = bench::CheckRepetitions(vm["bench"].as<long>());
    ReportRobertsonBench(RunRobertsonBench(options, repetitions), repetitions, options.out_dir);
    return 0;
  }
  const StiffnessResults results = RunStiffnessStudy(options, std::cout);
  if (options.check_gradients) {
    for (const std::string& note : results.notes) {
      if (note.rfind("check-gradients", 0) == 0) std::cout << "note: " << note << "\n";
    }
  }
  WriteStiffnessOutputs(options, results, start, std::cout);
  Report(options, results, std::move(run));
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
