#include "integrators/heun_integrator.hpp"

#include <gtest/gtest.h>

#include <cmath>
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

}  // namespace
}  // namespace snode
