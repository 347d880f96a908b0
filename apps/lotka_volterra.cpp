// lotka_volterra: the seed's second example, in three modes (studies/lotka_volterra_study.hpp).
//
//   discover  recover (α, β, δ, γ) of x' = αx − βxy, y' = δxy − γy from noisy observations
//             (σ = 0.05) on t ∈ [0, 10], starting from (1.0, 0.5, 0.5, 2.0), on growing
//             horizons (--horizons) with L-BFGS (or Adam); θ = exp(φ) keeps the rates positive.
//   neural    a neural ODE (MLP 2-32-32-2, tanh) fitted to the noise-free trajectory with Adam
//             (lr 1e-2, 300 iterations) from given initial weights; the median time per
//             training iteration is printed.
//   ude       a universal differential equation: the known linear terms αx, −γy plus an MLP for
//             the interaction terms, trained on growing horizons; the learned terms are then
//             compared with −βxy and δxy by least squares over the observed states.
//
// The output names discover "W3" and neural "W2" (the seed's workload names).
// Output: a table on stdout, CSV and JSON in --out, PNG/SVG plots via gnuplot.
// --bench N (with --mode neural or discover): studies/lotka_volterra_bench.hpp.
// --check-gradient: CheckLotkaVolterraGradients below, before any fit.

#include "problems/lotka_volterra.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "studies/bench_util.hpp"
#include "studies/lotka_volterra_bench.hpp"
#include "studies/lotka_volterra_study.hpp"

