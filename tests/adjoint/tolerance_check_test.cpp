// The tolerance check (adjoint/tolerance_check.hpp): flags a gradient whose error, estimated by a
// second solve at a tenth of the tolerances, exceeds 100·rtol; leaves accurate gradients and
// fixed-step runs alone.
#include "adjoint/tolerance_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "problems/decay.hpp"
#include "problems/oregonator.hpp"

namespace snode {
namespace {

GradientOptions Options(const std::string& integrator, double rtol, double atol) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.tolerance_check = true;
  return options;
}

TEST(ToleranceCheck, BoundConventionErrorIsRelativeWithAFloor) {
  Vector reference(3), g(3);
  reference << 1.0, -2.0, 1e-9;
  g << 1.1, -2.0, 0.0;
  // Component 0: 0.1 / 1; component 2: 1e-9 / max(1e-9, 1e-3·2) = 5e-7.
  EXPECT_NEAR(BoundConventionError(g, reference), 0.1, 1e-12);
  EXPECT_TRUE(std::isnan(BoundConventionError(Vector(2), reference)));
  g[1] = std::nan("");
  EXPECT_TRUE(std::isnan(BoundConventionError(g, reference)));
}

TEST(ToleranceCheck, ScalesEveryTolerance) {
  GradientOptions options = Options("sdirk", 1e-6, 1e-8);
  IntegratorOptions backward;
  backward.rtol = 1e-5;
  backward.atol = 1e-7;
  options.backward_options = backward;
  const GradientOptions scaled = ScaleTolerances(options, 0.1);
  EXPECT_DOUBLE_EQ(scaled.integrator_options.rtol, 1e-7);
  EXPECT_DOUBLE_EQ(scaled.integrator_options.atol, 1e-9);
  EXPECT_DOUBLE_EQ(scaled.backward_options->rtol, 1e-6);
  EXPECT_DOUBLE_EQ(scaled.backward_options->atol, 1e-8);
}

// bptt through sdirk on the Oregonator at rtol 1e-4: 8e-2 off (the validation suite's
// measurement), far above 100·rtol; nothing inside one solve shows it.
TEST(ToleranceCheck, FlagsTheDiscretisationErrorOfAnAdaptiveMap) {
  const problems::ProblemSetup setup = problems::MakeOregonator();
  GradientOptions options = Options("sdirk", 1e-4, 1e-6);
  options.tolerance_check = false;
  const LossAndGradient plain =
      CreateGradientMethod("bptt", options)->Compute(setup.ode, *setup.loss);
  EXPECT_FALSE(plain.stats.flagged) << plain.stats.diagnosis;
  options.tolerance_check = true;
  const LossAndGradient checked =
      CreateGradientMethod("bptt", options)->Compute(setup.ode, *setup.loss);
  EXPECT_TRUE(checked.stats.flagged);
  EXPECT_NE(checked.stats.diagnosis.find("tolerance check"), std::string::npos)
      << checked.stats.diagnosis;
  EXPECT_GT(checked.stats.error_estimate, 100 * 1e-4);
  // The check changes nothing in the gradient itself.
  EXPECT_EQ(plain.Joined(), checked.Joined());
}

TEST(ToleranceCheck, AccurateGradientIsNotFlaggedAndGetsAnEstimate) {
  const problems::ProblemSetup setup = problems::MakeDecay(1.0);
  for (const std::string method : {"bptt", "cvodes_adjoint"}) {
    const std::string integrator = method == "bptt" ? "dopri5" : "cvodes_bdf";
    const LossAndGradient r = CreateGradientMethod(method, Options(integrator, 1e-6, 1e-8))
                                  ->Compute(setup.ode, *setup.loss);
    EXPECT_FALSE(r.stats.flagged) << method << ": " << r.stats.diagnosis;
    ASSERT_FALSE(std::isnan(r.stats.error_estimate)) << method;
    EXPECT_LT(r.stats.error_estimate, 100 * 1e-6) << method;
    // The estimate is of the right size: the error against the closed form.
    const double error = BoundConventionError(r.Joined(), *setup.exact_gradient);
    EXPECT_LT(error, 10 * r.stats.error_estimate + 1e-12) << method;
  }
}

TEST(ToleranceCheck, FixedStepsAreLeftUnchecked) {
  const problems::ProblemSetup setup = problems::MakeDecay(1.0);
  GradientOptions options = Options("rk4", 1e-6, 1e-8);
  options.integrator_options.fixed_step = 0.5;  // coarse: far from the exact gradient
  const LossAndGradient r = CreateGradientMethod("bptt", options)->Compute(setup.ode, *setup.loss);
  EXPECT_FALSE(r.stats.flagged) << r.stats.diagnosis;
}

TEST(ToleranceCheck, UnknownMethodIsAConfigError) {
  EXPECT_THROW(CreateGradientMethod("no_such_method", Options("dopri5", 1e-6, 1e-8)), ConfigError);
}

}  // namespace
}  // namespace snode
