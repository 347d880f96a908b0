// studies/lotka_volterra_bench: the configurations and their labels and settings, the summary
// rows, details and table built from hand-made measurements, a failing configuration, and a
// short neural bench end to end.
#include "studies/lotka_volterra_bench.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/errors.hpp"

namespace snode::lotka_volterra {
namespace {

std::vector<std::string> Labels(const std::vector<BenchConfig>& configs) {
  std::vector<std::string> labels;
  for (const BenchConfig& config : configs) labels.push_back(config.Label());
  return labels;
}

TEST(LotkaVolterraBench, NeuralConfigurationsMeasureBothOutputModesOfBptt) {
  EXPECT_EQ(Labels(WorkloadBenchConfigs(true, true)),
            (std::vector<std::string>{"bptt/dopri5 outputs=stop", "bptt/dopri5 outputs=interpolate",
                                      "backsolve_adjoint/dopri5 outputs=interpolate",
                                      "cvodes_adjoint/cvodes_bdf outputs=interpolate",
                                      "cvodes_adjoint/cvodes_adams outputs=interpolate",
                                      "cvodes_adjoint/cvodes_adams+dopri5 outputs=interpolate"}));
}

TEST(LotkaVolterraBench, DiscoverConfigurationsFollowTheOutputs) {
  EXPECT_EQ(
      Labels(WorkloadBenchConfigs(false, false)),
      (std::vector<std::string>{"bptt/dopri5 outputs=stop", "backsolve_adjoint/dopri5 outputs=stop",
                                "cvodes_adjoint/cvodes_bdf outputs=stop",
                                "cvodes_adjoint/cvodes_adams outputs=stop"}));
  for (const BenchConfig& config : WorkloadBenchConfigs(false, true)) {
    EXPECT_TRUE(config.interpolate) << config.Label();
    EXPECT_TRUE(config.backward.empty());
  }
}

TEST(LotkaVolterraBench, ApplySetsMethodIntegratorOutputsAndQuiet) {
  StudySettings base;
  base.gradient = "bptt";
  base.integrator = "dopri5";
  base.seed = 7;
  base.out_dir = "out";
  base.gradient_options.integrator_options.rtol = 1e-9;
  const StudySettings s = BenchConfig{"cvodes_adjoint", "cvodes_adams", true, "dopri5"}.Apply(base);
  EXPECT_EQ(s.gradient, "cvodes_adjoint");
  EXPECT_EQ(s.integrator, "cvodes_adams");
  EXPECT_EQ(s.gradient_options.integrator, "cvodes_adams");
  EXPECT_EQ(s.gradient_options.backward_integrator, "dopri5");
  EXPECT_TRUE(s.integrator_options.interpolate_outputs);
  EXPECT_TRUE(s.gradient_options.integrator_options.interpolate_outputs);
  EXPECT_EQ(s.gradient_options.integrator_options.rtol, 1e-9);
  EXPECT_TRUE(s.quiet);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.out_dir, "out");
}

NeuralRuns HandMadeNeuralRuns() {
  NeuralRuns runs;
  runs.medians = {2e-3, 1e-3, 3e-3};
  runs.forward_nfe = {100, 120, 110};
  runs.backward_nfe = {0, 0, 0};
  runs.final_losses = {3.0, 2.0, 4.0};
  runs.curves = {{8.0, 5.0, 3.0}, {8.0, 4.0, 2.0}, {8.0, 6.0, 4.0}};
  return runs;
}

TEST(LotkaVolterraBench, NeuralRowHoldsTheTimeAgainstTheMethodsTarget) {
  const BenchConfig bptt{"bptt", "dopri5", false, ""};
  const bench::BenchRow row = NeuralRow(bptt, HandMadeNeuralRuns());
  EXPECT_EQ(row.workload, "W2");
  EXPECT_EQ(row.configuration, "bptt/dopri5 outputs=stop");
  EXPECT_EQ(row.metric, "time per iteration");
  EXPECT_EQ(row.spread.median, 2e-3);
  EXPECT_EQ(row.target, 0.66e-3);
  EXPECT_EQ(row.target_text, "<= 0.66 ms");
  EXPECT_EQ(row.Met(), 0);
  EXPECT_EQ(row.note, "NFE/it fwd 110, bwd 0, loss 8 -> 3");
  const bench::BenchRow adjoint =
      NeuralRow({"backsolve_adjoint", "dopri5", true, ""}, HandMadeNeuralRuns());
  EXPECT_EQ(adjoint.target, 2e-3);
  EXPECT_EQ(adjoint.Met(), 1);
}

TEST(LotkaVolterraBench, FailedNeuralConfigurationIsNotMet) {
  NeuralRuns runs;
  runs.failure = "solver failed";
  const bench::BenchRow row = NeuralRow({"bptt", "dopri5", false, ""}, runs);
  EXPECT_EQ(row.Met(), 0);
  EXPECT_EQ(row.note, "failed: solver failed");
  const nlohmann::json details = NeuralDetails({"bptt", "dopri5", false, ""}, runs, 10);
  EXPECT_TRUE(details["loss_every_50"].empty());
  EXPECT_EQ(details["error"], "solver failed");
}

TEST(LotkaVolterraBench, NeuralDetailsAndTable) {
  const BenchConfig config{"bptt", "dopri5", true, ""};
  const nlohmann::json details = NeuralDetails(config, HandMadeNeuralRuns(), 120);
  EXPECT_EQ(details["configuration"], "bptt/dopri5 outputs=interpolate");
  EXPECT_EQ(details["interpolate_outputs"], true);
  EXPECT_EQ(details["seconds_per_iteration"]["median"], 2e-3);
  ASSERT_EQ(details["loss_every_50"].size(), 3u);
  EXPECT_EQ(details["loss_every_50"][1]["iteration"], 50);
  EXPECT_EQ(details["loss_every_50"][1]["loss"]["median"], 5.0);
  EXPECT_EQ(details["loss_every_50"][2]["iteration"], 119);  // the last iteration
  std::ostringstream out;
  PrintNeuralBenchTable(nlohmann::json::array({details}), out);
  EXPECT_NE(out.str().find("bptt/dopri5 outputs=interpolate"), std::string::npos);
  EXPECT_NE(out.str().find("2.0 ms  1.0 ms  3.0 ms"), std::string::npos) << out.str();
}

TEST(LotkaVolterraBench, DiscoverRowNeedsEveryRepetitionBelowOnePercent) {
  const BenchConfig config{"bptt", "dopri5", false, ""};
  DiscoverRuns runs;
  runs.to_one_percent = {0.5, 0.25, 0.75};
  runs.evals = {40, 30, 50};
  runs.errors = {1e-3, 2e-3, 3e-3};
  runs.total = {1.0, 1.0, 1.0};
  bench::BenchRow row = DiscoverRow(config, runs);
  EXPECT_EQ(row.workload, "W3");
  EXPECT_EQ(row.target, 1.0);
  EXPECT_EQ(row.Met(), 1);
  EXPECT_EQ(row.note, "evaluations to 1%: 40, final error 2.00e-03 after 1.00 s");
  runs.to_one_percent[2] = std::numeric_limits<double>::quiet_NaN();
  row = DiscoverRow(config, runs);
  EXPECT_EQ(row.spread.count, 2);
  EXPECT_EQ(row.Met(), 0);
  runs.evals = {-1, -1, -1};
  EXPECT_EQ(DiscoverRow(config, runs).note.rfind("never below 1%", 0), 0u);
  const nlohmann::json details = DiscoverDetails(config, runs);
  EXPECT_EQ(details["evaluations_to_1_percent"]["median"], -1.0);
  EXPECT_EQ(details["final_relative_error"]["median"], 2e-3);
}

TEST(LotkaVolterraBench, BadHorizonsFailTheConfiguration) {
  const Observations obs =
      problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(10.0, 11), 0.05, 0);
  DiscoverOptions options;
  options.horizons_text = "2,x";
  const DiscoverRuns runs =
      RunDiscoverConfig(options, StudySettings{}, obs, 3, [](const std::string& text) {
        throw ConfigError("--horizons: '" + text + "' is not a list");
        return std::vector<double>{};
      });
  EXPECT_EQ(runs.failure, "--horizons: '2,x' is not a list");
  EXPECT_TRUE(runs.to_one_percent.empty());
  EXPECT_EQ(DiscoverRow({"bptt", "dopri5", false, ""}, runs).note,
            "failed: --horizons: '2,x' is not a list");
}

