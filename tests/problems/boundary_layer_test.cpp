// problems/boundary_layer: the field (with its time derivative), the data, and the closed-form
// gradient against the forward-sensitivity reference at rtol 1e-12 (BoundError ≤ 1e-9, measured
// 6e-12) and against central differences of an sdirk solve at rtol 1e-12 (≤ 1e-5, measured 8e-7).
#include "problems/boundary_layer.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "studies/gradient_validation.hpp"
#include "tests/problems/reference_checks.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

TEST(BoundaryLayerProblem, FieldDerivativesMatchFiniteDifferences) {
  ProblemSetup setup = MakeBoundaryLayer(1e4);
  VectorField& field = *setup.ode.field;
  const Vector z = Vector::Constant(1, 1.5);
  EXPECT_TRUE(
      test_util::FieldDerivativesMatchFiniteDifferences(field, 0.3, z, setup.ode.theta, 1e-6));
  EXPECT_FALSE(field.IsAutonomous());
  Vector dt(1), plus(1), minus(1);
  field.TimeDerivative(0.3, z, setup.ode.theta, dt);
  field.F(0.3 + 1e-6, z, setup.ode.theta, plus);
  field.F(0.3 - 1e-6, z, setup.ode.theta, minus);
  EXPECT_NEAR(dt(0), (plus(0) - minus(0)) / 2e-6, 1e-6 * std::abs(dt(0)));
}

TEST(BoundaryLayerProblem, ObservationsInsideAndAfterTheLayer) {
  const ProblemSetup setup = MakeBoundaryLayer(1e4);
  EXPECT_EQ(setup.name, "boundary_layer");
  EXPECT_LT(setup.ode.output_times.front(), 1.0 / setup.stiffness);
  EXPECT_GT(setup.ode.output_times.back(), 1e3 / setup.stiffness);
  ASSERT_TRUE(setup.exact_gradient.has_value());
  EXPECT_EQ(setup.exact_gradient->size(), 4);
}

TEST(BoundaryLayerProblem, ExactGradientMatchesReferenceAndCentralDifferences) {
  const ProblemSetup setup = MakeBoundaryLayer(1e4);
  const Vector& exact = *setup.exact_gradient;
  EXPECT_LT(BoundError(test_util::ReferenceGradient(setup, 1e-12), exact), 1e-9);
  EXPECT_LT(BoundError(test_util::TightCentralDifferences(setup, "sdirk"), exact), 1e-5);
}

}  // namespace
}  // namespace snode::problems
