// Fixed steps that land on an output time by round-off count as one step (integrators/
// fixed_steps.hpp), and max_steps never fails once the last output is reached: every built-in
// integrator and every gradient method, through the public API, on the decay problem
// y' = −y, y(0) = 1 (problems/decay.hpp), where a fixed-step Runge–Kutta solve is exactly
// y(T) = R(−h)^n with R the stability function of the declared tableau.
//
// Before the shared plan, h = 1e-5 on [0, 1] took 100 001 steps (t ← t + h drifts by 1.9e-12 over
// 1e5 steps, far above the solvers' stop-time round-off test, so a 1.9e-12 closing step
// followed) and failed with *_TOO_MUCH_WORK "at t=1" at max_steps = 100 000 after all the work.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/fixed_steps.hpp"
#include "integrators/integrator.hpp"
#include "problems/decay.hpp"

namespace snode {
namespace {

// Every built-in integrator with a fixed-step mode (cvodes_* have none: FixedStepsRefused).
const std::vector<std::string> kFixedStepIntegrators = {"euler", "rk4",  "dopri5", "backward_euler",
                                                        "sdirk", "heun", "epi2"};

struct Case {
  double h;
  std::vector<double> outputs;
  long steps;  // the whole plan
  long most;   // the most steps of one output interval
};

// Awkward steps (none a power of two) with one or several output times.
std::vector<Case> Cases() {
  std::vector<double> tenths;
  for (int i = 1; i <= 10; ++i) tenths.push_back(i * 0.1);
  return {{1e-5, {1.0}, 100000, 100000},
          {0.1, {1.0}, 10, 10},
          {0.1, {0.3, 0.7, 1.0}, 10, 4},
          {1.0 / 3.0, {1.0}, 3, 3},
          {1e-3, tenths, 1000, 100},
          {1e-3, {0.3, 0.7, 1.0}, 1000, 400},
          // Not round-off: a genuine short last step in each interval, then h again.
          {0.3, {0.5, 1.0}, 4, 2}};
}

IntegratorOptions Fixed(double h, long max_steps) {
  IntegratorOptions options;
  options.fixed_step = h;
  options.max_steps = max_steps;
  options.record_steps = true;
  options.rtol = 1e-10;  // Newton tolerance of the implicit stages
  options.atol = 1e-12;
  return options;
}

// y(T) of y' = −y after `steps` fixed steps whose sizes are the differences of step_times: the
// product of the stability function over the steps (epi2 is exact on a linear problem).
double ExpectedEnd(const Integrator& integrator, const std::vector<double>& step_times) {
  const IntegratorCapabilities capabilities = integrator.Capabilities();
  if (!capabilities.tableau) return std::exp(-(step_times.back() - step_times.front()));
  double y = 1.0;
  for (std::size_t i = 1; i < step_times.size(); ++i) {
    y *= StabilityFunction(*capabilities.tableau, -(step_times[i] - step_times[i - 1]));
  }
  return y;
}

TEST(FixedStepPlan, CountsRoundOffAsOneStep) {
  EXPECT_EQ(FixedStepCount(0.0, 1.0, 1e-5), 100000.0);
  EXPECT_EQ(FixedStepCount(0.0, 1.0, 0.1), 10.0);
  EXPECT_EQ(FixedStepCount(0.3, 0.7, 0.1), 4.0);  // 0.4/0.1 = 4.000000000000001
  EXPECT_EQ(FixedStepCount(0.0, 1.0, 1.0 / 3.0), 3.0);
  EXPECT_EQ(FixedStepCount(0.0, 0.5, 0.3), 2.0);
  EXPECT_EQ(FixedStepCount(0.0, 1e-3, 1.0), 1.0);  // one short step
  // A remainder above round-off is a step of its own.
  EXPECT_EQ(FixedStepCount(0.0, 1.0 + 1e-9, 0.1), 11.0);
  EXPECT_EQ(FixedStepCount(0.0, 1.0 + 1e-13, 0.1), 10.0);
}

TEST(FixedStepPlan, TimesEndOnEveryOutputWithoutSliver) {
  std::vector<double> times = {0.0};
  AppendFixedStepTimes(0.0, {1.0}, 1e-5, times);
  ASSERT_EQ(times.size(), 100001u);
  EXPECT_EQ(times.back(), 1.0);
  double smallest = 1.0;
  for (std::size_t i = 1; i < times.size(); ++i) {
    smallest = std::min(smallest, times[i] - times[i - 1]);
  }
  EXPECT_GT(smallest, 0.99e-5);
  times = {0.0};
  AppendFixedStepTimes(0.0, {0.0, 0.5, 1.0}, 0.3, times);  // a first output at t0 adds nothing
  EXPECT_EQ(times, (std::vector<double>{0.0, 0.3, 0.5, 0.8, 1.0}));
}

TEST(FixedStepLanding, EveryIntegratorTakesThePlannedStepsAndLandsOnEveryOutput) {
  for (const std::string& name : kFixedStepIntegrators) {
    for (const Case& c : Cases()) {
      SCOPED_TRACE(name + " h=" + std::to_string(c.h) +
                   " outputs=" + std::to_string(c.outputs.size()));
      // max_steps exactly the most steps of one interval: enough.
      const auto integrator = IntegratorRegistry().Create(name, Fixed(c.h, c.most));
      const OdeProblem problem = problems::DecayOde(1.0, c.outputs);
      const Trajectory trajectory = integrator->Solve(problem);
      EXPECT_EQ(trajectory.stats.steps, c.steps);
      const std::vector<double>& t = trajectory.step_times;
      ASSERT_EQ(static_cast<long>(t.size()), c.steps + 1);
      std::vector<double> expected_times = {0.0};
      AppendFixedStepTimes(0.0, c.outputs, c.h, expected_times);
      for (std::size_t i = 0; i < t.size(); ++i) {
        ASSERT_NEAR(t[i], expected_times[i], 1e-12) << "step end " << i;
      }
      for (const double out : c.outputs) {
        EXPECT_NE(std::find(t.begin(), t.end(), out), t.end()) << "output time " << out;
      }
      // The state at the horizon is the discrete map of exactly these steps (a sliver step
      // would leave it unchanged, so the counts above are what catch it; this checks that the
      // last step was not stretched or dropped).
      const double expected = ExpectedEnd(*integrator, expected_times);
      // Round-off of the steps themselves: 1e-12, or 1e-16 per step.
      const double tolerance = std::max(1e-12, 1e-16 * static_cast<double>(c.steps));
      EXPECT_NEAR(trajectory.states.back()(0), expected, tolerance * expected);
    }
  }
}

TEST(FixedStepLanding, OneStepBelowThePlanIsTooMuchWorkBeforeAnyWork) {
  for (const std::string& name : kFixedStepIntegrators) {
    for (const Case& c : Cases()) {
      SCOPED_TRACE(name + " h=" + std::to_string(c.h));
      ASSERT_GE(c.most, 2);
      const auto integrator = IntegratorRegistry().Create(name, Fixed(c.h, c.most - 1));
      try {
        integrator->Solve(problems::DecayOde(1.0, c.outputs));
        ADD_FAILURE() << "no exception";
      } catch (const SundialsError& e) {
        const std::string message = e.what();
        EXPECT_NE(e.flag_name().find("_TOO_MUCH_WORK"), std::string::npos) << message;
        EXPECT_NE(message.find("integrator '" + name + "'"), std::string::npos) << message;
        EXPECT_NE(message.find("more than max_steps=" + std::to_string(c.most - 1)),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("needs " + std::to_string(c.most) + " steps of fixed_step"),
                  std::string::npos)
            << message;
      }
    }
  }
}

TEST(FixedStepLanding, FixedStepsRefusedByCvodes) {
  for (const char* name : {"cvodes_bdf", "cvodes_adams"}) {
    EXPECT_THROW(IntegratorRegistry().Create(name, Fixed(1e-5, 100000)), ConfigError) << name;
  }
}

// Adaptive steps: max_steps equal to the steps an interval takes passes, one less fails (step
// attempts, rejected ones included, for a step-level method such as heun).
TEST(FixedStepLanding, AdaptiveMaxStepsExactlyAtTheNeededCountPasses) {
  for (const char* name : {"dopri5", "sdirk", "heun", "epi2", "cvodes_bdf", "cvodes_adams"}) {
    for (const bool record : {false, true}) {
      SCOPED_TRACE(std::string(name) + (record ? " recording steps" : ""));
      IntegratorOptions options;
      options.rtol = 1e-9;
      options.atol = 1e-12;
      options.record_steps = record;
      const OdeProblem problem = problems::DecayOde(1.0, {1.0});
      const IntegratorStats stats =
          IntegratorRegistry().Create(name, options)->Solve(problem).stats;
      const long needed = stats.steps + (std::string(name) == "heun" ? stats.rejected_steps : 0);
      ASSERT_GT(needed, 1);
      options.max_steps = needed;
      EXPECT_EQ(IntegratorRegistry().Create(name, options)->Solve(problem).stats.steps,
                stats.steps);
      options.max_steps = needed - 1;
      try {
        IntegratorRegistry().Create(name, options)->Solve(problem);
        ADD_FAILURE() << "no exception at max_steps = " << needed - 1;
      } catch (const SundialsError& e) {
        EXPECT_NE(e.flag_name().find("TOO_MUCH_WORK"), std::string::npos) << e.what();
      }
    }
  }
}

GradientOptions FixedGradientOptions(const std::string& integrator, double h, long max_steps) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options = Fixed(h, max_steps);
  options.integrator_options.record_steps = false;
  return options;
}

// The configuration through every gradient method: h = 1e-5 on [0, 1], max_steps =
// 100 000. dL/dλ = −e^{−1}, dL/dy0 = e^{−1} (fixed-step discretisation error ~1e-10 at most).
TEST(FixedStepLanding, GradientMethodsAtMaxStepsExactlyTheStepCount) {
  const problems::ProblemSetup setup = problems::MakeDecay(1.0);
  const Vector exact = *setup.exact_gradient;
  for (const char* method : {"bptt", "backsolve_adjoint"}) {
    for (const char* integrator : {"rk4", "dopri5", "sdirk", "heun"}) {
      SCOPED_TRACE(std::string(method) + " with " + integrator);
      const auto gradient =
          GradientRegistry().Create(method, FixedGradientOptions(integrator, 1e-5, 100000));
      const LossAndGradient result = gradient->Compute(setup.ode, *setup.loss);
      EXPECT_NEAR(result.dtheta(0), exact(0), 1e-9);
      EXPECT_NEAR(result.dz0(0), exact(1), 1e-9);
      if (std::string(method) == "backsolve_adjoint") {
        EXPECT_EQ(result.stats.forward_steps, 100000);
        EXPECT_EQ(result.stats.backward_steps, 100000);
      }
    }
  }
  // cvodes_adjoint's forward is CVODES (adaptive); a fixed-step backward is refused up front.
  GradientOptions cvodes;
  cvodes.integrator = "cvodes_bdf";
  cvodes.backward_integrator = "rk4";
  cvodes.backward_options = Fixed(1e-5, 100000);
  EXPECT_THROW(GradientRegistry().Create("cvodes_adjoint", cvodes)->Compute(setup.ode, *setup.loss),
               ConfigError);
  // backsolve_adjoint with an adaptive forward and a fixed-step backward.
  GradientOptions mixed;
  mixed.integrator = "cvodes_bdf";
  mixed.backward_integrator = "rk4";
  mixed.backward_options = Fixed(1e-5, 100000);
  mixed.backward_options->record_steps = false;
  const LossAndGradient result =
      GradientRegistry().Create("backsolve_adjoint", mixed)->Compute(setup.ode, *setup.loss);
  EXPECT_EQ(result.stats.backward_steps, 100000);
  EXPECT_NEAR(result.dtheta(0), exact(0), 1e-5);
}

// One step fewer than the plan: a clear error from every gradient method, naming max_steps.
TEST(FixedStepLanding, GradientMethodsOneStepBelowFailClearly) {
  const problems::ProblemSetup setup = problems::MakeDecay(1.0);
  for (const char* method : {"bptt", "backsolve_adjoint"}) {
    SCOPED_TRACE(method);
    const auto gradient = GradientRegistry().Create(method, FixedGradientOptions("rk4", 1e-3, 999));
    try {
      gradient->Compute(setup.ode, *setup.loss);
      ADD_FAILURE() << "no exception";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("max_steps"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace snode
