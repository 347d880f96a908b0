// ContractSolve: what every integrator must do whatever it declares — accuracy and outputs on the
// logistic problem, ConfigErrors for bad input, reuse, faults (integrators/integrator.hpp) — and
// the consistency of what it declares about steps and its tableau.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "integrators/fixed_steps.hpp"
#include "testing/contract_fixture.hpp"

namespace snode::contract {

void LinkContractSolveSuite() {}

namespace {

class ContractSolve : public IntegratorContract {};

TEST_P(ContractSolve, SolvesLogisticToExpectedAccuracy) {
  for (const char* linear_solver : {"dense", "gmres", "fgmres"}) {
    IntegratorOptions options = subject().settings;
    options.linear_solver = linear_solver;
    const OdeProblem problem = LogisticProblem();
    const Trajectory trajectory = Make(options)->Solve(problem);
    ASSERT_EQ(trajectory.states.size(), problem.output_times.size());
    EXPECT_EQ(trajectory.times, problem.output_times);
    const double error = MaxLogisticError(problem, trajectory.states);
    EXPECT_LT(error, tolerance()) << name() << " with " << linear_solver;
    EXPECT_GT(trajectory.stats.steps, 0);
    EXPECT_GT(trajectory.stats.rhs_evals, 0);
    EXPECT_GE(trajectory.stats.wall_seconds, 0.0);
  }
}

TEST_P(ContractSolve, FirstOutputTimeMayEqualInitialTime) {
  OdeProblem problem = LogisticProblem();
  problem.output_times = {0.0, 1.0};
  const Trajectory trajectory = Make()->Solve(problem);
  ASSERT_EQ(trajectory.states.size(), 2u);
  EXPECT_EQ(trajectory.states[0], problem.z0);
  EXPECT_LT(MaxLogisticError(problem, trajectory.states), tolerance());
}

// Stop times: with record_steps every output time is the end of a step.
TEST_P(ContractSolve, RecordedStepTimesCoverEveryOutputTime) {
  if (!Capabilities().records_steps) {
    GTEST_SKIP() << name() << " does not declare records_steps";
  }
  IntegratorOptions options = subject().settings;
  options.record_steps = true;
  const OdeProblem problem = LogisticProblem();
  const Trajectory trajectory = Make(options)->Solve(problem);
  const std::vector<double>& steps = trajectory.step_times;
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps.front(), problem.t0);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_GT(steps[i], steps[i - 1]);
  for (const double t : problem.output_times) {
    EXPECT_NE(std::find(steps.begin(), steps.end(), t), steps.end()) << "output time " << t;
  }
  EXPECT_EQ(static_cast<long>(steps.size()) - 1, trajectory.stats.steps);
  EXPECT_LT(MaxLogisticError(problem, trajectory.states), tolerance());
}

// What the declaration says about steps and the tableau holds: a method that needs a fixed step
// refuses adaptive steps; one with an error estimate adapts (rtol 1e-8, atol 1e-10: error
// below 1e-5); a declared tableau has the declared order and kind, and an embedding exactly when
// the method declares an error estimate.
TEST_P(ContractSolve, DeclaredStepModesAndTableauHold) {
  const IntegratorCapabilities capabilities = Capabilities();
  EXPECT_FALSE(capabilities.needs_fixed_step && capabilities.error_estimate);
  IntegratorOptions adaptive = subject().settings;
  adaptive.fixed_step = 0.0;
  adaptive.rtol = 1e-8;
  adaptive.atol = 1e-10;
  const OdeProblem problem = LogisticProblem();
  if (capabilities.needs_fixed_step) {
    EXPECT_THROW(Make(adaptive)->Solve(problem), ConfigError) << "fixed_step = 0";
  }
  if (capabilities.error_estimate) {
    EXPECT_LT(MaxLogisticError(problem, Make(adaptive)->Solve(problem).states), 1e-5);
  }
  if (capabilities.tableau) {
    const ButcherTableau& tableau = *capabilities.tableau;
    EXPECT_EQ(capabilities.order, tableau.order);
    EXPECT_EQ(capabilities.error_estimate, tableau.HasEmbedding());
    EXPECT_EQ(capabilities.kind, tableau.IsExplicit() ? IntegratorKind::kExplicit
                                                      : IntegratorKind::kDiagonallyImplicit);
  }
}

// Fixed steps (integrators/fixed_steps.hpp): every output interval takes exactly the planned
// steps, so an interval that is a whole number of steps up to round-off gets no extra round-off
// step (h = 1e-4 on [0, 0.3], [0.3, 0.7], [0.7, 2]: t ← t + h drifts past the solvers' own
// round-off test and used to leave a sliver step in each), every output time ends a step, and
// max_steps equal to the longest interval's steps suffices while one less is *_TOO_MUCH_WORK. A
// method that refuses fixed steps (ConfigError) is skipped.
TEST_P(ContractSolve, FixedStepsTakeThePlannedStepsWithoutRoundOffSteps) {
  OdeProblem problem = LogisticProblem();
  problem.output_times = {0.3, 0.7, 2.0};
  for (const double h : {0.1, 1e-4}) {
    std::vector<double> plan = {problem.t0};
    AppendFixedStepTimes(problem.t0, problem.output_times, h, plan);
    double longest = 0.0;
    for (std::size_t k = 0; k < problem.output_times.size(); ++k) {
      const double a = k == 0 ? problem.t0 : problem.output_times[k - 1];
      longest = std::max(longest, FixedStepCount(a, problem.output_times[k], h));
    }
    IntegratorOptions options = subject().settings;
    options.fixed_step = h;
    options.max_steps = static_cast<long>(longest);
    options.record_steps = Capabilities().records_steps;
    std::unique_ptr<Integrator> integrator;
    try {
      integrator = Make(options);
      integrator->Solve(problem);
    } catch (const ConfigError& e) {
      GTEST_SKIP() << name() << " refuses fixed steps: " << e.what();
    }
    const Trajectory trajectory = integrator->Solve(problem);
    EXPECT_EQ(trajectory.stats.steps, static_cast<long>(plan.size()) - 1) << "h = " << h;
    if (options.record_steps) {
      ASSERT_EQ(trajectory.step_times.size(), plan.size()) << "h = " << h;
      for (std::size_t i = 0; i < plan.size(); ++i) {
        EXPECT_NEAR(trajectory.step_times[i], plan[i], 1e-12) << "step end " << i << ", h = " << h;
      }
      for (const double t : problem.output_times) {
        const auto& steps = trajectory.step_times;
        EXPECT_NE(std::find(steps.begin(), steps.end(), t), steps.end()) << "output time " << t;
      }
    }
    options.max_steps -= 1;
    try {
      Make(options)->Solve(problem);
      ADD_FAILURE() << "no exception with max_steps one below the longest interval, h = " << h;
    } catch (const SundialsError& e) {
      EXPECT_NE(e.flag_name().find("_TOO_MUCH_WORK"), std::string::npos) << e.what();
    }
  }
}

TEST_P(ContractSolve, BadOptionsAreConfigErrors) {
  const IntegratorOptions good = subject().settings;
  const OdeProblem problem = LogisticProblem();
  const auto solve_with = [&](const IntegratorOptions& options) { Make(options)->Solve(problem); };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  IntegratorOptions bad = good;
  bad.rtol = -1e-6;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.atol = nan;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.rtol = 0.0;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.fixed_step = -0.01;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.fixed_step = nan;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.max_steps = 0;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.linear_solver = "lapack";
  EXPECT_THROW(solve_with(bad), ConfigError);
}

TEST_P(ContractSolve, BadProblemsAreConfigErrors) {
  const std::unique_ptr<Integrator> integrator = Make();
  OdeProblem problem = LogisticProblem();
  problem.output_times = {0.5, 0.5, 1.0};
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem.output_times = {1.0, 0.5};
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem.output_times = {0.5, 1.0};
  problem.t0 = 0.75;
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem = LogisticProblem();
  problem.z0 = Vector::Zero(3);
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  // The object stays usable after rejected input.
  problem = LogisticProblem();
  EXPECT_LT(MaxLogisticError(problem, integrator->Solve(problem).states), tolerance());
}

TEST_P(ContractSolve, ThousandReusedSolvesEqualFreshObjects) {
  const std::unique_ptr<Integrator> reused = Make();
  OdeProblem problem = LogisticProblem();
  problem.output_times = {0.1, 0.2};
  double worst = 0.0;
  for (int k = 0; k < 1000; ++k) {
    problem.theta << 1.0 + 0.002 * k, 3.0 - 0.001 * k;
    problem.z0 << 0.1 + 0.0005 * k, 0.8 - 0.0003 * k;
    const Trajectory again = reused->Solve(problem);
    const Trajectory fresh = Make()->Solve(problem);
    ASSERT_EQ(again.states.size(), fresh.states.size());
    for (std::size_t i = 0; i < fresh.states.size(); ++i) {
      const double scale = std::max(1.0, fresh.states[i].cwiseAbs().maxCoeff());
      worst = std::max(worst, (again.states[i] - fresh.states[i]).cwiseAbs().maxCoeff() / scale);
    }
    ASSERT_EQ(again.stats.steps, fresh.stats.steps) << "solve " << k;
    ASSERT_EQ(again.stats.rhs_evals, fresh.stats.rhs_evals) << "solve " << k;
  }
  EXPECT_EQ(worst, 0.0) << "a reused object must return bit for bit what a fresh one returns";
}

TEST_P(ContractSolve, NanFieldIsNumericalErrorNamingIntegratorAndTime) {
  for (const auto mode : {FaultyField::Mode::kNanAlways, FaultyField::Mode::kNanAfter}) {
    IntegratorOptions options = subject().settings;
    options.max_steps = 5000;
    OdeProblem problem = LogisticProblem();
    problem.field = std::make_shared<FaultyField>(mode, /*t_bad=*/0.25, 0);
    try {
      Make(options)->Solve(problem);
      ADD_FAILURE() << "no exception";
    } catch (const NumericalError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + name() + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("t="), std::string::npos) << message;
      EXPECT_NE(message.find("NaN"), std::string::npos) << message;
    }
  }
}

