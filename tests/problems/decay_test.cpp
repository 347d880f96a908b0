// problems/decay: the decay and two-rate decay problems' closed-form gradients against central
// differences of their losses (a tight dopri5 solve; tolerance 1e-6 relative per component:
// the differences' truncation error is O(h²) ≈ 1e-12 and the solver's ≈ rtol/h ≈ 1e-6), and the
// problem data.
#include "problems/decay.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "adjoint/finite_difference.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode::problems {
namespace {

Vector FiniteDifferenceGradient(const ProblemSetup& setup) {
  GradientOptions options;
  options.integrator = "dopri5";
  options.integrator_options.rtol = 1e-12;
  options.integrator_options.atol = 1e-30;
  options.integrator_options.max_steps = 1000000;
  const LossAndGradient fd = CentralDifferenceGradient(setup.ode, *setup.loss, options);
  Vector g(fd.dtheta.size() + fd.dz0.size());
  g << fd.dtheta, fd.dz0;
  return g;
}

TEST(DecayProblem, ExactGradientMatchesCentralDifferences) {
  for (const double lambda : {1.0, 10.0, 50.0}) {
    const ProblemSetup setup = MakeDecay(lambda);
    ASSERT_TRUE(setup.exact_gradient.has_value());
    EXPECT_TRUE(
        test_util::VectorsClose(FiniteDifferenceGradient(setup), *setup.exact_gradient, 1e-6, 0.0))
        << "λ = " << lambda;
  }
}

TEST(DecayProblem, DataIsTheSeedsExperiment) {
  const ProblemSetup setup = MakeDecay(100.0);
  EXPECT_EQ(setup.name, "decay");
  EXPECT_EQ(setup.stiffness, 100.0);
  EXPECT_EQ(setup.ode.z0, Vector::Ones(1));
  EXPECT_EQ(setup.ode.theta, Vector::Constant(1, 100.0));
  EXPECT_EQ(setup.ode.output_times, std::vector<double>{1.0});
  EXPECT_EQ(DecayExactGradient(100.0)(0), -std::exp(-100.0));
  EXPECT_EQ(DecayExactGradient(100.0)(1), std::exp(-100.0));
  EXPECT_EQ(DecayExactGradient(1e4)(1), 0.0);  // underflows in double
}

TEST(TwoRateDecayProblem, ExactGradientMatchesCentralDifferences) {
  for (const double lambda : {1.0, 10.0, 100.0}) {
    const ProblemSetup setup = MakeTwoRateDecay(lambda);
    ASSERT_TRUE(setup.exact_gradient.has_value());
    EXPECT_TRUE(
        test_util::VectorsClose(FiniteDifferenceGradient(setup), *setup.exact_gradient, 1e-6, 0.0))
        << "λ = " << lambda;
  }
}

TEST(TwoRateDecayProblem, DataAndStiffLimit) {
  const ProblemSetup setup = MakeTwoRateDecay(1e4);
  EXPECT_EQ(setup.name, "two_rate_decay");
  EXPECT_EQ(setup.ode.theta, (Vector(2) << 1.0, 1e4).finished());
  EXPECT_EQ(setup.ode.output_times, TwoRateDecayTimes());
  EXPECT_EQ(TwoRateDecayTimes(), (std::vector<double>{1e-3, 1e-2, 1e-1, 1.0}));
  // Every exact component stays representable: dL/dθ2 ≈ −1e-3·e^{−10}.
  const Vector exact = TwoRateDecayExactGradient(1e4);
  ASSERT_EQ(exact.size(), 4);
  EXPECT_NEAR(exact(1) / (-1e-3 * std::exp(-10.0)), 1.0, 1e-12);
  EXPECT_NEAR(exact(3) / std::exp(-10.0), 1.0, 1e-12);
  EXPECT_TRUE((exact.array().abs() > 0.0).all());
}

}  // namespace
}  // namespace snode::problems
