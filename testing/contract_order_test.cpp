// ContractOrder: the declared order of the solution (Capabilities().order) is measured, not
// assumed, and must lie within ±0.1 of it. Fixed steps: the error at the logistic problem's end
// time T = 2 with n = 8, 16, 32, … steps (h = T/n a power of two, so the step ends add up to T
// exactly), as long as it stays above 1e-12 (round-off); the order
// is the slope of log(error) against log(h) between the two finest, extrapolated to h → 0 with
// the slope before (see ExtrapolatedOrder). A method that refuses fixed steps is measured by a
// tolerance sweep instead: the least-squares slope of log(error) against log(1/accepted steps)
// over the four finest of rtol = 1e-3 … 1e-10.
// Implicit stages are solved far below the truncation error (rtol 1e-12, atol 1e-14, 20 Newton
// iterations). The measured order is printed and recorded as the test property measured_order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "testing/contract_fixture.hpp"

namespace snode::contract {

void LinkContractOrderSuite() {}

namespace {

constexpr double kEnd = 2.0;
constexpr double kErrorFloor = 1e-12;
constexpr std::size_t kPoints = 4;

struct Sample {
  double log_size;  // log h (fixed steps) or log(1/steps) (tolerance sweep)
  double log_error;
};

class ContractOrder : public IntegratorContract {
 protected:
  IntegratorOptions OrderOptions() const {
    IntegratorOptions options = subject().settings;
    options.rtol = 1e-12;
    options.atol = 1e-14;
    options.max_nonlinear_iters = 20;
    return options;
  }

  // Error at T of one solve; its accepted steps into *steps.
  double ErrorAtEnd(const IntegratorOptions& options, long* steps) const {
    OdeProblem problem = LogisticProblem();
    problem.output_times = {kEnd};
    const Trajectory trajectory = Make(options)->Solve(problem);
    *steps = trajectory.stats.steps;
    return MaxLogisticError(problem, trajectory.states);
  }

  // Whether the method accepts fixed steps (a ConfigError from the first solve says it does not).
  bool AcceptsFixedSteps() const {
    IntegratorOptions options = OrderOptions();
    options.fixed_step = kEnd / 8;
    long steps = 0;
    try {
      ErrorAtEnd(options, &steps);
    } catch (const ConfigError&) {
      return false;
    }
    return true;
  }

  std::vector<Sample> FixedStepSamples() const {
    std::vector<Sample> samples;
    for (long n = 8; n <= 8192; n *= 2) {
      IntegratorOptions options = OrderOptions();
      options.fixed_step = kEnd / static_cast<double>(n);
      long steps = 0;
      const double error = ErrorAtEnd(options, &steps);
      EXPECT_EQ(steps, n) << "a fixed step of " << options.fixed_step;
      std::printf("%-15s h=%-10.6g error=%.3e\n", name().c_str(), options.fixed_step, error);
      if (!(error > kErrorFloor)) break;
      samples.push_back({std::log(options.fixed_step), std::log(error)});
    }
    return samples;
  }

  std::vector<Sample> ToleranceSweepSamples() const {
    std::vector<Sample> samples;
    for (double rtol = 1e-3; rtol >= 1e-10; rtol /= 10.0) {
      IntegratorOptions options = subject().settings;
      options.fixed_step = 0.0;
      options.rtol = rtol;
      options.atol = rtol * 1e-2;
      long steps = 0;
      const double error = ErrorAtEnd(options, &steps);
      std::printf("%-15s rtol=%-8.1e steps=%-6ld error=%.3e\n", name().c_str(), rtol, steps, error);
      if (!(error > kErrorFloor)) break;
      samples.push_back({-std::log(static_cast<double>(steps)), std::log(error)});
    }
    return samples;
  }
};

// Slope of log_error against log_size between samples i − 1 and i.
double LocalSlope(const std::vector<Sample>& samples, std::size_t i) {
  return (samples[i].log_error - samples[i - 1].log_error) /
         (samples[i].log_size - samples[i - 1].log_size);
}

// Fixed steps (h halved from sample to sample): the local slopes approach the order as
// p + c·h + O(h²) (dopri5 on the logistic problem: 5.35, 5.19, 5.10, 5.05), so the order is the
// finest local slope extrapolated to h → 0 from the two finest ones, 2·s_k − s_{k−1}.
double ExtrapolatedOrder(const std::vector<Sample>& samples) {
  const std::size_t last = samples.size() - 1;
  return 2.0 * LocalSlope(samples, last) - LocalSlope(samples, last - 1);
}

// Tolerance sweep: the least-squares slope over the kPoints finest samples.
double LeastSquaresOrder(const std::vector<Sample>& all) {
  const std::size_t first = all.size() > kPoints ? all.size() - kPoints : 0;
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = first; i < all.size(); ++i) {
    n += 1.0;
    sx += all[i].log_size;
    sy += all[i].log_error;
    sxx += all[i].log_size * all[i].log_size;
    sxy += all[i].log_size * all[i].log_error;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

TEST_P(ContractOrder, MeasuredOrderMatchesDeclaredOrder) {
  const IntegratorCapabilities capabilities = Capabilities();
  if (capabilities.order <= 0) GTEST_SKIP() << name() << " declares no order";
  if (capabilities.cvodes_method != CvodesMethod::kNone) {
    GTEST_SKIP() << name() << " is CVODES, variable-order (declared order " << capabilities.order
                 << " is its highest): no single order to measure";
  }
  std::vector<Sample> samples;
  const bool fixed_steps = AcceptsFixedSteps();
  if (fixed_steps) {
    samples = FixedStepSamples();
  } else {
    if (!capabilities.error_estimate) {
      GTEST_SKIP() << name() << " refuses fixed steps and declares no error estimate";
    }
    samples = ToleranceSweepSamples();
  }
  ASSERT_GE(samples.size(), 3u) << "too few errors above " << kErrorFloor << " to measure";
  for (std::size_t i = 1; i < samples.size(); ++i) {
    std::printf("%-15s local slope %.3f\n", name().c_str(), LocalSlope(samples, i));
  }
  const double slope = fixed_steps ? ExtrapolatedOrder(samples) : LeastSquaresOrder(samples);
  std::printf("%-15s measured order %.3f (declared %d)\n", name().c_str(), slope,
              capabilities.order);
  RecordProperty("measured_order", std::to_string(slope));
  EXPECT_NEAR(slope, capabilities.order, 0.1) << name();
}

SNODE_INSTANTIATE_CONTRACT_SUITE(ContractOrder);

}  // namespace
}  // namespace snode::contract
