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
//
// The flags, which of them apply where, and their ranges: apps/cli/stiffness_study_cli.hpp.
//
// Built with SNODE_MPI and started by mpirun, the study's runs are spread over the ranks
// (distributed/mpi_session.hpp, RunOnRanks; docs/distributed.md) and rank 0 writes the same
// results as the serial program; otherwise serial.

#include "studies/stiffness_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/stiffness_study_cli.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "core/gradient_reducer.hpp"
#ifdef SNODE_MPI
#include "distributed/mpi_session.hpp"
#endif
#include "problems/problem_file.hpp"
#include "problems/problem_registry.hpp"
#include "studies/bench_util.hpp"
#include "studies/stiffness_report.hpp"
#include "studies/study_report.hpp"

namespace snode::app {
namespace {

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
void RegisterProblemFiles(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
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

// report.html and report.md in the output directory, the verdict on the terminal.
void Report(const StiffnessOptions& options, const StiffnessResults& results, RunInfo run) {
  const StudyReportFiles files = WriteStiffnessReport(options, results, std::move(run));
  std::cout << "\n";
  PrintVerdictTable(results.records, std::cout);
  if (!files.figures_note.empty() && options.plots)
    std::cout << "note: " << files.figures_note << "\n";
  std::cout << "report: " << files.html << " (also " << files.markdown << ")\n";
}

int Run(int argc, char** argv, GradientReducer& ranks) {
  RunInfo run = StartRunInfo(argc, argv);
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, StiffnessStudyCommandLine(), std::cout);
  if (!flags) return 0;
  const StiffnessCommandLine line = ReadStiffnessCommandLine(*flags);
  RegisterProblemFiles(line.problem_files);
  if (line.list_problems) {
    ListProblems(std::cout);
    return 0;
  }
  const CommonOptions& common = line.common;
  const StiffnessOptions& options = line.study;
  if (!line.problem_files.empty()) CheckProblemNames(options);
  Require(!line.bench_repetitions || ranks.size() == 1,
          "--bench measures one process; run it without mpirun");
  // Rank 0 alone writes: an unwritable --out is found before any work.
  const bool root = ranks.rank() == 0;
  if (root) PrepareOutputDirectory(options.out_dir);
  const auto start = std::chrono::steady_clock::now();
  if (common.check_gradient && root) CheckStudyGradients(options, common);
  if (line.bench_repetitions) {
    const int repetitions = bench::CheckRepetitions(*line.bench_repetitions);  // and its note
    ReportRobertsonBench(RunRobertsonBench(options, repetitions), repetitions, options.out_dir);
    return 0;
  }
  const StiffnessResults results = RunStiffnessStudy(options, std::cout, ranks);
  if (!root) return 0;
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
  auto run = [&](snode::GradientReducer& ranks) {
    return snode::app::RunApp([&] { return snode::app::Run(argc, argv, ranks); });
  };
#ifdef SNODE_MPI
  return snode::RunOnRanks(argc, argv, run);
#else
  return run(snode::SerialReduction());
#endif
}
