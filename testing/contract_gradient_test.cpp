// ContractGradients: the method under each gradient method that can use it, on Lotka–Volterra
// (problems/lotka_volterra.hpp; true rates, 10 observations up to t = 2, an MSE loss against
// fixed targets). dL/dθ and dL/dz0 must agree with central differences
// (adjoint/finite_difference.hpp) to 1e-6 relative (max_i |a_i − e_i| / max_i |e_i|).
//   bptt               when the method declares its tableau: fixed steps (the subject's, else
//                      0.01), against differences of the very same discrete map.
//   backsolve_adjoint  the method forward and backward; cvodes_adjoint: cvodes_bdf forward, the
//                      method backward. Both need an error estimate (adaptive steps at rtol 1e-10,
//                      atol 1e-12, max_steps ≥ 1e7) and compare with the continuous gradient,
//                      differenced through rk4 at a fixed step of 1e-3 (discretisation error ≈
//                      1e-12, and a smooth map of θ, unlike an adaptive solve, so the difference
//                      quotients carry no step-selection noise). A ConfigError from the gradient
//                      method skips the check, printing the method's reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "problems/lotka_volterra.hpp"
#include "testing/contract_fixture.hpp"

namespace snode::contract {

void LinkContractGradientsSuite() {}

namespace {

constexpr double kGradientRtol = 1e-6;

struct GradientProblem {
  OdeProblem problem;
  MseLoss loss;
};

GradientProblem LotkaVolterra() {
  std::vector<double> times;
  for (int i = 1; i <= 10; ++i) times.push_back(0.2 * i);
  OdeProblem problem = problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), times);
  std::vector<Vector> targets;
  for (const double t : times) targets.push_back((Vector(2) << 1.0 + 0.1 * t, 0.8).finished());
  return {std::move(problem), MseLoss(std::move(targets))};
}

double RelativeError(const Vector& actual, const Vector& expected) {
  return (actual - expected).cwiseAbs().maxCoeff() /
         std::max(expected.cwiseAbs().maxCoeff(), 1e-300);
}

// The continuous gradient, from a smooth high-accuracy discrete map.
const LossAndGradient& ContinuousReference(const GradientProblem& p) {
  static const LossAndGradient reference = [&p] {
    GradientOptions options;
    options.integrator = "rk4";
    options.integrator_options.fixed_step = 1e-3;
    return CentralDifferenceGradient(p.problem, p.loss, options);
  }();
  return reference;
}

class ContractGradients : public IntegratorContract {
 protected:
  // Computes with `method` and compares with `expected`. A ConfigError skips when allowed.
  void Check(const std::string& method, const GradientOptions& options, const GradientProblem& p,
             const LossAndGradient& expected, bool config_error_skips) {
    LossAndGradient actual;
    try {
      actual = GradientRegistry().Create(method, options)->Compute(p.problem, p.loss);
    } catch (const ConfigError& error) {
      if (!config_error_skips) throw;
      GTEST_SKIP() << method << " does not accept " << name() << ": " << error.what();
    }
    ASSERT_EQ(actual.dtheta.size(), expected.dtheta.size());
    ASSERT_EQ(actual.dz0.size(), expected.dz0.size());
    const double theta_error = RelativeError(actual.dtheta, expected.dtheta);
    const double z0_error = RelativeError(actual.dz0, expected.dz0);
    std::printf("%s with %s on lotka_volterra: dL/dtheta rel err %.2e, dL/dz0 rel err %.2e\n",
                method.c_str(), name().c_str(), theta_error, z0_error);
    EXPECT_LE(theta_error, kGradientRtol) << method;
    EXPECT_LE(z0_error, kGradientRtol) << method;
    EXPECT_FALSE(actual.stats.reconstruction_failed);
  }

  // The subject's options made adaptive and tight, for the continuous adjoints; a low-order
  // method needs many steps there (heun: 5e5 backward steps), hence at least 1e7 per interval.
  IntegratorOptions AdaptiveOptions() const {
    IntegratorOptions options = subject().settings;
    options.fixed_step = 0.0;
    options.rtol = 1e-10;
    options.atol = 1e-12;
    options.max_steps = std::max(options.max_steps, 10000000L);
    options.max_nonlinear_iters = 20;
    return options;
  }

  // Skips unless the method can run adaptive steps (continuous adjoints at tight tolerances).
  bool SkipUnlessAdaptive(const IntegratorCapabilities& capabilities) {
    if (capabilities.error_estimate && !capabilities.needs_fixed_step) return false;
    std::printf(
        "skipped: %s declares no error estimate; a continuous adjoint needs adaptive "
        "steps to reach 1e-6\n",
        name().c_str());
    return true;
  }
};

TEST_P(ContractGradients, BpttMatchesFiniteDifferences) {
  if (!Capabilities().tableau) {
    GTEST_SKIP() << name() << " declares no tableau: bptt cannot replay its steps";
  }
  GradientOptions options;
  options.integrator = name();
  options.integrator_options = subject().settings;
  IntegratorOptions& o = options.integrator_options;
  if (o.fixed_step <= 0.0) o.fixed_step = 0.01;
  o.rtol = 1e-12;  // implicit stages solved far below the truncation error
  o.atol = 1e-14;
  o.max_nonlinear_iters = 20;
  const GradientProblem p = LotkaVolterra();
  // A declared tableau is a promise that bptt can replay the method: a ConfigError fails.
  Check("bptt", options, p, CentralDifferenceGradient(p.problem, p.loss, options), false);
}

TEST_P(ContractGradients, BacksolveAdjointMatchesFiniteDifferences) {
  if (SkipUnlessAdaptive(Capabilities())) GTEST_SKIP() << "no error estimate";
  GradientOptions options;
  options.integrator = name();
  options.integrator_options = AdaptiveOptions();
  const GradientProblem p = LotkaVolterra();
  Check("backsolve_adjoint", options, p, ContinuousReference(p), true);
}

TEST_P(ContractGradients, CvodesAdjointWithMethodBackwardMatchesFiniteDifferences) {
  if (SkipUnlessAdaptive(Capabilities())) GTEST_SKIP() << "no error estimate";
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "cvodes_bdf not registered";
  GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = 1e-10;
  options.integrator_options.atol = 1e-12;
  options.backward_integrator = name();
  options.backward_options = AdaptiveOptions();
  const GradientProblem p = LotkaVolterra();
  Check("cvodes_adjoint", options, p, ContinuousReference(p), true);
}

SNODE_INSTANTIATE_CONTRACT_SUITE(ContractGradients);

}  // namespace
}  // namespace snode::contract
