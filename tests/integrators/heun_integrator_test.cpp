#include "integrators/heun_integrator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

OdeProblem Decay(std::vector<double> times) { return problems::DecayOde(1.0, std::move(times)); }

TEST(HeunIntegrator, FixedStepMatchesClosedFormAmplification) {
  // For y' = −y one Heun step multiplies by R(−h) = 1 − h + h²/2.
  IntegratorOptions options;
  options.fixed_step = 0.1;
  options.record_steps = true;
  HeunIntegrator heun(options);
  const Trajectory trajectory = heun.Solve(Decay({0.25, 1.0}));
  const auto r = [](double h) { return 1.0 - h + 0.5 * h * h; };
  // [0, 0.25]: 0.1, 0.1, then a shortened 0.05; [0.25, 1]: seven steps of 0.1, a last one of 0.05.
  EXPECT_NEAR(trajectory.states[0][0], r(0.1) * r(0.1) * r(0.05), 1e-15);
  EXPECT_NEAR(trajectory.states[1][0], trajectory.states[0][0] * std::pow(r(0.1), 7) * r(0.05),
              1e-14);
  EXPECT_EQ(trajectory.stats.steps, 11);
  EXPECT_EQ(trajectory.stats.rhs_evals, 22);
  EXPECT_EQ(trajectory.step_times.size(), 12u);
  EXPECT_EQ(trajectory.step_times[3], 0.25);
  EXPECT_EQ(trajectory.step_times.back(), 1.0);
}

TEST(HeunIntegrator, AdaptiveErrorFollowsTolerance) {
  const OdeProblem problem = test_util::LogisticProblem();
  double previous_error = 1.0;
  long previous_steps = 0;
  for (const double rtol : {1e-4, 1e-6, 1e-8}) {
    IntegratorOptions options;
    options.rtol = rtol;
    options.atol = rtol * 1e-2;
    HeunIntegrator heun(options);
    const Trajectory trajectory = heun.Solve(problem);
    const double error = test_util::MaxLogisticError(problem, trajectory.states);
    EXPECT_LT(error, 100 * rtol) << rtol;
    EXPECT_LT(error, previous_error);
    EXPECT_GT(trajectory.stats.steps, previous_steps);
    previous_error = error;
    previous_steps = trajectory.stats.steps;
  }
}

TEST(HeunIntegrator, TooManyStepsIsTooMuchWorkError) {
  IntegratorOptions options;
  options.fixed_step = 1e-3;
  options.max_steps = 10;
  HeunIntegrator heun(options);
  try {
    heun.Solve(Decay({1.0}));
    ADD_FAILURE() << "no exception";
  } catch (const SundialsError& e) {
    EXPECT_EQ(e.flag_name(), "HEUN_TOO_MUCH_WORK");
    EXPECT_NE(std::string(e.what()).find("(integrator 'heun'); more than max_steps=10"),
              std::string::npos)
        << e.what();
  }
}

TEST(HeunIntegrator, DeclaresItsTableauAndHooks) {
  const IntegratorCapabilities c = HeunIntegrator(IntegratorOptions()).Capabilities();
  EXPECT_EQ(c.kind, IntegratorKind::kExplicit);
  EXPECT_EQ(c.order, 2);
  EXPECT_TRUE(c.error_estimate);
  EXPECT_TRUE(c.output_jumps && c.step_hook && c.interpolated_outputs && c.records_steps);
  ASSERT_TRUE(c.tableau.has_value());
  EXPECT_EQ(c.tableau->b, ExplicitTableau("heun").b);
}

// A jump at t = 0.25 (the state doubles) equals stopping there, doubling the state and starting
// again (bit for bit at a fixed step 0.02); after_step sees every step, with a dense output within
// 1e-4 of the exact solution at the step's midpoint (measured 5e-5: Heun's O(h²) global error).
TEST(HeunIntegrator, HonoursJumpsAndStepHooks) {
  IntegratorOptions options;
  options.fixed_step = 0.02;
  OdeProblem problem = Decay({0.25, 1.0});
  long hooks = 0;
  const double jump_time = 0.25;
  double worst = 0.0;
  Vector z(1);
  problem.after_step = [&](double t_prev, double t_new, const DenseOutput& dense) {
    ++hooks;
    const double t_mid = 0.5 * (t_prev + t_new);
    dense.Evaluate(t_mid, z);
    const double exact = t_mid < jump_time ? std::exp(-t_mid) : 2.0 * std::exp(-t_mid);
    worst = std::max(worst, std::abs(z[0] - exact));
  };
  problem.at_output = [](std::size_t index, double, VectorRef state) {
    if (index == 0) state *= 2.0;
    return index == 0;
  };
  const Trajectory jumped = HeunIntegrator(options).Solve(problem);
  EXPECT_EQ(hooks, jumped.stats.steps);
  std::printf("heun dense midpoint error %.3e\n", worst);
  EXPECT_LT(worst, 1e-4);
  OdeProblem second = Decay({1.0});
  second.t0 = 0.25;
  second.z0 = HeunIntegrator(options).Solve(Decay({0.25})).states[0] * 2.0;
  EXPECT_EQ(jumped.states[0], second.z0);
  EXPECT_EQ(jumped.states[1], HeunIntegrator(options).Solve(second).states[0]);
}

}  // namespace
}  // namespace snode
