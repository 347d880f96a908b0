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
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "problems/decay.hpp"
#include "studies/bench_util.hpp"
#include "studies/decay_report.hpp"
#include "studies/decay_study.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "exponential_decay: the seed's experiment dy/dt = -λy, y(0) = 1, t in (0, 1): forward error,\n"
    "gradients dL/dλ and dL/dy0 of L = y(1), and the backsolve adjoint's reconstructed y(0).\n"
    "usage: exponential_decay [options]      e.g. exponential_decay --lambdas 100,1e4";

void AddDecayOptions(po::options_description& desc) {
  // clang-format off
  desc.add_options()
      ("lambdas", po::value<std::string>()->default_value("100,1e4"),
       "comma-separated decay rates λ > 0")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run is ok")
      ("usable-abs", po::value<double>()->default_value(1e-6),
       "absolute gradient error up to which an inaccurate run still counts as reasonable")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workloads W1 and W1b N times (λ = 1..1e4 unless --lambdas): medians of the time per "
       "gradient, NFE, errors, status; writes <out>/bench.json");
  // clang-format on
}

DecayOptions ReadDecayOptions(const po::variables_map& vm, const CommonOptions& c) {
  DecayOptions options;
  options.lambdas = ParseDoubleList(vm["lambdas"].as<std::string>(), "--lambdas");
  for (const double lambda : options.lambdas) {
    Require(lambda > 0.0, "--lambdas: λ must be positive, got " + FormatNumber(lambda));
  }
  options.lambdas = SortedUnique(options.lambdas);
  options.ok_tol = vm["ok-tol"].as<double>();
  Require(std::isfinite(options.ok_tol) && options.ok_tol > 0.0, "--ok-tol must be positive");
  options.usable_abs = vm["usable-abs"].as<double>();
  Require(std::isfinite(options.usable_abs) && options.usable_abs > 0.0,
          "--usable-abs must be positive");
  options.plots = !vm["no-plots"].as<bool>();
  RejectMethodOptions(c, "exponential_decay");
  options.overrides = ToMethodOverrides(c);
  options.out_dir = c.out_dir;
  return options;
}

// --check-gradient: the --gradient method on the decay at every λ (a verdict each).
void CheckDecayGradients(const std::vector<double>& lambdas, const CommonOptions& common) {
  for (const double lambda : lambdas) {
    const problems::ProblemSetup setup = problems::MakeDecay(lambda);
    RunGradientCheck("decay λ=" + FormatCompact(lambda), setup.ode, *setup.loss, common, std::cout);
  }
}

int Run(int argc, char** argv) {
  po::options_description desc("Options");
  CommonDefaults defaults;
  defaults.out = "results/decay";
  AddCommonOptions(desc, defaults);
  AddDecayOptions(desc);
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  const CommonOptions common = ReadCommonOptions(vm);
  DecayOptions options = ReadDecayOptions(vm, common);
  EnsureDirectory(options.out_dir);
  if (common.check_gradient) CheckDecayGradients(options.lambdas, common);
  if (vm.count("bench")) {
    if (vm["lambdas"].defaulted()) options.lambdas = {1.0, 10.0, 100.0, 1e3, 1e4};
    const int repetitions = bench::CheckRepetitions(vm["bench"].as<long>());
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
