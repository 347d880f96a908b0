#include "studies/mnist_bench.hpp"

#include <gtest/gtest.h>

#include "tests/studies/mnist_test_data.hpp"

namespace snode::mnist {
namespace {

TEST(MnistBench, FiveConfigurationsEndingWithTheAblation) {
  const std::vector<BenchConfig> configs = BenchConfigs();
  ASSERT_EQ(configs.size(), 5u);
  EXPECT_EQ(configs[0].integrator, "dopri5");
  EXPECT_EQ(configs[3].label, "rk4 4 steps, 2 threads");
  EXPECT_EQ(configs[3].threads, 2);
  EXPECT_EQ(configs[4].integrator, "");
}

TEST(MnistBench, SettingsOfAConfiguration) {
  Settings base;
  base.out_dir = "bench";
  base.resume = "old.snode";
  base.checkpoint_every = 3;
  base.check_gradients = true;
  const Settings rk4 = BenchSettings(base, BenchConfigs()[3], 2);
  EXPECT_EQ(rk4.out_dir, "bench/runs/rk4_4_steps_2_threads");
  EXPECT_EQ(rk4.epochs, 2);
  EXPECT_EQ(rk4.threads, 2);
  EXPECT_FALSE(rk4.no_ode);
  EXPECT_TRUE(rk4.resume.empty());
  EXPECT_EQ(rk4.checkpoint_every, 0);
  EXPECT_TRUE(rk4.quiet);
  EXPECT_FALSE(rk4.check_gradients);
  EXPECT_EQ(rk4.solver.integrator, "rk4");
  EXPECT_EQ(rk4.solver.integrator_options.fixed_step, 0.25);
  EXPECT_EQ(rk4.solver.gradient_options.integrator, "rk4");
  EXPECT_EQ(rk4.solver.gradient_options.integrator_options.rtol, 1e-3);
  const Settings dopri5 = BenchSettings(base, BenchConfigs()[0], 1);
  EXPECT_EQ(dopri5.solver.integrator_options.fixed_step, 0.0);
  EXPECT_EQ(dopri5.solver.integrator_options.atol, 1e-3);
  const Settings ablation = BenchSettings(base, BenchConfigs()[4], 1);
  EXPECT_TRUE(ablation.no_ode);
  EXPECT_EQ(ablation.out_dir, "bench/runs/no-ODE_ablation_1_thread");
}

TEST(MnistBench, MeasuresEveryRepetition) {
  test_mnist::TempDir dir;
  test_mnist::WriteMnistSet(dir.path(), "t10k", 120, 3);
  Settings base;
  base.data.dir = dir.path();
  base.data.split = 100;
  base.batch = 25;
  base.out_dir = dir.path() + "/bench";
  const BenchSamples samples = MeasureBench(BenchSettings(base, BenchConfigs()[4], 2), 2);
  ASSERT_EQ(samples.epoch_seconds.size(), 2u);
  EXPECT_EQ(samples.epoch_seconds[0].size(), 2u);
  ASSERT_EQ(samples.accuracy_percent.size(), 2u);
  EXPECT_EQ(samples.accuracy_percent[0], samples.accuracy_percent[1]);  // deterministic
  EXPECT_EQ(samples.nfe_forward[0], 0.0);                               // no ODE block
  EXPECT_GT(samples.train_loss[1], 0.0);
}

BenchSamples HandMadeSamples() {
  BenchSamples samples;
  samples.epoch_seconds = {{0.30, 0.10, 0.20}, {0.15}, {0.40, 0.20}};      // medians 0.2, 0.15, 0.3
  samples.epoch_cpu_seconds = {{0.25, 0.10, 0.20}, {0.12}, {0.30, 0.20}};  // median 0.2
  samples.with_eval_seconds = {{0.35}, {0.20}, {0.50}};                    // median 0.35
  samples.with_eval_cpu_seconds = {{0.30}, {0.15}, {0.40}};                // median 0.3
  samples.nfe_forward = {26, 32, 26};
  samples.nfe_backward = {0, 0, 0};
  samples.accuracy_percent = {91.0, 92.0, 93.0};
  samples.train_loss = {0.5, 0.4, 0.3};
  return samples;
}

// The summary rows and details of configuration `index` run with bptt for `epochs` epochs,
// from HandMadeSamples().
struct Report {
  std::vector<bench::BenchRow> rows;
  nlohmann::json detail;
};
Report ReportOf(std::size_t index, long epochs) {
  Settings base;
  base.solver.gradient = "bptt";
  const BenchConfig config = BenchConfigs()[index];
  const Settings s = BenchSettings(base, config, epochs);
  return {BenchRows(config, s, epochs, HandMadeSamples()),
          BenchDetail(config, s, epochs, HandMadeSamples())};
}

TEST(MnistBench, RowsOfTheOdeNetAfterOneEpoch) {
  const Report report = ReportOf(0, 1);  // dopri5, 1 thread
  const std::vector<bench::BenchRow>& rows = report.rows;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].workload, "W4");
  EXPECT_EQ(rows[0].configuration, BenchConfigs()[0].label);
  EXPECT_EQ(rows[0].metric, "time per epoch");
  EXPECT_EQ(rows[0].spread.median, 0.2);
  EXPECT_EQ(rows[0].target, 0.18);
  EXPECT_EQ(rows[0].Met(), 0);
  EXPECT_EQ(rows[0].note, "NFE/batch fwd 26, bwd 0, test acc after 1 epoch 92%");
  EXPECT_TRUE(rows[0].has_cpu);
  EXPECT_EQ(rows[0].cpu.median, 0.2);
  EXPECT_EQ(rows[1].metric, "epoch + test evaluation");
  EXPECT_EQ(rows[1].spread.median, 0.35);
  EXPECT_EQ(rows[1].cpu.median, 0.3);
  EXPECT_EQ(rows[1].Met(), -1);  // reported, no target
  EXPECT_EQ(rows[2].metric, "test accuracy, epoch 1");
  EXPECT_EQ(rows[2].unit, "%");
  EXPECT_FALSE(rows[2].upper_bound);
  EXPECT_EQ(rows[2].Met(), 1);  // 92% >= 91.1%
  EXPECT_EQ(report.detail["integrator"], "dopri5");
  EXPECT_EQ(report.detail["gradient"], "bptt");
  EXPECT_EQ(report.detail["seconds_per_epoch"]["median"], 0.2);
  EXPECT_EQ(report.detail["train_loss"]["median"], 0.4);
}

TEST(MnistBench, AblationAndLongerRunsHaveOnlyTheTimeRows) {
  const Report ablation = ReportOf(4, 1);
  ASSERT_EQ(ablation.rows.size(), 2u);    // the epoch, and the epoch with the evaluation
  EXPECT_EQ(ablation.rows[0].Met(), -1);  // no target without the ODE block
  EXPECT_EQ(ablation.detail["integrator"], "none");
  const Report two_epochs = ReportOf(2, 2);  // rk4
  ASSERT_EQ(two_epochs.rows.size(), 2u);     // no accuracy row after two epochs
  EXPECT_NE(two_epochs.rows[0].note.find("after 2 epochs"), std::string::npos);
}

}  // namespace
}  // namespace snode::mnist
