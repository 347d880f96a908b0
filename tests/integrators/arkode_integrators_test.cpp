// ERKStep- and ARKStep-based integrators (euler, rk4, dopri5, backward_euler, sdirk): behaviour
// specific to them beyond the registry-wide contract.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/errors.hpp"
#include "integrators/arkode_dirk_integrator.hpp"
#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/butcher_tableau.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

OdeProblem Decay(double lambda, std::vector<double> times) {
  return problems::DecayOde(lambda, std::move(times));
}

IntegratorOptions Fixed(double h) {
  IntegratorOptions options;
  options.fixed_step = h;
  return options;
}

// One explicit RK step with a tableau (the replay a discrete adjoint performs).
Vector RkStep(const ButcherTableau& t, VectorField& field, const Vector& theta, double time,
              const Vector& z, double h) {
  std::vector<Vector> k(static_cast<std::size_t>(t.stages), Vector(z.size()));
  for (int i = 0; i < t.stages; ++i) {
    Vector stage = z;
    for (int j = 0; j < i; ++j) stage += h * t.a(i, j) * k[static_cast<std::size_t>(j)];
    field.F(time + t.c[i] * h, stage, theta, k[static_cast<std::size_t>(i)]);
  }
  Vector next = z;
  for (int i = 0; i < t.stages; ++i) next += h * t.b[i] * k[static_cast<std::size_t>(i)];
  return next;
}

TEST(ArkodeErkIntegrator, FixedStepShortensLastStepOfEachInterval) {
  IntegratorOptions options = Fixed(0.3);
  options.record_steps = true;
  ArkodeErkIntegrator euler("euler", options);
  const Trajectory trajectory = euler.Solve(Decay(1.0, {0.5, 1.0}));
  const std::vector<double> expected_steps = {0.0, 0.3, 0.5, 0.8, 1.0};
  ASSERT_EQ(trajectory.step_times.size(), expected_steps.size());
  for (std::size_t i = 0; i < expected_steps.size(); ++i) {
    EXPECT_NEAR(trajectory.step_times[i], expected_steps[i], 1e-14) << i;
  }
  EXPECT_NEAR(trajectory.states[0][0], 0.7 * 0.8, 1e-14);
  EXPECT_NEAR(trajectory.states[1][0], 0.7 * 0.8 * 0.7 * 0.8, 1e-14);
}

TEST(ArkodeErkIntegrator, FixedStepsReproduceExplicitTableau) {
  for (const std::string name : {"euler", "rk4", "dopri5"}) {
    const OdeProblem problem = test_util::LogisticProblem();
    ArkodeErkIntegrator integrator(name, Fixed(0.125));
    const Trajectory trajectory = integrator.Solve(problem);
    const ButcherTableau tableau = ExplicitTableau(name);
    Vector z = problem.z0;
    double t = 0.0;
    std::size_t next_output = 0;
    for (int n = 0; n < 16; ++n, t += 0.125) {
      z = RkStep(tableau, *problem.field, problem.theta, t, z, 0.125);
      if (std::abs(t + 0.125 - problem.output_times[next_output]) < 1e-12) {
        EXPECT_LT((z - trajectory.states[next_output]).cwiseAbs().maxCoeff(), 1e-15)
            << name << " at t=" << t + 0.125;
        ++next_output;
      }
    }
    EXPECT_EQ(next_output, problem.output_times.size());
    EXPECT_EQ(trajectory.stats.steps, 16) << name;
  }
}

TEST(ArkodeErkIntegrator, AdaptiveDopri5StepsReplayWithTableau) {
  // Replaying the recorded accepted steps with ExplicitTableau("dopri5") reproduces ARKODE's
  // states: the basis of a discrete adjoint through dopri5.
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.record_steps = true;
  const OdeProblem problem = test_util::LogisticProblem();
  ArkodeErkIntegrator integrator("dopri5", options);
  const Trajectory trajectory = integrator.Solve(problem);
  ASSERT_GT(trajectory.step_times.size(), 5u);
  const ButcherTableau tableau = ExplicitTableau("dopri5");
  Vector z = problem.z0;
  std::size_t next_output = 0;
  for (std::size_t n = 0; n + 1 < trajectory.step_times.size(); ++n) {
    const double t = trajectory.step_times[n];
    z = RkStep(tableau, *problem.field, problem.theta, t, z, trajectory.step_times[n + 1] - t);
    if (trajectory.step_times[n + 1] == problem.output_times[next_output]) {
      EXPECT_LT((z - trajectory.states[next_output]).cwiseAbs().maxCoeff(), 1e-14);
      ++next_output;
    }
  }
  EXPECT_EQ(next_output, problem.output_times.size());
}

