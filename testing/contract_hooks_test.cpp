// ContractHooks: the OdeProblem hooks and output modes a method declares (output_jumps,
// step_hook, interpolated_outputs) work as integrators/integrator.hpp says; the checks of those it
// does not declare are skipped, but for at_output, which must then be a ConfigError.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "testing/contract_fixture.hpp"

namespace snode::contract {

void LinkContractHooksSuite() {}

namespace {

class ContractHooks : public IntegratorContract {};

// The exact solution of the logistic problem from (t_start, z_start) at t.
Vector ExactFrom(const OdeProblem& problem, double t_start, const Vector& z_start, double t) {
  OdeProblem restarted = problem;
  restarted.t0 = t_start;
  restarted.z0 = z_start;
  return LogisticField::Exact(restarted, t);
}

// Jumps z → z/2 at output 0 (t0 itself) and output 2 (t = 1): the trajectory holds the states
// after the jumps and the solution continues from them.
TEST_P(ContractHooks, OutputJumpsChangeTheState) {
  OdeProblem problem = LogisticProblem();
  problem.output_times = {0.0, 0.5, 1.0, 2.0};
  std::vector<std::pair<std::size_t, double>> calls;
  problem.at_output = [&calls](std::size_t index, double t, VectorRef state) {
    calls.emplace_back(index, t);
    if (index != 0 && index != 2) return false;
    state *= 0.5;
    return true;
  };
  if (!Capabilities().output_jumps) {
    EXPECT_THROW(Make()->Solve(problem), ConfigError) << name() << " ignored at_output";
    GTEST_SKIP() << name() << " does not declare output_jumps (at_output is a ConfigError)";
  }
  const Trajectory trajectory = Make()->Solve(problem);
  ASSERT_EQ(calls.size(), 4u);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, i);
    EXPECT_EQ(calls[i].second, problem.output_times[i]);
  }
  ASSERT_EQ(trajectory.states.size(), 4u);
  const Vector z_start = 0.5 * problem.z0;
  EXPECT_EQ(trajectory.states[0], z_start);
  const Vector before = ExactFrom(problem, 0.0, z_start, 1.0);
  const std::vector<Vector> expected = {z_start, ExactFrom(problem, 0.0, z_start, 0.5),
                                        0.5 * before, ExactFrom(problem, 1.0, 0.5 * before, 2.0)};
  for (std::size_t i = 1; i < expected.size(); ++i) {
    EXPECT_LT((trajectory.states[i] - expected[i]).cwiseAbs().maxCoeff(), tolerance())
        << "output " << i;
  }
}

// after_step: contiguous accepted steps from t0 to the last output, every output time a step end,
// and a dense output over each step accurate to 10× the subject's tolerance.
TEST_P(ContractHooks, AfterStepSeesEveryStepWithAccurateDenseOutput) {
  OdeProblem problem = LogisticProblem();
  std::vector<double> ends;
  double dense_error = 0.0;
  problem.after_step = [&](double t_prev, double t_new, const DenseOutput& dense) {
    EXPECT_EQ(t_prev, ends.empty() ? problem.t0 : ends.back());
    ends.push_back(t_new);
    Vector z(problem.z0.size());
    for (const double s : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      const double t = t_prev + s * (t_new - t_prev);
      dense.Evaluate(t, z);
      dense_error =
          std::max(dense_error, (z - LogisticField::Exact(problem, t)).cwiseAbs().maxCoeff());
    }
  };
  if (!Capabilities().step_hook) GTEST_SKIP() << name() << " does not declare step_hook";
  const Trajectory trajectory = Make()->Solve(problem);
  ASSERT_FALSE(ends.empty());
  EXPECT_EQ(static_cast<long>(ends.size()), trajectory.stats.steps);
  EXPECT_EQ(ends.back(), problem.output_times.back());
  for (const double t : problem.output_times) {
    EXPECT_NE(std::find(ends.begin(), ends.end(), t), ends.end()) << "output time " << t;
  }
  std::printf("%s dense output error %.3e\n", name().c_str(), dense_error);
  EXPECT_LT(dense_error, 10.0 * tolerance());
  EXPECT_LT(MaxLogisticError(problem, trajectory.states), tolerance());
}

// Interpolated outputs: 40 observations read off the dense output, as accurate as the subject's
// tolerance allows (10×) and with no more steps than with stop times; a ConfigError together with
// a hook that needs stop times.
TEST_P(ContractHooks, InterpolatedOutputs) {
  IntegratorOptions options = subject().settings;
  options.interpolate_outputs = true;
  OdeProblem problem = LogisticProblem();
  problem.output_times.clear();
  for (int i = 1; i <= 40; ++i) problem.output_times.push_back(0.05 * i);
  if (!Capabilities().interpolated_outputs) {
    GTEST_SKIP() << name() << " does not declare interpolated_outputs";
  }
  if (options.fixed_step > 0.0) {
    EXPECT_THROW(Make(options)->Solve(problem), ConfigError) << "with fixed_step > 0";
    GTEST_SKIP() << "the subject runs fixed steps; interpolated outputs need adaptive ones";
  }
  const Trajectory interpolated = Make(options)->Solve(problem);
  const Trajectory stopped = Make()->Solve(problem);
  EXPECT_EQ(interpolated.times, problem.output_times);
  EXPECT_LT(MaxLogisticError(problem, interpolated.states), 10.0 * tolerance());
  EXPECT_LE(interpolated.stats.steps, stopped.stats.steps);
  OdeProblem with_jumps = problem;
  with_jumps.at_output = [](std::size_t, double, VectorRef) { return false; };
  EXPECT_THROW(Make(options)->Solve(with_jumps), ConfigError) << "with at_output";
  OdeProblem with_hook = problem;
  with_hook.after_step = [](double, double, const DenseOutput&) {};
  EXPECT_THROW(Make(options)->Solve(with_hook), ConfigError) << "with after_step";
}

SNODE_INSTANTIATE_CONTRACT_SUITE(ContractHooks);

}  // namespace
}  // namespace snode::contract
