// Tests of the 4 × 4 non-normal problem: its matrix (eigenvalues, non-normality) and its exact
// gradient against central differences of the closed form cᵀ e^{AT} z0.
#include "problems/nonnormal_linear.hpp"

#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <unsupported/Eigen/MatrixFunctions>
#include <vector>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode {
namespace {

TEST(NonNormalLinear, EigenvaluesSpanOneToTheStiffnessAndTheMatrixIsFarFromNormal) {
  const Matrix a = problems::NonNormalMatrix(1e5);
  Eigen::EigenSolver<Matrix> solver(a);
  std::vector<double> real;
  for (Index i = 0; i < 4; ++i) {
    EXPECT_NEAR(solver.eigenvalues()(i).imag(), 0.0, 1e-6 * 1e5);
    real.push_back(solver.eigenvalues()(i).real());
  }
  std::sort(real.begin(), real.end());
  EXPECT_NEAR(real[0], -1e5, 1e-6 * 1e5);
  EXPECT_NEAR(real[3], -1.0, 1e-6 * 1e5);
  // Departure from normality: ‖AᵀA − AAᵀ‖ relative to ‖A‖².
  const double departure = (a.transpose() * a - a * a.transpose()).norm() / a.squaredNorm();
  EXPECT_GT(departure, 1.0);
  // Deterministic.
  EXPECT_EQ(a, problems::NonNormalMatrix(1e5));
}

TEST(NonNormalLinear, ExactGradientMatchesCentralDifferencesOfTheClosedForm) {
  for (const double stiffness : {1e2, 1e5}) {
    const problems::ProblemSetup setup = problems::NonNormalLinearProblem(stiffness, 1.0);
    ASSERT_TRUE(setup.exact_gradient.has_value());
    const Vector& exact = *setup.exact_gradient;
    ASSERT_EQ(exact.size(), 20);
    const Matrix a = problems::NonNormalMatrix(stiffness);
    Vector fd(20);
    for (Index k = 0; k < 16; ++k) {
      const double h = 1e-5;  // absolute: A's entries reach the stiffness
      Matrix plus = a, minus = a;
      plus(k % 4, k / 4) += h;
      minus(k % 4, k / 4) -= h;
      fd(k) = (problems::NonNormalClosedFormLoss(plus, 1.0) -
               problems::NonNormalClosedFormLoss(minus, 1.0)) /
              (2.0 * h);
    }
    // L is linear in z0: dL/dz0_j = cᵀ e^{AT} e_j.
    const Matrix phi = (a * 1.0).exp();
    fd.tail(4) = phi.transpose() * problems::NonNormalWeights();
    // The differences of e^{AT} lose about ‖A‖T·u/h to round-off: ~1e-5 relative at s = 1e5.
    const double scale = exact.lpNorm<Eigen::Infinity>();
    const double tolerance = (stiffness > 1e3 ? 2e-4 : 1e-6) * scale;
    for (Index i = 0; i < 20; ++i) {
      EXPECT_NEAR(exact(i), fd(i), tolerance) << "component " << i << " stiffness " << stiffness;
    }
    EXPECT_GT(scale, 1e-3);
  }
}

TEST(NonNormalLinear, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(problems::NonNormalLinearProblem(0.5), ConfigError);
  EXPECT_THROW(problems::NonNormalLinearProblem(1e5, 0.0), ConfigError);
  EXPECT_THROW(problems::NonNormalLinearProblem(std::nan(""), 1.0), ConfigError);
}

TEST(NonNormalLinear, SetupIsALinearFieldObservedAtTheHorizon) {
  const problems::ProblemSetup setup = problems::NonNormalLinearProblem(1e3, 2.0);
  EXPECT_EQ(setup.name, "nonnormal");
  EXPECT_EQ(setup.stiffness, 1e3);
  EXPECT_EQ(setup.ode.output_times, std::vector<double>{2.0});
  EXPECT_EQ(setup.ode.theta, LinearField::ParamsFromMatrix(problems::NonNormalMatrix(1e3)));
}

}  // namespace
}  // namespace snode
