// problems/oregonator: the field's derivatives (θ = ln k), the data, and the reference gradient:
// ForwardSensitivityGradient at rtol 1e-14 agrees with itself at rtol 1e-12 to BoundError 1e-7
// and with central differences of an sdirk solve at rtol 1e-12 to 1e-4 (measured 3e-6).
#include "problems/oregonator.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "studies/gradient_validation.hpp"
#include "tests/problems/reference_checks.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

TEST(OregonatorProblem, FieldDerivativesMatchFiniteDifferences) {
  ProblemSetup setup = MakeOregonator();
  const Vector z = (Vector(3) << 3.0, 1500.0, 900.0).finished();
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(*setup.ode.field, 0.0, z,
                                                                setup.ode.theta, 1e-6));
}

TEST(OregonatorProblem, DataAndBurst) {
  const ProblemSetup setup = MakeOregonator(60.0);
  EXPECT_EQ(setup.name, "oregonator");
  EXPECT_NEAR(std::exp(setup.ode.theta(0)), 77.27, 1e-12);
  EXPECT_EQ(setup.ode.output_times, OregonatorTimes(60.0));
  const LossAndGradient result = ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-10, 1e-12);
  double largest = 0.0;
  for (const Vector& z : result.forward.states) largest = std::max(largest, z.maxCoeff());
  EXPECT_GT(largest, 1e3);  // a burst inside the horizon
}

TEST(OregonatorProblem, ReferenceGradientIsConvergedAndMatchesCentralDifferences) {
  const ProblemSetup setup = MakeOregonator();
  const Vector reference = test_util::ReferenceGradient(setup, 1e-14);
  EXPECT_LT(BoundError(test_util::ReferenceGradient(setup, 1e-12), reference), 1e-7);
  EXPECT_LT(BoundError(test_util::TightCentralDifferences(setup, "sdirk"), reference), 1e-4);
}

}  // namespace
}  // namespace snode::problems
