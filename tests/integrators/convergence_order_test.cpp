// Measured convergence orders in fixed-step mode: the slope of log(error) against log(h) over
// several step sizes on a nonlinear problem with a closed-form solution (two logistic equations),
// compared with each method's theoretical order. Names not registered are skipped, so the table
// may list plug-ins that are built separately.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "integrators/integrator.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

struct OrderCase {
  std::string name;
  double order;
  std::vector<int> steps;  // number of steps over [0, T]
};

class ConvergenceOrder : public ::testing::TestWithParam<OrderCase> {};

// Least-squares slope of y against x.
double Slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

TEST_P(ConvergenceOrder, SlopeMatchesTheoreticalOrder) {
  const OrderCase& c = GetParam();
  if (!IntegratorRegistry().Contains(c.name)) GTEST_SKIP() << c.name << " is not registered";
  constexpr double kEnd = 2.0;
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {kEnd};
  std::vector<double> log_h, log_error;
  for (const int n : c.steps) {
    IntegratorOptions options;
    options.fixed_step = kEnd / n;
    // Implicit stages are solved far below the truncation error.
    options.rtol = 1e-12;
    options.atol = 1e-14;
    options.max_nonlinear_iters = 20;
    const Trajectory trajectory = IntegratorRegistry().Create(c.name, options)->Solve(problem);
    ASSERT_EQ(trajectory.stats.steps, n) << c.name;
    const double error = test_util::MaxLogisticError(problem, trajectory.states);
    std::printf("%-15s h=%-10.6g error=%.3e\n", c.name.c_str(), kEnd / n, error);
    log_h.push_back(std::log(kEnd / n));
    log_error.push_back(std::log(error));
  }
  const double slope = Slope(log_h, log_error);
  std::printf("%-15s measured order %.3f (theory %.0f)\n", c.name.c_str(), slope, c.order);
  EXPECT_NEAR(slope, c.order, 0.2) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Methods, ConvergenceOrder,
                         ::testing::Values(OrderCase{"euler", 1, {40, 80, 160, 320}},
                                           OrderCase{"backward_euler", 1, {40, 80, 160, 320}},
                                           OrderCase{"heun", 2, {20, 40, 80, 160}},
                                           OrderCase{"epi2", 2, {20, 40, 80, 160}},
                                           OrderCase{"rk4", 4, {10, 20, 40, 80}},
                                           OrderCase{"dopri5", 5, {20, 40, 80, 160}}),
                         [](const ::testing::TestParamInfo<OrderCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace snode
