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

}  // namespace
}  // namespace snode::mnist