TEST(LotkaVolterraBench, NeuralBenchWritesItsReport) {
  const auto dir = std::filesystem::temp_directory_path() / "snode_lv_bench_neural";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  BenchSettings settings;
  settings.study.gradient_options.integrator_options.rtol = 1e-6;
  settings.study.gradient_options.integrator_options.atol = 1e-8;
  settings.study.out_dir = dir.string();
  settings.configs = {{"bptt", "dopri5", true, ""}};
  settings.repetitions = 2;
  NeuralOptions options;
  options.weights = "/nonexistent/w2.json";
  options.iterations = 3;
  const Observations obs =
      problems::MakeLotkaVolterraObservations(problems::EquallySpacedTimes(10.0, 21), 0.05, 0);
  RunNeuralBench(options, obs, settings);
  std::ifstream file(dir / "bench.json");
  const nlohmann::json report = nlohmann::json::parse(file);
  EXPECT_EQ(report["app"], "lotka_volterra");
  EXPECT_EQ(report["repetitions"], 2);
  ASSERT_EQ(report["summary"].size(), 1u);
  EXPECT_EQ(report["summary"][0]["count"], 2);
  EXPECT_EQ(report["details"]["runs"][0]["error"], "");
  EXPECT_EQ(report["details"]["iterations"], 3);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode::lotka_volterra
