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

TrainResult HandMadeTraining(int iterations) {
  TrainResult train;
  for (int i = 0; i < iterations; ++i) {
    train.losses.push_back(1.0);
    train.iteration_seconds.push_back(1e-3 * (i + 1));
    train.iteration_cpu_seconds.push_back(2e-3 * (i + 1));
    IterationCounts c;
    c.forward_nfe = 10 * i;
    c.backward_nfe = 20 * i;
    c.forward_steps = i;
    c.backward_steps = 2 * i;
    c.checkpoints = 1;
    c.backward_restarts = i % 2;
    train.iteration_counts.push_back(c);
  }
  return train;
}

TEST(LotkaVolterraBench, BlockMeansAverageEachBlockAndTheWholeRun) {
  const TrainResult train = HandMadeTraining(120);
  const std::vector<BlockMeans> blocks = IterationBlockMeans(train, 50);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[1].first, 50);
  EXPECT_EQ(blocks[1].last, 99);
  EXPECT_EQ(blocks[2].last, 119);  // the short last block
  EXPECT_NEAR(blocks[0].seconds, 1e-3 * 25.5, 1e-15);
  EXPECT_NEAR(blocks[1].cpu_seconds, 2e-3 * 75.5, 1e-14);
  EXPECT_NEAR(blocks[2].forward_nfe, 10 * 109.5, 1e-10);
  EXPECT_NEAR(blocks[2].backward_nfe, 20 * 109.5, 1e-10);
  EXPECT_NEAR(blocks[0].backward_steps, 49.0, 1e-12);
  EXPECT_NEAR(blocks[0].checkpoints, 1.0, 1e-12);
  EXPECT_NEAR(blocks[0].backward_restarts, 0.5, 1e-12);
  const std::vector<BlockMeans> all = IterationBlockMeans(train, 1000);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_NEAR(all[0].seconds, 1e-3 * 60.5, 1e-14);
  EXPECT_THROW(IterationBlockMeans(train, 0), ConfigError);
  EXPECT_TRUE(IterationBlockMeans(TrainResult(), 50).empty());
}

TEST(LotkaVolterraBench, MeanCpuRowHoldsTheAdjointTargets) {
  NeuralRuns runs = HandMadeNeuralRuns();
  runs.means = {1e-3, 2e-3, 3e-3};
  runs.cpu_means = {0.9e-3, 1.2e-3, 1.4e-3};
  const bench::BenchRow backsolve =
      NeuralMeanCpuRow({"backsolve_adjoint", "dopri5", true, ""}, runs);
  EXPECT_EQ(backsolve.spread.median, 1.2e-3);
  EXPECT_EQ(backsolve.target, 1.5e-3);
  EXPECT_EQ(backsolve.Met(), 1);
  EXPECT_EQ(backsolve.note, "mean wall time 2.0 ms");
  const bench::BenchRow cvodes =
      NeuralMeanCpuRow({"cvodes_adjoint", "cvodes_adams", true, ""}, runs);
  EXPECT_EQ(cvodes.Met(), 0);  // 1.2 ms > 1.0 ms
  EXPECT_EQ(NeuralMeanCpuRow({"bptt", "dopri5", true, ""}, runs).Met(), -1);
  // Only Adams with CVODES' backward holds the 1.0 ms target.
  EXPECT_EQ(NeuralMeanCpuRow({"cvodes_adjoint", "cvodes_bdf", true, ""}, runs).Met(), -1);
  EXPECT_EQ(NeuralMeanCpuRow({"cvodes_adjoint", "cvodes_adams", true, "dopri5"}, runs).Met(), -1);
}

TEST(LotkaVolterraBench, NeuralDetailsHoldTheBlockMediansAndTheTablePrintsThem) {
  NeuralRuns runs = HandMadeNeuralRuns();
  runs.means = {1e-3, 2e-3, 3e-3};
  runs.cpu_means = {1e-3, 2e-3, 3e-3};
  for (int rep = 1; rep <= 3; ++rep) {
    TrainResult train = HandMadeTraining(100);
    for (double& t : train.iteration_cpu_seconds) t *= rep;
    runs.blocks.push_back(IterationBlockMeans(train, 50));
  }
  const nlohmann::json details =
      NeuralDetails({"cvodes_adjoint", "cvodes_adams", true, ""}, runs, 100);
  EXPECT_EQ(details["mean_cpu_seconds_per_iteration"]["median"], 2e-3);
  ASSERT_EQ(details["blocks"].size(), 2u);
  EXPECT_EQ(details["blocks"][1]["first"], 50);
  EXPECT_NEAR(details["blocks"][1]["cpu_seconds_per_iteration"].get<double>(), 2 * 2e-3 * 75.5,
              1e-14);  // the median repetition
  EXPECT_NEAR(details["blocks"][0]["backward_nfe"].get<double>(), 20 * 24.5, 1e-10);
  std::ostringstream out;
  PrintNeuralBenchTable(nlohmann::json::array({details}), out);
  EXPECT_NE(out.str().find("50-99"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("302.0 ms"), std::string::npos) << out.str();  // 2 x 2 ms x 75.5
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
  ASSERT_EQ(report["summary"].size(), 2u);  // the median and the mean CPU time rows
  EXPECT_EQ(report["summary"][0]["count"], 2);
  EXPECT_EQ(report["summary"][1]["count"], 2);
  const nlohmann::json& run = report["details"]["runs"][0];
  EXPECT_GT(run["mean_cpu_seconds_per_iteration"]["median"].get<double>(), 0.0);
  ASSERT_EQ(run["blocks"].size(), 1u);  // 3 iterations: one block
  EXPECT_EQ(run["blocks"][0]["last"], 2);
  EXPECT_GT(run["blocks"][0]["forward_nfe"].get<double>(), 0.0);
  EXPECT_EQ(report["details"]["runs"][0]["error"], "");
  EXPECT_EQ(report["details"]["iterations"], 3);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode::lotka_volterra