TEST_P(ContractSolve, FieldExceptionSurfacesUnchanged) {
  OdeProblem problem = LogisticProblem();
  problem.field = std::make_shared<FaultyField>(FaultyField::Mode::kThrowAfterCalls, 0.0, 7);
  const std::unique_ptr<Integrator> integrator = Make();
  try {
    integrator->Solve(problem);
    ADD_FAILURE() << "no exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "field exploded on purpose");
  }
  // The next solve with a healthy field works on the same object.
  problem = LogisticProblem();
  EXPECT_LT(MaxLogisticError(problem, integrator->Solve(problem).states), tolerance());
}

TEST_P(ContractSolve, StateSizeChangeBetweenSolves) {
  const std::unique_ptr<Integrator> integrator = Make();
  OdeProblem problem = LogisticProblem();
  integrator->Solve(problem);
  problem.field = std::make_shared<LogisticField>(3);
  problem.theta = (Vector(3) << 1.0, 2.0, 0.5).finished();
  problem.z0 = (Vector(3) << 0.3, 0.2, 0.9).finished();
  const Trajectory resized = integrator->Solve(problem);
  const Trajectory fresh = Make()->Solve(problem);
  ASSERT_EQ(resized.states.size(), fresh.states.size());
  for (std::size_t i = 0; i < fresh.states.size(); ++i) {
    EXPECT_LE((resized.states[i] - fresh.states[i]).cwiseAbs().maxCoeff(), 1e-14);
  }
  EXPECT_LT(MaxLogisticError(problem, resized.states), tolerance());
}

SNODE_INSTANTIATE_CONTRACT_SUITE(ContractSolve);

}  // namespace
}  // namespace snode::contract