TEST(ArkodeErkIntegrator, Dopri5FirstStepFollowsHairerWanner) {
  // z' = -2z, z0 = 1, rtol = atol = 1e-3. By hand (Solving ODEs I, II.4): scale 2e-3, d0 = 500,
  // d1 = 1000, h0 = 0.01·d0/d1 = 0.005, y1 = 0.99, d2 = |f(y1) − f0|/scale/h0 = 2000,
  // h1 = (0.01/2000)^(1/(p̂+1)) with the embedding order p̂ = 4 (the default step control "i";
  // "arkode" takes 1/6, ErkStepController.IControlFirstStepUsesTheEmbeddingOrder), first step
  // min(100·h0, h1) = h1 ≈ 0.0871.
  IntegratorOptions options;
  options.rtol = 1e-3;
  options.atol = 1e-3;
  const double expected = std::pow(0.01 / 2000.0, 1.0 / 5.0);
  ArkodeErkIntegrator dopri5("dopri5", options);
  for (int solve = 0; solve < 2; ++solve) {  // a re-initialised solver estimates again
    const Trajectory trajectory = dopri5.Solve(Decay(2.0, {0.5, 1.0}));
    EXPECT_NEAR(trajectory.stats.first_step, expected, 1e-12 * expected);
    EXPECT_NEAR(trajectory.states[1][0], std::exp(-2.0), 5e-3);
    // FSAL dopri5: 6 f per accepted or rejected attempt + the two of the estimate, whose
    // f(t0, z0) is also the first step's first stage (detail::FirstStageRhs, not evaluated again).
    EXPECT_EQ(trajectory.stats.rhs_evals,
              2 + 6 * (trajectory.stats.steps + trajectory.stats.rejected_steps));
  }
  // ARKODE's own estimate is another (smaller) step; the solution is as accurate.
  options.initial_step_estimate = "sundials";
  ArkodeErkIntegrator own("dopri5", options);
  const Trajectory trajectory = own.Solve(Decay(2.0, {0.5, 1.0}));
  EXPECT_GT(trajectory.stats.first_step, 0.0);
  EXPECT_LT(trajectory.stats.first_step, 0.5 * expected);
  EXPECT_NEAR(trajectory.states[1][0], std::exp(-2.0), 5e-3);
  // An explicit initial_step wins over both.
  options.initial_step = 0.01;
  options.initial_step_estimate = "hairer";
  ArkodeErkIntegrator given("dopri5", options);
  EXPECT_DOUBLE_EQ(given.Solve(Decay(2.0, {1.0})).stats.first_step, 0.01);
}

TEST(ArkodeErkIntegrator, UnknownInitialStepEstimateIsRejected) {
  IntegratorOptions options;
  options.initial_step_estimate = "guess";
  try {
    ArkodeErkIntegrator dopri5("dopri5", options);
    ADD_FAILURE() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("initial_step_estimate must be 'hairer' or 'sundials'"),
              std::string::npos)
        << e.what();
  }
}

TEST(ArkodeErkIntegrator, FixedStepMethodsRequireFixedStep) {
  EXPECT_THROW(ArkodeErkIntegrator("euler", IntegratorOptions()), ConfigError);
  EXPECT_THROW(ArkodeErkIntegrator("rk4", IntegratorOptions()), ConfigError);
  EXPECT_NO_THROW(ArkodeErkIntegrator("dopri5", IntegratorOptions()));
  EXPECT_THROW(ArkodeErkIntegrator("sdirk", IntegratorOptions()), ConfigError);
}

