#include "optim/lbfgs_minimizer.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/errors.hpp"

namespace snode {
namespace {

// Rosenbrock in n dimensions: minimum 0 at (1, …, 1).
double Rosenbrock(const Vector& x, Vector& grad) {
  double f = 0;
  grad.setZero(x.size());
  for (Index i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
    grad[i] += -400.0 * a * x[i] - 2.0 * b;
    grad[i + 1] += 200.0 * a;
  }
  return f;
}

TEST(MinimizeLbfgs, FindsRosenbrockMinimum) {
  Vector x = Vector::Constant(6, -1.2);
  LbfgsOptions options;
  options.max_iterations = 500;
  options.gradient_tol = 1e-10;
  const LbfgsResult result = MinimizeLbfgs(Rosenbrock, x, options);
  EXPECT_TRUE(result.converged) << result.message;
  EXPECT_LT((x - Vector::Ones(6)).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT(result.value, 1e-12);
  EXPECT_GT(result.evaluations, result.iterations);
}

TEST(MinimizeLbfgs, CallbackCanStopEarly) {
  Vector x = Vector::Constant(4, -1.2);
  int calls = 0;
  const LbfgsResult result =
      MinimizeLbfgs(Rosenbrock, x, {}, [&](int, const Vector&, double) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(result.converged);
}

TEST(MinimizeLbfgs, ObjectiveExceptionPropagates) {
  Vector x = Vector::Ones(2);
  auto throwing = [](const Vector&, Vector&) -> double { throw std::domain_error("boom"); };
  EXPECT_THROW(MinimizeLbfgs(throwing, x), std::domain_error);
}

TEST(MinimizeLbfgs, RejectsBadInput) {
  Vector empty;
  EXPECT_THROW(MinimizeLbfgs(Rosenbrock, empty), ConfigError);
  Vector nan_start = Vector::Constant(2, std::nan(""));
  EXPECT_THROW(MinimizeLbfgs(Rosenbrock, nan_start), ConfigError);
  LbfgsOptions bad;
  bad.memory = 0;
  Vector x = Vector::Ones(2);
  EXPECT_THROW(MinimizeLbfgs(Rosenbrock, x, bad), ConfigError);
}

}  // namespace
}  // namespace snode
