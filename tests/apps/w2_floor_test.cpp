// The raw-SUNDIALS floor of W2's forward solve (apps/bench/w2_floor_lib.hpp) must solve exactly
// the problem snode solves, or the overhead ratio of apps/bench/overhead_bench.cpp means nothing:
// same weights, same f, and on the solve the same step count, the same NFE and the same 101
// states to 1e-12 relative, in both output modes. With ../shared/data absent the comparisons run on
// a seeded initialisation of the same MLP (the torch-loader test is skipped).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "apps/bench/w2_floor_lib.hpp"
#include "integrators/integrator.hpp"
#include "io/torch_weights.hpp"
#include "models/mlp.hpp"

#ifndef SNODE_W2_WEIGHTS
#define SNODE_W2_WEIGHTS "/work/shared/data/w2/w2_init_weights.json"
#endif

namespace snode {
namespace {

std::shared_ptr<MlpField> W2Field() {
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  return std::make_shared<MlpField>(mlp);
}

bool HaveW2Weights() { return std::ifstream(SNODE_W2_WEIGHTS).good(); }

// W2's initial weights when ../shared/data is there, otherwise a seeded initialisation of the
// same MLP (in the layout both sides read), so the comparisons also run without the data.
std::vector<double> FloorWeights() {
  if (HaveW2Weights()) return LoadW2FloorWeights(SNODE_W2_WEIGHTS);
  const Vector theta = W2Field()->InitialParams(/*seed=*/3);
  return std::vector<double>(theta.data(), theta.data() + theta.size());
}

Vector SnodeWeights() {
  const std::vector<double> weights = FloorWeights();
  return Eigen::Map<const Vector>(weights.data(), static_cast<Index>(weights.size()));
}

OdeProblem SnodeW2Problem() {
  const auto field = W2Field();
  OdeProblem problem;
  problem.field = field;
  problem.theta = SnodeWeights();
  problem.z0 = Vector::Ones(2);
  problem.output_times = W2OutputTimes();
  return problem;
}

// Largest |a − b| / max(|a|, |b|) over all 101 × 2 output values.
double MaxRelativeDifference(const Trajectory& snode, const std::vector<double>& floor_states) {
  double worst = 0.0;
  for (size_t k = 0; k < snode.states.size(); ++k) {
    for (int i = 0; i < 2; ++i) {
      const double a = snode.states[k][i];
      const double b = floor_states[2 * k + static_cast<size_t>(i)];
      const double scale = std::max({std::abs(a), std::abs(b), 1e-300});
      worst = std::max(worst, std::abs(a - b) / scale);
    }
  }
  return worst;
}

void ExpectFloorMatchesSnode(bool interpolate) {
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  options.initial_step_estimate = "sundials";  // the floor keeps ARKODE's own first step
  options.step_controller = "arkode";          // and ERKStep's own step control
  options.interpolate_outputs = interpolate;
  const OdeProblem problem = SnodeW2Problem();
  const std::unique_ptr<Integrator> dopri5 = IntegratorRegistry().Create("dopri5", options);
  W2FloorOptions floor_options;
  floor_options.mode = interpolate ? W2OutputMode::kInterpolate : W2OutputMode::kStopTimes;
  W2Floor floor_solver(FloorWeights(), floor_options);
  // Twice: the second solve runs on re-initialised solvers, the state the benchmark measures.
  for (int repeat = 0; repeat < 2; ++repeat) {
    const Trajectory trajectory = dopri5->Solve(problem);
    floor_solver.Solve(1.0, 1.0);
    ASSERT_EQ(trajectory.states.size(), static_cast<size_t>(kW2NumOutputs));
    EXPECT_EQ(trajectory.stats.rhs_evals, floor_solver.rhs_evals());
    EXPECT_EQ(trajectory.stats.steps, floor_solver.steps());
    const double difference = MaxRelativeDifference(trajectory, floor_solver.states());
    EXPECT_LE(difference, 1e-12);
    if (repeat == 1) {
      std::printf("  %s: nfe %ld (both), steps %ld, max relative difference %.3g\n",
                  interpolate ? "interpolate" : "stop_times", floor_solver.rhs_evals(),
                  floor_solver.steps(), difference);
    }
  }
}

TEST(W2Floor, LoadsTheSameWeightsAsTheTorchLoader) {
  if (!HaveW2Weights()) GTEST_SKIP() << "no " << SNODE_W2_WEIGHTS;
  const auto field = W2Field();
  const Vector snode_theta = LoadTorchMlpParams(SNODE_W2_WEIGHTS, *field);
  const std::vector<double> floor_theta = LoadW2FloorWeights(SNODE_W2_WEIGHTS);
  ASSERT_EQ(floor_theta.size(), static_cast<size_t>(snode_theta.size()));
  ASSERT_EQ(floor_theta.size(), static_cast<size_t>(kW2NumParams));
  for (Index i = 0; i < snode_theta.size(); ++i) {
    ASSERT_EQ(floor_theta[static_cast<size_t>(i)], snode_theta[i]) << "parameter " << i;
  }
}

TEST(W2Floor, OutputTimesAreTheTruthFileTimes) {
  const std::vector<double> times = W2OutputTimes();
  ASSERT_EQ(times.size(), static_cast<size_t>(kW2NumOutputs));
  EXPECT_EQ(times.front(), 0.0);
  EXPECT_EQ(times.back(), 10.0);
  EXPECT_EQ(times[3], 0.30000000000000004);  // 0.1·3 as in w2_truth.json, not 0.3
}

TEST(W2Floor, RhsEqualsMlpFieldBitForBit) {
  const auto field = W2Field();
  const Vector theta = SnodeWeights();
  W2Floor kernel_floor(FloorWeights(), W2FloorOptions{});
  W2FloorOptions std_options;
  std_options.tanh = W2Tanh::kStd;
  W2Floor std_floor(FloorWeights(), std_options);
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> uniform(-8.0, 8.0);
  for (int trial = 0; trial < 200; ++trial) {
    const Vector z = (Vector(2) << uniform(rng), uniform(rng)).finished();
    Vector expected(2);
    field->F(0.0, z, theta, expected);
    double kernel_out[2], std_out[2];
    kernel_floor.Rhs(z.data(), kernel_out);
    std_floor.Rhs(z.data(), std_out);
    for (int i = 0; i < 2; ++i) {
      // Same operations in the same order: identical bits, not merely close.
      ASSERT_EQ(kernel_out[i], expected[i]) << "trial " << trial << " component " << i;
      // std::tanh differs from the kernel by ~1 ulp per value.
      EXPECT_NEAR(std_out[i], expected[i], 1e-13 * std::max(1.0, std::abs(expected[i])));
    }
  }
}

TEST(W2Floor, StopTimeSolveMatchesSnode) { ExpectFloorMatchesSnode(/*interpolate=*/false); }

TEST(W2Floor, InterpolatedSolveMatchesSnode) { ExpectFloorMatchesSnode(/*interpolate=*/true); }

TEST(W2Floor, InterpolatedOutputsAgreeWithStopTimesToSolverTolerance) {
  W2FloorOptions stop_options;
  W2FloorOptions interpolate_options;
  interpolate_options.mode = W2OutputMode::kInterpolate;
  W2Floor stop_floor(FloorWeights(), stop_options);
  W2Floor interpolate_floor(FloorWeights(), interpolate_options);
  stop_floor.Solve(1.0, 1.0);
  interpolate_floor.Solve(1.0, 1.0);
  // Fewer steps: the interpolating solve steps over the output times.
  EXPECT_LT(interpolate_floor.steps(), stop_floor.steps());
  double worst = 0.0, scale = 1.0;
  for (size_t i = 0; i < stop_floor.states().size(); ++i) {
    worst = std::max(worst, std::abs(stop_floor.states()[i] - interpolate_floor.states()[i]));
    scale = std::max(scale, std::abs(stop_floor.states()[i]));
  }
  // Both are rtol 1e-6 solutions (the error grows along the trajectory), so they agree to a few
  // 1e-5 of its size: measured 1.2e-5 · max|z| with W2's weights (9.9e-5, max|z| 8.1), 2.5e-5
  // with the seeded ones.
  EXPECT_LT(worst / scale, 5e-5) << "worst " << worst << ", max |z| " << scale;
  EXPECT_GT(worst, 0.0);  // they are different computations
}

TEST(W2Floor, OneStepLoopGivesTheSameOutputsAsTheNormalLoop) {
  // Same steps, same interpolant: only the number of evolve calls differs, so the outputs agree
  // bit for bit. (The one-step calls pass the next output time as tout: ARKODE's first-step
  // estimate depends on it, and with the final time instead the first step differed — 1.9e-13.)
  W2FloorOptions normal_options;
  normal_options.mode = W2OutputMode::kInterpolate;
  W2FloorOptions one_step_options;
  one_step_options.mode = W2OutputMode::kInterpolateOneStep;
  W2Floor normal_floor(FloorWeights(), normal_options);
  W2Floor one_step_floor(FloorWeights(), one_step_options);
  for (int solve = 0; solve < 2; ++solve) {  // the second solve re-initialises the same memory
    normal_floor.Solve(1.0, 1.0);
    one_step_floor.Solve(1.0, 1.0);
    EXPECT_EQ(normal_floor.rhs_evals(), one_step_floor.rhs_evals());
    EXPECT_EQ(normal_floor.steps(), one_step_floor.steps());
    ASSERT_EQ(normal_floor.states().size(), one_step_floor.states().size());
    for (size_t i = 0; i < normal_floor.states().size(); ++i) {
      ASSERT_EQ(normal_floor.states()[i], one_step_floor.states()[i]) << "value " << i;
    }
  }
}

TEST(W2Floor, StdTanhFloorTakesTheSameStepsAsTheKernelFloor) {
  W2FloorOptions std_options;
  std_options.tanh = W2Tanh::kStd;
  W2Floor kernel_floor(FloorWeights(), W2FloorOptions{});
  W2Floor std_floor(FloorWeights(), std_options);
  kernel_floor.Solve(1.0, 1.0);
  std_floor.Solve(1.0, 1.0);
  EXPECT_EQ(kernel_floor.rhs_evals(), std_floor.rhs_evals());
  double worst = 0.0;
  for (size_t i = 0; i < kernel_floor.states().size(); ++i) {
    worst = std::max(worst, std::abs(kernel_floor.states()[i] - std_floor.states()[i]));
  }
  EXPECT_LT(worst, 1e-10);  // ulp-level differences in f, amplified by the 101 steps
}

}  // namespace
}  // namespace snode