TEST(ArkodeErkIntegrator, TooMuchWorkNamesFlagTimeAndRemedy) {
  // Stop times (the solver's own limit), recorded steps and interpolated outputs (one-step mode:
  // the output loop counts the steps and raises the same error).
  for (const int mode : {0, 1, 2}) {
    IntegratorOptions options;
    options.max_steps = 20;
    options.record_steps = mode == 1;
    options.interpolate_outputs = mode == 2;
    ArkodeErkIntegrator dopri5("dopri5", options);
    try {
      dopri5.Solve(Decay(1e4, {1.0}));
      ADD_FAILURE() << "no exception";
    } catch (const SundialsError& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.flag(), -1);
      EXPECT_EQ(e.flag_name(), "ARK_TOO_MUCH_WORK");
      EXPECT_EQ(message.rfind("ERKStepEvolve failed with ARK_TOO_MUCH_WORK (-1) at t=", 0), 0u)
          << message;
      EXPECT_NE(message.find("(integrator 'dopri5')"), std::string::npos) << message;
      EXPECT_NE(message.find("raise max_steps"), std::string::npos) << message;
    }
  }
}

TEST(ArkodeDirkIntegrator, BackwardEulerReturnsStepValueNotInterpolant) {
  // y' = −y, h = 0.1, T = 1: BE gives (1/1.1)^10 = 0.385543…; the 6.4.1 Hermite default would
  // return 0.4048 (6.4.1's Hermite interpolant of a first-order method is capped at degree 0).
  ArkodeDirkIntegrator backward_euler("backward_euler", Fixed(0.1));
  const Trajectory trajectory = backward_euler.Solve(Decay(1.0, {0.5, 1.0}));
  EXPECT_NEAR(trajectory.states[0][0], std::pow(1.0 / 1.1, 5), 1e-12);
  EXPECT_NEAR(trajectory.states[1][0], std::pow(1.0 / 1.1, 10), 1e-12);
}

TEST(ArkodeDirkIntegrator, BackwardEulerRequiresFixedStep) {
  EXPECT_THROW(ArkodeDirkIntegrator("backward_euler", IntegratorOptions()), ConfigError);
  EXPECT_NO_THROW(ArkodeDirkIntegrator("sdirk", IntegratorOptions()));
}

TEST(ArkodeDirkIntegrator, DenseUsesJacobianAndGmresUsesJvps) {
  const OdeProblem problem = test_util::LogisticProblem();
  IntegratorOptions options;
  options.rtol = 1e-8;
  options.atol = 1e-10;
  ArkodeDirkIntegrator dense("sdirk", options);
  const Trajectory with_dense = dense.Solve(problem);
  EXPECT_GT(with_dense.stats.jacobian_evals, 0);
  EXPECT_EQ(with_dense.stats.jvp_evals, 0);
  EXPECT_GT(with_dense.stats.nonlinear_iters, 0);
  options.linear_solver = "gmres";
  ArkodeDirkIntegrator gmres("sdirk", options);
  const Trajectory with_gmres = gmres.Solve(problem);
  EXPECT_EQ(with_gmres.stats.jacobian_evals, 0);
  EXPECT_GT(with_gmres.stats.jvp_evals, 0);
  EXPECT_GT(with_gmres.stats.linear_iters, 0);
  for (std::size_t i = 0; i < problem.output_times.size(); ++i) {
    EXPECT_LT((with_dense.states[i] - with_gmres.states[i]).cwiseAbs().maxCoeff(), 1e-7);
  }
}

TEST(ArkodeDirkIntegrator, NewtonFailureAtFixedStepNamesRemedy) {
  // One Newton iteration cannot solve a nonlinear stage at a large fixed step: ARK_CONV_FAILURE.
  IntegratorOptions options = Fixed(0.5);
  options.max_nonlinear_iters = 1;
  options.rtol = 1e-12;
  options.atol = 1e-14;
  OdeProblem problem = test_util::LogisticProblem();
  problem.theta << 20.0, 30.0;
  ArkodeDirkIntegrator backward_euler("backward_euler", options);
  try {
    backward_euler.Solve(problem);
    ADD_FAILURE() << "no exception";
  } catch (const SundialsError& e) {
    EXPECT_EQ(e.flag_name(), "ARK_CONV_FAILURE") << e.what();
    EXPECT_NE(std::string(e.what()).find("max_nonlinear_iters"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace snode
