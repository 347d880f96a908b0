// Stiff problems: Robertson kinetics to t = 1e5 and fast linear decay. Implicit and exponential
// methods must be accurate in few steps; explicit ones must fail loudly, never silently.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "problems/robertson.hpp"

namespace snode {
namespace {

OdeProblem Robertson() { return problems::RobertsonOde({1.0, 100.0, 1e5}); }

// cvodes_bdf at rtol 1e-10; atol 1e-20 keeps y2 (~1e-5 … 1e-8) under relative control.
const Trajectory& RobertsonReference() {
  static const Trajectory reference = [] {
    IntegratorOptions options;
    options.rtol = 1e-10;
    options.atol = 1e-20;
    return IntegratorRegistry().Create("cvodes_bdf", options)->Solve(Robertson());
  }();
  return reference;
}

struct StiffCase {
  std::string name;
  std::string linear_solver;
  double atol = 1e-14;  // rtol is 1e-7 for all; y2 ≈ 7e-8 at t = 1e5 needs a small atol
};

class RobertsonStiff : public ::testing::TestWithParam<StiffCase> {};

TEST_P(RobertsonStiff, MatchesTightReferenceInFewSteps) {
  const StiffCase& c = GetParam();
  if (!IntegratorRegistry().Contains(c.name)) GTEST_SKIP() << c.name << " is not registered";
  IntegratorOptions options;
  options.rtol = 1e-7;
  options.atol = c.atol;
  options.linear_solver = c.linear_solver;
  const OdeProblem problem = Robertson();
  const Trajectory trajectory = IntegratorRegistry().Create(c.name, options)->Solve(problem);
  const Trajectory& reference = RobertsonReference();
  for (std::size_t k = 0; k < problem.output_times.size(); ++k) {
    for (Index i = 0; i < 3; ++i) {
      const double expected = reference.states[k][i];
      EXPECT_LT(std::abs(trajectory.states[k][i] - expected), 1e-4 * std::abs(expected))
          << c.name << " y" << i + 1 << " at t=" << problem.output_times[k];
    }
  }
  EXPECT_LT(trajectory.stats.steps, 5000) << c.name;
  const IntegratorStats& s = trajectory.stats;
  std::printf(
      "robertson %-12s %-5s steps=%ld rejected=%ld f=%ld jvp=%ld jac=%ld newton=%ld lin=%ld "
      "time=%.2f ms\n",
      c.name.c_str(), c.linear_solver.c_str(), s.steps, s.rejected_steps, s.rhs_evals, s.jvp_evals,
      s.jacobian_evals, s.nonlinear_iters, s.linear_iters, 1e3 * s.wall_seconds);
}

INSTANTIATE_TEST_SUITE_P(Methods, RobertsonStiff,
                         ::testing::Values(StiffCase{"cvodes_bdf", "dense"},
                                           StiffCase{"cvodes_bdf", "gmres"},
                                           StiffCase{"sdirk", "dense", 1e-15},
                                           StiffCase{"sdirk", "gmres", 1e-15},
                                           StiffCase{"epi2", "gmres"}),
                         [](const ::testing::TestParamInfo<StiffCase>& info) {
                           return info.param.name + info.param.linear_solver;
                         });

TEST(RobertsonExplicit, Dopri5NeedsOverHundredTimesMoreStepsAndSaysSo) {
  IntegratorOptions options;
  options.rtol = 1e-7;
  options.atol = 1e-14;
  const long implicit_steps = RobertsonReference().stats.steps;  // cvodes_bdf even at rtol 1e-10
  // Allow dopri5 100× the steps cvodes_bdf took for the whole run, per output interval.
  options.max_steps = 100 * implicit_steps;
  try {
    IntegratorRegistry().Create("dopri5", options)->Solve(Robertson());
    ADD_FAILURE() << "dopri5 finished Robertson within " << options.max_steps << " steps";
  } catch (const SundialsError& e) {
    EXPECT_EQ(e.flag_name(), "ARK_TOO_MUCH_WORK") << e.what();
    EXPECT_NE(std::string(e.what()).find("(integrator 'dopri5')"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("sdirk or cvodes_bdf"), std::string::npos);
    std::printf("robertson dopri5 with max_steps=%ld (100x cvodes_bdf's %ld): %s\n",
                options.max_steps, implicit_steps, e.what());
  }
}

OdeProblem FastDecay(std::vector<double> times) {
  return problems::DecayOde(1e4, std::move(times));
}

std::vector<double> Grid(int count, double dt) {
  std::vector<double> times;
  for (int k = 1; k <= count; ++k) times.push_back(k * dt);
  return times;
}

IntegratorOptions FixedStep(double h) {
  IntegratorOptions options;
  options.fixed_step = h;
  return options;
}

TEST(StiffDecay, ImplicitAndExponentialStayBoundedAndDecay) {
  // y' = −1e4 y, h = 0.01 (hλ = −100): backward Euler multiplies by 1/101 per step.
  for (const std::string name : {"backward_euler", "epi2"}) {
    if (!IntegratorRegistry().Contains(name)) continue;
    const OdeProblem problem = FastDecay(Grid(100, 0.01));
    const Trajectory trajectory =
        IntegratorRegistry().Create(name, FixedStep(0.01))->Solve(problem);
    double previous = 1.0;
    for (std::size_t k = 0; k < trajectory.states.size(); ++k) {
      const double y = trajectory.states[k][0];
      ASSERT_TRUE(std::isfinite(y)) << name;
      EXPECT_GE(y, 0.0) << name << " at step " << k;
      EXPECT_LE(y, previous) << name << " at step " << k;
      previous = y;
    }
    EXPECT_LT(std::abs(trajectory.states[0][0]), 1.0 / 100.0) << name;
    EXPECT_LT(std::abs(trajectory.states.back()[0]), 1e-100) << name;
  }
  const Trajectory be = IntegratorRegistry()
                            .Create("backward_euler", FixedStep(0.01))
                            ->Solve(FastDecay({0.01, 0.02}));
  EXPECT_NEAR(be.states[1][0], 1.0 / (101.0 * 101.0), 1e-16);
}

TEST(StiffDecay, Rk4GrowsAndIsReportedUnstable) {
  // |R(−100)| ≈ 4.0e6 for classic RK4: the numerical solution grows by that factor per step.
  const std::unique_ptr<Integrator> rk4 = IntegratorRegistry().Create("rk4", FixedStep(0.01));
  const Trajectory trajectory = rk4->Solve(FastDecay(Grid(5, 0.01)));
  double previous = 1.0;
  for (const Vector& state : trajectory.states) {
    EXPECT_GT(std::abs(state[0]), 1e6 * previous);
    previous = std::abs(state[0]);
  }
  // Over [0, 1] the state overflows: the integrator reports it instead of returning Inf/NaN.
  try {
    rk4->Solve(FastDecay({1.0}));
    ADD_FAILURE() << "rk4 returned a result for an overflowing solution";
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'rk4'"), std::string::npos) << message;
    EXPECT_NE(message.find("t="), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace snode
