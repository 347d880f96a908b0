// problems/robertson: the reference gradient (tight CVODES adjoint) against central differences
// of the loss, for the final-time loss (dL/dk to 1e-4 relative per component) and the
// sum-of-observations loss (1e-3: its dL/dk3 ≈ −2e-6 is differenced with the step
// h = 1e-6·k3 = 1e-2 through 2 × 50 observations and agrees to ≈ 5e-4), and the problem data.
#include "problems/robertson.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "integrators/integrator.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

void ExpectReferenceMatchesDifferences(const ProblemSetup& setup, double rtol) {
  const RobertsonReference ref = ComputeRobertsonReference(setup);
  ASSERT_EQ(ref.finite_difference.size(), 6) << ref.fd_message;
  ASSERT_EQ(ref.adjoint.size(), 6) << ref.adjoint_message;
  // dL/dk only: perturbing z0 = (1, 0, 0) by ±h makes y2, y3 negative.
  EXPECT_TRUE(
      test_util::VectorsClose(ref.finite_difference.head(3), ref.adjoint.head(3), rtol, 0.0));
  EXPECT_GT(ref.spectral_radius, 1e3);  // stiff at T
}

TEST(RobertsonProblem, ReferenceMatchesCentralDifferencesFinalTime) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  ExpectReferenceMatchesDifferences(MakeRobertson(40.0), 1e-4);
}

TEST(RobertsonProblem, ReferenceMatchesCentralDifferencesSumOfObservations) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  ExpectReferenceMatchesDifferences(MakeRobertsonSum(40.0), 1e-3);
}

TEST(RobertsonProblem, Data) {
  const ProblemSetup final_time = MakeRobertson(1e5);
  EXPECT_EQ(final_time.name, "robertson");
  EXPECT_EQ(final_time.stiffness, 1e5);
  EXPECT_EQ(final_time.ode.output_times, std::vector<double>{1e5});
  EXPECT_EQ(final_time.ode.z0, (Vector(3) << 1.0, 0.0, 0.0).finished());
  EXPECT_EQ(final_time.ode.theta, (Vector(3) << 0.04, 3e7, 1e4).finished());
  EXPECT_FALSE(final_time.exact_gradient.has_value());

  EXPECT_EQ(RobertsonSumTimes(1e5).size(), 50u);
  const std::vector<double> times = RobertsonSumTimes(40.0);
  ASSERT_FALSE(times.empty());
  EXPECT_DOUBLE_EQ(times.front(), 1e-5);
  EXPECT_LE(times.back(), 40.0);
  EXPECT_LT(times.size(), 50u);
  const ProblemSetup sum = MakeRobertsonSum(40.0);
  EXPECT_EQ(sum.name, "robertson_sum");
  EXPECT_EQ(sum.ode.output_times, times);
}

}  // namespace
}  // namespace snode::problems
