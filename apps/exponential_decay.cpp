// exponential_decay: the seed's adjoint-failure experiment, verbatim (the study itself is
// studies/decay_study.hpp):
//
//   dy/dt = −λ y,  t ∈ (0, 1),  y(0) = 1,  L = y(1);   exact y(1) = e^{−λ},
//   dL/dλ = −e^{−λ},  dL/dy0 = e^{−λ}      (λ = 100 and 10 000 by default)
//
// Prints a table per λ and method with a verdict (ok / reasonable / inaccurate / non-finite /
// failed) and the findings; files in --out: decay_results.csv, decay_results.json and (unless
// --no-plots) decay_backsolve as PNG and SVG (studies/decay_report.hpp).
//
// --check-gradient: the --gradient method (default bptt/dopri5 at the common tolerances) is
// checked on the decay at every λ before the study (apps/common/app_common.hpp).
//
// --bench N: the decay and the two-rate decay, N repetitions of every (method, integrator) pair
// over λ = 1, 10, 100, 1e3, 1e4 (or --lambdas); time per gradient (median, min, max), NFE,
// errors and status per pair and λ, as a table and <out>/bench.json (studies/bench_util.hpp).

#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/exponential_decay_cli.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "problems/decay.hpp"
#include "studies/bench_util.hpp"
#include "studies/decay_report.hpp"
#include "studies/decay_study.hpp"

namespace snode::app {
namespace {

// --check-gradient: the --gradient method on the decay at every λ (a verdict each).
void CheckDecayGradients(const std::vector<double>& lambdas, const CommonOptions& common) {
  for (const double lambda : lambdas) {
    const problems::ProblemSetup setup = problems::MakeDecay(lambda);
    RunGradientCheck("decay λ=" + FormatCompact(lambda), setup.ode, *setup.loss, common, std::cout);
  }
}

int Run(int argc, char** argv) {
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, ExponentialDecayCommandLine(), std::cout);
  if (!flags) return 0;
  DecayCommandLine line = ReadDecayCommandLine(*flags);
  const CommonOptions& common = line.common;
  DecayOptions& options = line.study;
  PrepareOutputDirectory(options.out_dir);
  if (common.check_gradient) CheckDecayGradients(options.lambdas, common);
  if (line.bench_repetitions) {
    if (!line.lambdas_given) options.lambdas = {1.0, 10.0, 100.0, 1e3, 1e4};
    const int repetitions = bench::CheckRepetitions(*line.bench_repetitions);  // and its note
    ReportDecayBench(options, RunDecayBench(options.lambdas, options.ok_tol, repetitions),
                     repetitions);
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  const DecayResults results = RunDecayStudy(options);
  PrintDecayTable(results.rows, std::cout);
  PrintDecayFindings(results, std::cout);
  WriteDecayOutputs(options, results, start, std::cout);
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
