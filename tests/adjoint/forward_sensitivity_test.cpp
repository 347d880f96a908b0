// adjoint/forward_sensitivity: the CVODES forward-sensitivity reference against closed forms
// (decay and two-rate decay, problems/decay.hpp). Tolerance: at rtol = 1e-10 the BDF solve of
// states and sensitivities is accurate to ~1e-9 relative, so every component must agree with the
// closed form to 1e-7 relative (a hundredfold margin); at rtol = 1e-6 to 1e-3.
#include "adjoint/forward_sensitivity.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.hpp"
#include "problems/decay.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

TEST(ForwardSensitivity, DecayMatchesClosedForm) {
  for (const double lambda : {1.0, 10.0, 100.0}) {
    const problems::ProblemSetup setup = problems::MakeDecay(lambda);
    const LossAndGradient result =
        ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-10, 1e-14 * std::exp(-lambda));
    EXPECT_NEAR(result.loss, std::exp(-lambda), 1e-7 * std::exp(-lambda)) << "λ = " << lambda;
    EXPECT_TRUE(test_util::VectorsClose(result.Joined(), *setup.exact_gradient, 1e-7, 0.0))
        << "λ = " << lambda;
    EXPECT_GT(result.stats.forward_steps, 0);
    ASSERT_EQ(result.forward.states.size(), 1u);
  }
}

TEST(ForwardSensitivity, TwoRateDecayMatchesClosedFormAtTwoTolerances) {
  for (const double lambda : {10.0, 1e4}) {
    const problems::ProblemSetup setup = problems::MakeTwoRateDecay(lambda);
    const Vector exact = *setup.exact_gradient;
    EXPECT_TRUE(test_util::VectorsClose(
        ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-10, 1e-14).Joined(), exact, 1e-7,
        0.0))
        << "λ = " << lambda;
    EXPECT_TRUE(test_util::VectorsClose(
        ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-6, 1e-10).Joined(), exact, 1e-3, 0.0))
        << "λ = " << lambda;
  }
}

TEST(ForwardSensitivity, OutputAtInitialTimeCountsTheIdentity) {
  problems::ProblemSetup setup = problems::MakeTwoRateDecay(3.0);
  setup.ode.output_times = {0.0, 1.0};
  const auto loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 2);
  const LossAndGradient result = ForwardSensitivityGradient(setup.ode, loss, 1e-10, 1e-14);
  const Vector exact = problems::TwoRateDecayExactGradient(3.0, {0.0, 1.0});
  EXPECT_TRUE(test_util::VectorsClose(result.Joined(), exact, 1e-7, 0.0));
}

TEST(ForwardSensitivity, RejectsRunningCostReadoutAndBadTolerances) {
  const problems::ProblemSetup setup = problems::MakeDecay(1.0);
  const LinearFunctionalLoss running({Vector::Ones(1)}, Vector::Ones(1));
  EXPECT_THROW(ForwardSensitivityGradient(setup.ode, running, 1e-8, 1e-10), ConfigError);
  EXPECT_THROW(ForwardSensitivityGradient(setup.ode, *setup.loss, 0.0, 1e-10), ConfigError);
  EXPECT_THROW(ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-8, -1.0), ConfigError);
  EXPECT_THROW(ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-8, 1e-10, 0), ConfigError);
}

TEST(ForwardSensitivity, StepBudgetFailsLoudly) {
  const problems::ProblemSetup setup = problems::MakeTwoRateDecay(1e6);
  EXPECT_THROW(ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-12, 1e-16, 5), SundialsError);
}

}  // namespace
}  // namespace snode