namespace snode::app {
namespace {
namespace lv = snode::lotka_volterra;

void AddLotkaVolterraOptions(po::options_description& desc) {
  desc.add_options()  //
      ("mode", po::value<std::string>()->default_value("all"),
       "discover (W3), neural (W2), ude, or all")  //
      ("skip-bad-steps", po::bool_switch(),
       "neural: skip an iteration whose gradient is unusable (backsolve reconstruction failure, "
       "NaN, solver failure) with a warning and a counter instead of stopping")  //
      ("iterations", po::value<int>(),
       "optimiser iterations (default: discover 100 per horizon, neural 300, ude 300 per "
       "horizon)")  //
      ("lr", po::value<double>(),
       "Adam learning rate (default: neural/ude 1e-2, discover 0.05)")  //
      ("optimizer", po::value<std::string>()->default_value("lbfgs"),
       "discover and ude: lbfgs (libLBFGS) or adam")  //
      ("horizons", po::value<std::string>(),
       "growing fit horizons, comma-separated (default: discover 2,4,6,8,10; ude 1,2,...,10)")  //
      ("noise", po::value<double>()->default_value(0.05), "observation noise sigma (W3)")       //
      ("t-end", po::value<double>()->default_value(10.0), "end of the observation window")      //
      ("points", po::value<int>()->default_value(101), "number of observation times")           //
      ("weights", po::value<std::string>()->default_value("../shared/data/w2/w2_init_weights.json"),
       "W2 initial weights (PyTorch layout JSON); the default falls back to a seeded init if "
       "absent")                                                                              //
      ("ude-noisy", po::value<bool>()->default_value(false), "ude: train on the noisy data")  //
      ("bench", po::value<long>(),
       "with --mode neural (W2) or discover (W3): run the workload N times for each of its "
       "gradient methods; medians of time, NFE and results; writes <out>/bench.json");
}

// A flag's value, or the mode's default when it was not given.
template <typename T>
T ValueOr(const Flags& vm, const char* name, T fallback) {
  return vm.count(name) ? vm[name].as<T>() : fallback;
}

lv::DiscoverOptions DiscoverOptionsFrom(const Flags& vm) {
  lv::DiscoverOptions options;
  options.horizons_text = ValueOr<std::string>(vm, "horizons", "2,4,6,8,10");
  options.optimizer = vm["optimizer"].as<std::string>();
  options.iterations = PositiveIntOr(vm, "iterations", 100);
  options.lr = ValueOr(vm, "lr", 0.05);
  return options;
}

lv::NeuralOptions NeuralOptionsFrom(const Flags& vm) {
  lv::NeuralOptions options;
  options.iterations = PositiveIntOr(vm, "iterations", 300);
  options.lr = ValueOr(vm, "lr", 1e-2);
  options.weights = vm["weights"].as<std::string>();
  options.weights_defaulted = vm["weights"].defaulted();
  options.skip_bad_steps = vm["skip-bad-steps"].as<bool>();
  return options;
}

lv::UdeOptions UdeOptionsFrom(const Flags& vm) {
  lv::UdeOptions options;
  options.horizons_text = ValueOr<std::string>(vm, "horizons", "1,2,3,4,5,6,7,8,9,10");
  options.horizons = ParseDoubleList(options.horizons_text, "--horizons");
  options.optimizer = vm["optimizer"].as<std::string>();
  options.iterations = PositiveIntOr(vm, "iterations", 300);
  options.lr = ValueOr(vm, "lr", 1e-2);
  options.noisy = vm["ude-noisy"].as<bool>();
  return options;
}

// Loss landscapes of parameter fits want tight solves unless the user chose otherwise.
CommonOptions WithDiscoveryTolerances(CommonOptions common) {
  if (!common.rtol_set) common.gradient_options.integrator_options.rtol = 1e-8;
  if (!common.atol_set) common.gradient_options.integrator_options.atol = 1e-10;
  return common;
}

lv::Observations MakeObservations(const Flags& vm, std::uint64_t seed) {
  const double t_end = vm["t-end"].as<double>();
  const int points = vm["points"].as<int>();
  const double noise = vm["noise"].as<double>();
  Require(std::isfinite(t_end) && t_end > 0.0, "--t-end must be positive");
  Require(points >= 2, "--points must be at least 2");
  Require(std::isfinite(noise) && noise >= 0.0, "--noise must be >= 0");
  return problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(t_end, points), noise,
                                                 seed);
}

// The study's settings from the common flags (check_gradient: RequireUsableGradient).
lv::StudySettings StudySettingsFrom(const CommonOptions& c) {
  return {c.gradient, c.integrator, c.gradient_options, c.integrator_options,
          c.seed,     c.quiet,      c.out_dir,          RequireUsableGradient};
}

// The bench's configurations: the pair named by --gradient / --integrator, or the workload's
// with outputs as --outputs says (auto and interpolate: interpolated, since all these integrators
// have dense output).
std::vector<lv::BenchConfig> BenchConfigsFrom(const Flags& vm, const CommonOptions& c,
                                              bool neural) {
  if (c.gradient_set || c.integrator_set) {
    return {{c.gradient, c.integrator, c.integrator_options.interpolate_outputs,
             c.gradient_options.backward_integrator}};
  }
  const bool interpolate = c.integrator_options.interpolate_outputs ||
                           (vm.count("outputs") && vm["outputs"].as<std::string>() != "stop");
  return lv::WorkloadBenchConfigs(neural, interpolate);
}

int RunBench(const Flags& vm, const CommonOptions& common, const std::string& mode,
             const lv::Observations& obs) {
  Require(mode == "neural" || mode == "discover", "--bench needs --mode neural or discover");
  const bool neural = mode == "neural";
  lv::BenchSettings settings;
  settings.repetitions = bench::CheckRepetitions(vm["bench"].as<long>());
  settings.study = StudySettingsFrom(neural ? common : WithDiscoveryTolerances(common));
  settings.configs = BenchConfigsFrom(vm, common, neural);
  settings.parse_horizons = [](const std::string& text) {
    return ParseDoubleList(text, "--horizons");
  };
  if (neural) lv::RunNeuralBench(NeuralOptionsFrom(vm), obs, settings);
  if (!neural) lv::RunDiscoverBench(DiscoverOptionsFrom(vm), obs, settings);
  return 0;
}

// --check-gradient: before the fits, the --gradient method on the problems of the chosen modes:
// discover at its start rates (1.0, 0.5, 0.5, 2.0) on the first horizon against the noisy data
// (discovery tolerances), neural at its initial weights against the clean data. The UDE's hybrid
// field is built inside the study and is not checked.
void CheckLotkaVolterraGradients(const Flags& vm, const CommonOptions& common,
                                 const std::string& mode, const lv::Observations& obs) {
  if (mode == "discover" || mode == "all") {
    const std::vector<double> horizons =
        ParseDoubleList(DiscoverOptionsFrom(vm).horizons_text, "--horizons");
    const double horizon = std::min(horizons.front(), obs.times.back());
    Require(horizon > 0.0, "--horizons entries must be positive");
    const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
    const problems::FitWindow window = problems::MakeFitWindow(
        std::make_shared<LotkaVolterraField>(), obs.times, obs.noisy, horizon, start);
    RunGradientCheck("discover (start rates, horizon " + FormatCompact(horizon) + ")",
                     window.problem, *window.loss, WithDiscoveryTolerances(common), std::cout);
  }
  if (mode == "neural" || mode == "all") {
    const lv::NeuralProblem neural =
        lv::MakeNeuralProblem(NeuralOptionsFrom(vm), common.seed, obs.times);
    const MseLoss loss(obs.clean);
    RunGradientCheck("neural (initial weights, " + neural.init + ")", neural.problem, loss, common,
                     std::cout);
  }
  if (mode == "ude" || mode == "all") {
    std::cout << "gradient check: --mode ude is not checked (its hybrid field is built inside "
                 "the study)\n\n";
  }
}

int Main(int argc, char** argv) {
  CommonDefaults defaults;
  defaults.gradient = "bptt";
  defaults.integrator = "dopri5";
  defaults.rtol = 1e-6;
  defaults.atol = 1e-8;
  defaults.outputs =
      "auto";  // 101 observations: interpolate between steps, as the neural fit is defined
  defaults.out = "results/lotka_volterra";
  po::options_description desc("lotka_volterra options");
  AddCommonOptions(desc, defaults);
  AddLotkaVolterraOptions(desc);
  const Flags vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, "usage: lotka_volterra [options]", std::cout)) return 0;
  CommonOptions common = ReadCommonOptions(vm);
  const std::string mode = vm["mode"].as<std::string>();
  Require(mode == "discover" || mode == "neural" || mode == "ude" || mode == "all",
          "--mode must be discover, neural, ude or all, got '" + mode + "'");
  EnsureDirectory(common.out_dir);
  const lv::Observations obs = MakeObservations(vm, common.seed);
  if (common.check_gradient) CheckLotkaVolterraGradients(vm, common, mode, obs);
  if (vm.count("bench")) return RunBench(vm, common, mode, obs);

  nlohmann::json summary;
  if (mode == "discover" || mode == "all") {
    lv::DiscoverOptions options = DiscoverOptionsFrom(vm);
    options.horizons = ParseDoubleList(options.horizons_text, "--horizons");
    summary["discover"] = lv::RunDiscoverStudy(
        obs, options, StudySettingsFrom(WithDiscoveryTolerances(common)), std::cout);
  }
  if (mode == "neural" || mode == "all") {
    summary["neural"] =
        lv::RunNeuralStudy(obs, NeuralOptionsFrom(vm), StudySettingsFrom(common), std::cout);
  }
  if (mode == "ude" || mode == "all") {
    summary["ude"] = lv::RunUdeStudy(obs, UdeOptionsFrom(vm), StudySettingsFrom(common), std::cout);
  }
  WriteJson(common.out_dir + "/summary.json", summary);
  std::cout << "results written to " << common.out_dir << "\n";
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Main(argc, argv); });
}
