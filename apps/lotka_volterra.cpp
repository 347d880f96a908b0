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
// The flags, which of them apply to which mode, and their ranges: apps/cli/lotka_volterra_cli.hpp.

#include "problems/lotka_volterra.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/lotka_volterra_cli.hpp"
#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "studies/bench_util.hpp"
#include "studies/lotka_volterra_bench.hpp"
#include "studies/lotka_volterra_study.hpp"

namespace snode::app {
namespace {
namespace lv = snode::lotka_volterra;

// Loss landscapes of parameter fits want tight solves unless the user chose otherwise.
CommonOptions WithDiscoveryTolerances(CommonOptions common) {
  if (!common.rtol_set) common.gradient_options.integrator_options.rtol = 1e-8;
  if (!common.atol_set) common.gradient_options.integrator_options.atol = 1e-10;
  return common;
}

lv::Observations MakeObservations(const LotkaVolterraCommandLine& line) {
  return problems::MakeLotkaVolterraObservations(
      problems::EquallySpacedTimes(line.t_end, line.points), line.noise, line.common.seed);
}

// The study's settings from the common flags (check_gradient: RequireUsableGradient).
lv::StudySettings StudySettingsFrom(const CommonOptions& c) {
  return {c.gradient, c.integrator, c.gradient_options, c.integrator_options,
          c.seed,     c.quiet,      c.out_dir,          RequireUsableGradient};
}

// The bench's configurations: the pair named by --gradient / --integrator, or the workload's
// with outputs as --outputs says (auto and interpolate: interpolated, since all these integrators
// have dense output).
std::vector<lv::BenchConfig> BenchConfigsFrom(const CommonOptions& c, bool neural) {
  if (c.gradient_set || c.integrator_set) {
    return {{c.gradient, c.integrator, c.integrator_options.interpolate_outputs,
             c.gradient_options.backward_integrator}};
  }
  const bool interpolate = c.integrator_options.interpolate_outputs || c.outputs != "stop";
  return lv::WorkloadBenchConfigs(neural, interpolate);
}

int RunBench(const LotkaVolterraCommandLine& line, const lv::Observations& obs) {
  const bool neural = line.mode == "neural";
  const CommonOptions& common = line.common;
  lv::BenchSettings settings;
  settings.repetitions = bench::CheckRepetitions(*line.bench_repetitions);  // and its note
  settings.study = StudySettingsFrom(neural ? common : WithDiscoveryTolerances(common));
  settings.configs = BenchConfigsFrom(common, neural);
  // The horizons were checked with the command line.
  settings.parse_horizons = [horizons = line.discover.horizons](const std::string&) {
    return horizons;
  };
  if (neural) lv::RunNeuralBench(line.neural, obs, settings);
  if (!neural) lv::RunDiscoverBench(line.discover, obs, settings);
  return 0;
}

// --check-gradient: before the fits, the --gradient method on the problems of the chosen modes:
// discover at its start rates (1.0, 0.5, 0.5, 2.0) on the first horizon against the noisy data
// (discovery tolerances), neural at its initial weights against the clean data. The UDE's hybrid
// field is built inside the study and is not checked.
void CheckLotkaVolterraGradients(const LotkaVolterraCommandLine& line,
                                 const lv::Observations& obs) {
  const CommonOptions& common = line.common;
  if (line.Runs("discover")) {
    const double horizon = line.discover.horizons.front();
    const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
    const problems::FitWindow window = problems::MakeFitWindow(
        std::make_shared<LotkaVolterraField>(), obs.times, obs.noisy, horizon, start);
    RunGradientCheck("discover (start rates, horizon " + FormatCompact(horizon) + ")",
                     window.problem, *window.loss, WithDiscoveryTolerances(common), std::cout);
  }
  if (line.Runs("neural")) {
    const lv::NeuralProblem neural = lv::MakeNeuralProblem(line.neural, common.seed, obs.times);
    const MseLoss loss(obs.clean);
    RunGradientCheck("neural (initial weights, " + neural.init + ")", neural.problem, loss, common,
                     std::cout);
  }
  if (line.Runs("ude")) {
    std::cout << "gradient check: --mode ude is not checked (its hybrid field is built inside "
                 "the study)\n\n";
  }
}

int Main(int argc, char** argv) {
  const std::optional<Flags> flags =
      StartCommandLine(argc, argv, LotkaVolterraAppCommandLine(), std::cout);
  if (!flags) return 0;
  const LotkaVolterraCommandLine line = ReadLotkaVolterraCommandLine(*flags);
  const CommonOptions& common = line.common;
  PrepareOutputDirectory(common.out_dir);
  const lv::Observations obs = MakeObservations(line);
  if (common.check_gradient) CheckLotkaVolterraGradients(line, obs);
  if (line.bench_repetitions) return RunBench(line, obs);

  nlohmann::json summary;
  if (line.Runs("discover")) {
    summary["discover"] = lv::RunDiscoverStudy(
        obs, line.discover, StudySettingsFrom(WithDiscoveryTolerances(common)), std::cout);
  }
  if (line.Runs("neural")) {
    summary["neural"] = lv::RunNeuralStudy(obs, line.neural, StudySettingsFrom(common), std::cout);
  }
  if (line.Runs("ude")) {
    summary["ude"] = lv::RunUdeStudy(obs, line.ude, StudySettingsFrom(common), std::cout);
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
