// stiffness_study: where each gradient method breaks as a problem gets stiffer (the study itself
// is studies/stiffness_study.hpp). Output: tables on stdout grouped by problem, a summary in
// words, and in --out: stiffness_results.csv, stiffness_results.json, neural_training.csv and
// the figures gradient_error, gradient_error_w1, cost and backsolve_reconstruction (gnuplot →
// PNG and SVG; studies/stiffness_report.hpp).
//
// --check-gradient (alias --check-gradients, which also adds the study's central-difference
// notes as before): CheckStudyGradients below, before the study.
//
// --bench N: Robertson, N repetitions: dL/dk on [0, T] for T = --robertson-horizons and both
// losses (final time, sum of observations) by every Robertson method plus the CVODES adjoint
// ladder; time per gradient (median, min, max) and the relative error of dL/dk against the tight
// reference, as a table and <out>/bench.json.

#include "studies/stiffness_study.hpp"

#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "problems/decay.hpp"
#include "problems/robertson.hpp"
#include "problems/stiff_neural.hpp"
#include "studies/bench_util.hpp"
#include "studies/stiffness_report.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "stiffness_study: gradient error and cost of BPTT, the backsolve adjoint and the CVODES\n"
    "adjoint on problems of growing stiffness (W1, W1b, Robertson, a neural ODE on stiff data,\n"
    "and on request a stiff non-normal 4x4 linear system).\n"
    "usage: stiffness_study [options]      e.g. stiffness_study --lambda-max 1e6 --out results";

void AddStudyOptions(po::options_description& desc) {
  // clang-format off
  desc.add_options()
      ("lambdas", po::value<std::string>()->default_value("1,10,100,1e3,1e4"),
       "comma-separated stiffness values λ > 0")
      ("lambda-max", po::value<double>(), "sweep λ = 1, 10, …, up to this value (e.g. 1e6)")
      ("problems", po::value<std::string>()->default_value("w1,w1b,robertson,neural"),
       "which problems: w1, w1b, robertson, neural, nonnormal (the 4x4 at stiffness 1e5)")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run counts as ok")
      ("robertson-horizons", po::value<std::string>()->default_value("40,1e5"),
       "Robertson end times T")
      ("neural-iterations", po::value<int>()->default_value(30), "Adam steps per method")
      ("neural-lambda", po::value<double>()->default_value(1e3), "λ of the neural ODE's data")
      ("neural-lr", po::value<double>()->default_value(1e-2), "Adam learning rate")
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

std::vector<double> ReadLambdas(const po::variables_map& vm) {
  const bool lambdas_set = vm.count("lambdas") && !vm["lambdas"].defaulted();
  const bool max_set = vm.count("lambda-max") != 0;
  Require(!(lambdas_set && max_set), "give either --lambdas or --lambda-max, not both");
  std::vector<double> lambdas;
  if (max_set) {
    const double lambda_max = vm["lambda-max"].as<double>();
    Require(std::isfinite(lambda_max) && lambda_max >= 1.0,
            "--lambda-max must be a finite number >= 1 (λ > 0), got " + FormatNumber(lambda_max));
    lambdas = DecadesUpTo(lambda_max);
  } else {
    lambdas = ParseDoubleList(vm["lambdas"].as<std::string>(), "--lambdas");
  }
  for (const double lambda : lambdas) {
    Require(lambda > 0.0, "--lambdas: λ must be positive, got " + FormatNumber(lambda));
  }
  return SortedUnique(lambdas);
}

StiffnessOptions ReadStudyOptions(const po::variables_map& vm, const CommonOptions& common) {
  StiffnessOptions options;
  options.lambdas = ReadLambdas(vm);
  for (const std::string& name : ParseNameList(vm["problems"].as<std::string>())) {
    Require(
        StiffnessProblemNames().count(name) != 0,
        "--problems: unknown problem '" + name + "'; known: neural, nonnormal, robertson, w1, w1b");
    options.problems.insert(name);
  }
  Require(!options.problems.empty(), "--problems: name at least one problem");
  options.ok_tol = vm["ok-tol"].as<double>();
  Require(std::isfinite(options.ok_tol) && options.ok_tol > 0.0,
          "--ok-tol must be positive, got " + FormatNumber(options.ok_tol));
  options.robertson_horizons =
      ParseDoubleList(vm["robertson-horizons"].as<std::string>(), "--robertson-horizons");
  for (const double horizon : options.robertson_horizons) {
    Require(horizon > 0.0,
            "--robertson-horizons: T must be positive, got " + FormatNumber(horizon));
  }
  options.neural_iterations = vm["neural-iterations"].as<int>();
  Require(options.neural_iterations >= 1, "--neural-iterations must be >= 1");
  options.neural_lambda = vm["neural-lambda"].as<double>();
  Require(std::isfinite(options.neural_lambda) && options.neural_lambda > 0.0,
          "--neural-lambda: λ must be positive, got " + FormatNumber(options.neural_lambda));
  options.neural_lr = vm["neural-lr"].as<double>();
  Require(std::isfinite(options.neural_lr) && options.neural_lr > 0.0,
          "--neural-lr must be positive");
  options.plots = !vm["no-plots"].as<bool>();
  options.overrides = Overrides(common);
  options.seed = common.seed;
  options.check_gradients = common.check_gradient;  // --check-gradient(s): the notes as well
  options.quiet = common.quiet;
  options.out_dir = common.out_dir;
  return options;
}

// --check-gradient: the --gradient method with the common integrator and tolerances on every
// selected problem (W1 and W1b at each λ, Robertson at each horizon with an implicit integrator
// only, the neural problem), before the study. A check that fails to run is reported, not fatal.
void CheckStudyGradients(const StiffnessOptions& options, const CommonOptions& common) {
  std::vector<problems::ProblemSetup> setups;
  const auto selected = [&](const char* name) { return options.problems.count(name) != 0; };
  for (const double lambda : options.lambdas) {
    if (selected("w1")) setups.push_back(problems::MakeDecay(lambda));
    if (selected("w1b")) setups.push_back(problems::MakeTwoRateDecay(lambda));
  }
  const bool explicit_steps = IntegratorRegistry()
                                  .Create(common.integrator, common.integrator_options)
                                  ->Capabilities()
                                  .kind == IntegratorKind::kExplicit;
  for (const double horizon : options.robertson_horizons) {
    if (selected("robertson") && !explicit_steps)
      setups.push_back(problems::MakeRobertson(horizon));
  }
  if (selected("robertson") && explicit_steps) {
    std::cout << "gradient check: Robertson skipped with the explicit integrator "
              << common.integrator << " (use --integrator cvodes_bdf)\n";
  }
  if (selected("neural"))
    setups.push_back(problems::MakeStiffNeural(options.neural_lambda, options.seed));
  for (const problems::ProblemSetup& setup : setups) {
    const std::string label = setup.name + " " + FormatCompact(setup.stiffness);
    try {
      RunGradientCheck(label, setup.ode, *setup.loss, common, std::cout);
    } catch (const Error& e) {
      std::cout << "gradient check " << label << ": could not run: " << e.what() << "\n\n";
    }
  }
}

int Run(int argc, char** argv) {
  po::options_description desc("Options");
  CommonDefaults defaults;
  defaults.out = "results/stiffness";
  AddCommonOptions(desc, defaults);
  AddStudyOptions(desc);
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
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
  WriteStiffnessOutputs(options, results, start, std::cout);
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
