// problems/stiff_mlp: the linear part's eigenvalues, the field's derivatives, and the reference
// gradient: ForwardSensitivityGradient at rtol 1e-14 agrees with itself at rtol 1e-12 to
// BoundError 1e-7 and with central differences of an sdirk solve at rtol 1e-12 to 1e-3
// (measured 3e-5).
#include "problems/stiff_mlp.hpp"

#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <algorithm>

#include "studies/gradient_validation.hpp"
#include "tests/problems/reference_checks.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

TEST(StiffMlpProblem, LinearPartHasTheStatedEigenvalues) {
  const Matrix a = StiffMlpLinearPart(-1e3, -1e4);
  Vector eigenvalues = Eigen::EigenSolver<Matrix>(a).eigenvalues().real();
  std::sort(eigenvalues.data(), eigenvalues.data() + eigenvalues.size());
  EXPECT_NEAR(eigenvalues(0), -1e4, 1e-8);
  EXPECT_NEAR(eigenvalues(1), -1e3, 1e-9);
  EXPECT_NEAR(eigenvalues(2), -1.0, 1e-10);
}

TEST(StiffMlpProblem, FieldDerivativesMatchFiniteDifferences) {
  ProblemSetup setup = MakeStiffMlp();
  EXPECT_EQ(setup.ode.theta.size(), 59);
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(*setup.ode.field, 0.0, setup.ode.z0,
                                                                setup.ode.theta, 1e-6));
  const auto copy = setup.ode.field->Clone();
  Vector f1(3), f2(3);
  setup.ode.field->F(0.0, setup.ode.z0, setup.ode.theta, f1);
  copy->F(0.0, setup.ode.z0, setup.ode.theta, f2);
  EXPECT_EQ(f1, f2);
}

TEST(StiffMlpProblem, ReferenceGradientIsConvergedAndMatchesCentralDifferences) {
  const ProblemSetup setup = MakeStiffMlp();
  const Vector reference = test_util::ReferenceGradient(setup, 1e-14);
  EXPECT_LT(BoundError(test_util::ReferenceGradient(setup, 1e-12), reference), 1e-7);
  EXPECT_LT(BoundError(test_util::TightCentralDifferences(setup, "sdirk"), reference), 1e-3);
}

}  // namespace
}  // namespace snode::problems
