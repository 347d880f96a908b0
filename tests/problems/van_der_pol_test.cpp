// problems/van_der_pol: the field's derivatives, the data (one relaxation jump inside the
// horizon), and the reference gradient: ForwardSensitivityGradient at rtol 1e-14 agrees with
// itself at rtol 1e-12 to BoundError 1e-7 (measured 3e-9) and with central differences of a
// cvodes_bdf solve at rtol 1e-12 to BoundError 1e-2 (measured 1.3e-3: the differences' step
// 1e-6 turns the adaptive solve's noise ~1e-12 into ~1e-6 absolute on dL/dx0 ≈ −8.5e-8, whose
// error is judged against the floor 1e-3·‖g‖_∞ ≈ 2.5e-4).
#include "problems/van_der_pol.hpp"

#include <gtest/gtest.h>

#include "studies/gradient_validation.hpp"
#include "tests/problems/reference_checks.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

TEST(VanDerPolProblem, FieldDerivativesMatchFiniteDifferences) {
  ProblemSetup setup = MakeVanDerPol(1e3);
  const Vector z = (Vector(2) << 1.3, -0.4).finished();
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(*setup.ode.field, 0.0, z,
                                                                setup.ode.theta, 1e-6));
}

TEST(VanDerPolProblem, HorizonSpansOneRelaxationJump) {
  const ProblemSetup setup = MakeVanDerPol(1e3);
  EXPECT_EQ(setup.name, "van_der_pol");
  EXPECT_EQ(setup.stiffness, 1e3);
  ASSERT_EQ(setup.ode.output_times.back(), 1e3);
  const LossAndGradient result = ForwardSensitivityGradient(setup.ode, *setup.loss, 1e-10, 1e-12);
  EXPECT_GT(result.forward.states[2](0), 1.0);   // still on the slow branch at 0.75 μ
  EXPECT_LT(result.forward.states[3](0), -1.0);  // after the jump at ≈ 0.81 μ
}

TEST(VanDerPolProblem, ReferenceGradientIsConvergedAndMatchesCentralDifferences) {
  const ProblemSetup setup = MakeVanDerPol(1e3);
  const Vector reference = test_util::ReferenceGradient(setup, 1e-14);
  EXPECT_LT(BoundError(test_util::ReferenceGradient(setup, 1e-12), reference), 1e-7);
  EXPECT_LT(BoundError(test_util::TightCentralDifferences(setup, "cvodes_bdf"), reference), 1e-2);
}

}  // namespace
}  // namespace snode::problems
