// Step control of the adaptive ERKStep integrators (IntegratorOptions::step_controller): dopri5
// with "i" (torchdiffeq's control, Shampine's embedding) reaches a stated accuracy on a problem
// with a known solution within a stated number of f evaluations and fewer than the default
// "arkode", its error stays proportional to the tolerance, the embedding it estimates the error
// with is a 4th-order one, and its first step takes the embedding's exponent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/order_conditions.hpp"
#include "models/analytic_fields.hpp"

namespace snode {
namespace {

// Damped oscillator about (3, 3): z' = A (z − c), A = [[−0.1, 1], [−1, −0.1]], c = (3, 3),
// z(0) = c + (1, 0), observed at 200 times on (0, 20] (the shape of the Lotka–Volterra neural fit:
// many outputs, few steps; no component near zero, so rtol governs). Exact solution
// z(t) = c + e^{−0.1 t} (cos t, −sin t).
OdeProblem Oscillator() {
  Matrix a(2, 2);
  a << -0.1, 1.0, -1.0, -0.1;
  const Vector center = Vector::Constant(2, 3.0);
  OdeProblem problem;
  problem.field = std::make_shared<LinearField>(2, Vector(-a * center));
  problem.theta = LinearField::ParamsFromMatrix(a);
  problem.z0 = center + (Vector(2) << 1.0, 0.0).finished();
  for (int i = 1; i <= 200; ++i) problem.output_times.push_back(0.1 * i);
  return problem;
}

double MaxOscillatorError(const OdeProblem& problem, const Trajectory& trajectory) {
  double error = 0.0;
  for (std::size_t k = 0; k < trajectory.states.size(); ++k) {
    const double t = problem.output_times[k];
    const Vector exact = Vector::Constant(2, 3.0) +
                         std::exp(-0.1 * t) * (Vector(2) << std::cos(t), -std::sin(t)).finished();
    error = std::max(error, (trajectory.states[k] - exact).cwiseAbs().maxCoeff());
  }
  return error;
}

Trajectory SolveOscillator(double rtol, const std::string& controller, bool interpolate = true) {
  IntegratorOptions options;
  options.rtol = rtol;
  options.atol = rtol / 100;
  options.interpolate_outputs = interpolate;
  options.step_controller = controller;
  ArkodeErkIntegrator dopri5("dopri5", options);
  OdeProblem problem = Oscillator();
  if (!interpolate) problem.output_times = {5.0, 10.0, 15.0, 20.0};
  return dopri5.Solve(problem);
}

struct Convergence {
  double slope = 0.0;                         // least-squares slope of log10(error) on log10(rtol)
  double min_ratio = 1e300, max_ratio = 0.0;  // of error/rtol
};

// Errors for rtol = 1e-4 … 1e-10 (atol = rtol/100); also checks that a tighter rtol always costs
// more f.
Convergence MeasureConvergence(const std::string& controller, bool interpolate) {
  Convergence result;
  std::vector<double> x, y;
  long previous_f = 0;
  for (double rtol = 1e-4; rtol >= 0.99e-10; rtol /= 10) {
    OdeProblem problem = Oscillator();
    if (!interpolate) problem.output_times = {5.0, 10.0, 15.0, 20.0};
    const Trajectory trajectory = SolveOscillator(rtol, controller, interpolate);
    const double error = MaxOscillatorError(problem, trajectory);
    std::printf("  %s %s rtol %.0e: error %.3g (error/rtol %.3g), %ld f\n", controller.c_str(),
                interpolate ? "interpolated" : "stops", rtol, error, error / rtol,
                trajectory.stats.rhs_evals);
    EXPECT_GT(trajectory.stats.rhs_evals, previous_f) << rtol;
    previous_f = trajectory.stats.rhs_evals;
    result.min_ratio = std::min(result.min_ratio, error / rtol);
    result.max_ratio = std::max(result.max_ratio, error / rtol);
    x.push_back(std::log10(rtol));
    y.push_back(std::log10(error));
  }
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  result.slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return result;
}

TEST(ErkStepController, ShampineEmbeddingIsFourthOrder) {
  const ButcherTableau dp = ExplicitTableau("dopri5");
  const Vector embedding = detail::ShampineDopri5Embedding();
  ASSERT_EQ(embedding.size(), dp.stages);
  EXPECT_FALSE(FirstFailedOrderCondition(dp.a, embedding, 4).has_value());
  // Not 5th order: otherwise b − b̂ would estimate nothing.
  EXPECT_TRUE(FirstFailedOrderCondition(dp.a, embedding, 5).has_value());
  EXPECT_GT((embedding - dp.b_embedded).cwiseAbs().maxCoeff(), 1e-3);  // not ARKODE's
}

// rtol 1e-6, atol 1e-8, 200 interpolated outputs. Measured: "i" 3.84e-5 in 308 f (51 steps, none
// rejected), "arkode" (ERKStep's defaults) 2.75e-5 in 488 f. The bounds leave 1.5x on the error
// and two steps on the cost.
TEST(ErkStepController, IControlReachesStatedAccuracyWithinBudget) {
  const OdeProblem problem = Oscillator();
  const Trajectory fast = SolveOscillator(1e-6, "i");
  const Trajectory arkode = SolveOscillator(1e-6, "arkode");
  const double fast_error = MaxOscillatorError(problem, fast);
  const double arkode_error = MaxOscillatorError(problem, arkode);
  std::printf("  i: error %.3g, %ld f, %ld steps, %ld rejected; arkode: %.3g, %ld f, %ld steps\n",
              fast_error, fast.stats.rhs_evals, fast.stats.steps, fast.stats.rejected_steps,
              arkode_error, arkode.stats.rhs_evals, arkode.stats.steps);
  EXPECT_LE(fast_error, 6e-5);
  EXPECT_LE(fast.stats.rhs_evals, 320);
  EXPECT_LT(fast.stats.rhs_evals, arkode.stats.rhs_evals);
  // FSAL: 6 f per attempt plus the first-step estimate's two.
  EXPECT_EQ(fast.stats.rhs_evals, 2 + 6 * (fast.stats.steps + fast.stats.rejected_steps));
}

// Error against tolerance, measured over six decades. At the steps (4 stop times) the error is
// proportional to rtol (slope ≈ 1); the 200 interpolated outputs add the cubic Hermite's O(h⁴)
// error with h ∝ rtol^(1/5), slope ≈ 4/5. "i" keeps both slopes of ERKStep's own control.
TEST(ErkStepController, IControlErrorIsProportionalToTolerance) {
  // Measured: stops "i" slope 0.996, error/rtol 9.5–12; "arkode" 1.063, 1.3–4.8. Interpolated:
  // "i" 0.807, "arkode" 0.858.
  const Convergence stops = MeasureConvergence("i", false);
  const Convergence stops_arkode = MeasureConvergence("arkode", false);
  const Convergence dense = MeasureConvergence("i", true);
  const Convergence dense_arkode = MeasureConvergence("arkode", true);
  std::printf("  slopes: stops i %.3f arkode %.3f; interpolated i %.3f arkode %.3f\n", stops.slope,
              stops_arkode.slope, dense.slope, dense_arkode.slope);
  EXPECT_GT(stops.slope, 0.9);
  EXPECT_LT(stops.slope, 1.1);
  EXPECT_GT(stops.min_ratio, 3.0);
  EXPECT_LT(stops.max_ratio, 40.0);
  EXPECT_GT(dense.slope, 0.7);
  EXPECT_LT(dense.slope, 0.9);
  EXPECT_LT(std::abs(stops.slope - stops_arkode.slope), 0.15);
  EXPECT_LT(std::abs(dense.slope - dense_arkode.slope), 0.15);
}

// z' = -2z, z0 = 1, rtol = atol = 1e-3 (worked by hand in
// ArkodeErkIntegrator.Dopri5FirstStepFollowsHairerWanner): d1 = 1000, d2 = 2000, h0 = 0.005. "i"
// takes h1 = (0.01/2000)^(1/(p̂+1)) with p̂ = 4 ≈ 0.0871; "arkode" keeps 1/(q+1) = 1/6 ≈ 0.1308.
TEST(ErkStepController, IControlFirstStepUsesTheEmbeddingOrder) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.theta = Vector::Constant(1, 2.0);
  problem.z0 = Vector::Ones(1);
  problem.output_times = {0.5, 1.0};
  for (const std::string controller : {"i", "arkode"}) {
    IntegratorOptions options;
    options.rtol = 1e-3;
    options.atol = 1e-3;
    options.step_controller = controller;
    ArkodeErkIntegrator dopri5("dopri5", options);
    const double expected = std::pow(0.01 / 2000.0, controller == "i" ? 0.2 : 1.0 / 6.0);
    const Trajectory trajectory = dopri5.Solve(problem);
    EXPECT_NEAR(trajectory.stats.first_step, expected, 1e-12 * expected) << controller;
    EXPECT_NEAR(trajectory.states[1][0], std::exp(-2.0), 5e-3) << controller;
  }
}

// The stability intervals on the negative real axis from the tableaus' stability functions, against
// the known values: Euler 2, classic RK4 2.785, Dormand–Prince 5(4) 3.306 (to the 1e-3 grid).
TEST(ErkStepController, StabilityIntervalsOfKnownMethods) {
  EXPECT_NEAR(detail::RealStabilityInterval(ExplicitTableau("euler")), 2.0, 1.5e-3);
  EXPECT_NEAR(detail::RealStabilityInterval(ExplicitTableau("rk4")), 2.7853, 1.5e-3);
  EXPECT_NEAR(detail::RealStabilityInterval(ExplicitTableau("dopri5")), 3.3066, 1.5e-3);
}

// z' = diag(−1, −1000) z on [0, 2]: once the fast mode has decayed, the accuracy-based steps would
// grow past dopri5's stability limit h·1000 ≤ 3.31. "i" caps them at 0.95·3.31/ρ with Hairer's
// estimate ρ ≤ 1000 (a lower bound), so a few steps end slightly over the limit and none far over
// it. Measured: 637 steps, 7 over the limit, the largest 1.15× it; the state exact to 1e-15.
TEST(ErkStepController, StiffDecayStepsStayInsideTheStabilityInterval) {
  Matrix a = Matrix::Zero(2, 2);
  a.diagonal() << -1.0, -1000.0;
  OdeProblem problem;
  problem.field = std::make_shared<LinearField>(2);
  problem.theta = LinearField::ParamsFromMatrix(a);
  problem.z0 = Vector::Ones(2);
  problem.output_times = {2.0};
  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-8;
  options.record_steps = true;
  ArkodeErkIntegrator dopri5("dopri5", options);
  const Trajectory trajectory = dopri5.Solve(problem);
  const double limit = detail::RealStabilityInterval(ExplicitTableau("dopri5")) / 1000.0;
  int over = 0;
  double largest = 0.0;
  for (std::size_t k = 1; k < trajectory.step_times.size(); ++k) {
    const double h = trajectory.step_times[k] - trajectory.step_times[k - 1];
    over += h > limit ? 1 : 0;
    largest = std::max(largest, h);
  }
  const double error = std::abs(trajectory.states[0][0] - std::exp(-2.0));
  std::printf(
      "[ cap      ] %zu steps, %d over the stability limit %.4g, largest %.4g, error %.2g\n",
      trajectory.step_times.size() - 1, over, limit, largest, error);
  EXPECT_LE(over, 20);
  EXPECT_LT(largest, 1.25 * limit);
  EXPECT_LT(error, 1e-5);
  EXPECT_LT(std::abs(trajectory.states[0][1]), 1e-8);
}

TEST(ErkStepController, UnknownControllerIsRejected) {
  IntegratorOptions options;
  options.step_controller = "pid";
  try {
    ArkodeErkIntegrator dopri5("dopri5", options);
    ADD_FAILURE() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("step_controller must be 'i' or 'arkode', got 'pid'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace snode
