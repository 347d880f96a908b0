#include "optim/adam.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/errors.hpp"

namespace snode {
namespace {

// Three steps by hand for one parameter (lr 0.1, β1 0.9, β2 0.999, ε 1e-8), θ0 = 1,
// gradients 0.5, −1.0, 2.0:
//   t=1: m = 0.05, v = 0.00025;     m̂ = 0.5, v̂ = 0.25 → θ = 1 − 0.1·0.5/(0.5+ε)
//   t=2: m = 0.045 − 0.1 = −0.055, v = 0.00024975 + 0.001 = 0.00124975
//   t=3: m = −0.0495 + 0.2 = 0.1505, v = 0.00124850025 + 0.004 = 0.00524850025
TEST(Adam, MatchesHandComputation) {
  AdamOptions options;
  options.lr = 0.1;
  Adam adam(1, options);
  Vector theta = Vector::Constant(1, 1.0);
  const double grads[3] = {0.5, -1.0, 2.0};
  const double ms[3] = {0.05, -0.055, 0.1505};
  const double vs[3] = {0.00025, 0.00124975, 0.00524850025};
  double expected = 1.0;
  for (int t = 1; t <= 3; ++t) {
    adam.Step(theta, Vector::Constant(1, grads[t - 1]));
    const double m_hat = ms[t - 1] / (1 - std::pow(0.9, t));
    const double v_hat = vs[t - 1] / (1 - std::pow(0.999, t));
    expected -= 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
    EXPECT_NEAR(adam.m()[0], ms[t - 1], 1e-15);
    EXPECT_NEAR(adam.v()[0], vs[t - 1], 1e-15);
    EXPECT_NEAR(theta[0], expected, 1e-14) << "step " << t;
    EXPECT_EQ(adam.step(), static_cast<std::uint64_t>(t));
  }
  // First step moves every parameter by ≈ lr·sign(g) (bias correction makes m̂/√v̂ = ±1).
  EXPECT_NEAR(1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 0.9, 1e-8);
}

TEST(Adam, FirstStepIsLrTimesSignPerComponent) {
  Adam adam(3);
  Vector theta = Vector::Zero(3);
  Vector grad(3);
  grad << 1e-3, -5.0, 2e3;
  adam.Step(theta, grad);
  // m̂ = g and √v̂ = |g| after one step, so Δθ = −lr·g/(|g| + ε): ±lr up to the ε term.
  for (Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(theta[k], -1e-3 * grad[k] / (std::abs(grad[k]) + 1e-8), 1e-18);
    EXPECT_NEAR(std::abs(theta[k]), 1e-3, 1e-8);
  }
}

TEST(Adam, RestoredStateContinuesBitForBit) {
  Adam a(4), b(4);
  Vector theta_a = Vector::LinSpaced(4, -1, 1);
  Vector grad(4);
  for (int k = 0; k < 5; ++k) {
    grad << std::sin(k), std::cos(k), 0.1 * k, -0.3;
    a.Step(theta_a, grad);
  }
  Vector theta_b = theta_a;
  b.SetState(a.m(), a.v(), a.step());
  grad << 0.7, -0.2, 0.0, 5.0;
  a.Step(theta_a, grad);
  b.Step(theta_b, grad);
  EXPECT_EQ(theta_a, theta_b);
}

TEST(Adam, NonFiniteGradientThrowsAndChangesNothing) {
  Adam adam(2);
  Vector theta = Vector::Ones(2);
  Vector grad(2);
  grad << 1.0, std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(adam.Step(theta, grad), NumericalError);
  EXPECT_EQ(theta, Vector::Ones(2));
  EXPECT_EQ(adam.step(), 0u);
  EXPECT_EQ(adam.m(), Vector::Zero(2));
}

TEST(Adam, BadOptionsAndSizesAreConfigErrors) {
  AdamOptions options;
  options.lr = -1;
  EXPECT_THROW(Adam(2, options), ConfigError);
  options = AdamOptions();
  options.beta2 = 1.0;
  EXPECT_THROW(Adam(2, options), ConfigError);
  Adam adam(2);
  Vector theta = Vector::Ones(3);
  EXPECT_THROW(adam.Step(theta, Vector::Ones(3)), ConfigError);
  EXPECT_THROW(adam.SetState(Vector::Ones(2), -Vector::Ones(2), 1), InputError);
}

}  // namespace
}  // namespace snode
