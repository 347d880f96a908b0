// Tests of methods given as Butcher tableaus (integrators/tableau_integrator.hpp): the example
// files registered and run through ARKODE (measured convergence orders, adaptive accuracy,
// stiff stability), the dopri5 tableau under another name reproducing the built-in, registration
// errors, and the capabilities the ERK and DIRK integrators declare.
#include "integrators/tableau_integrator.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "examples/bs32_plugin/bs32.hpp"
#include "integrators/arkode_dirk_integrator.hpp"
#include "integrators/arkode_erk_integrator.hpp"
#include "integrators/tableau_file.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"
#include "tests/integrators/linear_tableau_step.hpp"
#include "tests/integrators/logistic_field.hpp"
#include "tests/integrators/tableau_examples.hpp"

namespace snode {
namespace {

const std::string& kExamples = test_util::kTableauExamples;

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "message: " << (text)

// Least-squares slope of log(error) against log(h) of fixed-step solves of the logistic problem
// to t = 2 with the given numbers of steps.
double MeasuredOrder(const std::string& name, const std::vector<int>& steps) {
  constexpr double kEnd = 2.0;
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {kEnd};
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const int n : steps) {
    IntegratorOptions options;
    options.fixed_step = kEnd / n;
    options.rtol = 1e-12;  // Newton far below the truncation error (implicit tableaus)
    options.atol = 1e-14;
    options.max_nonlinear_iters = 20;
    const Trajectory trajectory = IntegratorRegistry().Create(name, options)->Solve(problem);
    EXPECT_EQ(trajectory.stats.steps, n) << name;
    const double error = test_util::MaxLogisticError(problem, trajectory.states);
    std::printf("%-17s h=%-9.5g error=%.3e\n", name.c_str(), kEnd / n, error);
    const double x = std::log(kEnd / n), y = std::log(error);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double count = static_cast<double>(steps.size());
  return (count * sxy - sx * sy) / (count * sxx - sx * sx);
}

TEST(TableauIntegrator, BogackiShampineFileHasMeasuredOrderThree) {
  test_util::RegisterTableauExamples();
  const double order = MeasuredOrder("bogacki_shampine", {20, 40, 80, 160});
  std::printf("bogacki_shampine measured order %.3f\n", order);
  EXPECT_GE(order, 2.9);
  EXPECT_LE(order, 3.1);
}

TEST(TableauIntegrator, BogackiShampineAdaptiveSolveMeetsTheTolerance) {
  test_util::RegisterTableauExamples();
  const OdeProblem problem = test_util::LogisticProblem();
  for (const double rtol : {1e-4, 1e-7}) {
    IntegratorOptions options;
    options.rtol = rtol;
    options.atol = rtol * 1e-2;
    const Trajectory trajectory =
        IntegratorRegistry().Create("bogacki_shampine", options)->Solve(problem);
    const double error = test_util::MaxLogisticError(problem, trajectory.states);
    std::printf("rtol %.0e: %ld steps, %ld rejected, error %.2e\n", rtol, trajectory.stats.steps,
                trajectory.stats.rejected_steps, error);
    EXPECT_LT(error, 20 * rtol);
    EXPECT_GT(trajectory.stats.first_step, 0.0);
  }
  // Interpolated outputs through the degree-2 Hermite interpolant.
  IntegratorOptions options;
  options.rtol = 1e-7;
  options.atol = 1e-9;
  options.interpolate_outputs = true;
  const Trajectory interpolated =
      IntegratorRegistry().Create("bogacki_shampine", options)->Solve(problem);
  EXPECT_LT(test_util::MaxLogisticError(problem, interpolated.states), 1e-5);
}

// The same method written two ways: the Bogacki–Shampine tableau file run by ARKODE and the
// step-level bs32 of examples/bs32_plugin. At a fixed step they take the same steps, so their
// trajectories agree to round-off (1e-12 absolute on states of size ~1, at every output).
TEST(TableauIntegrator, BogackiShampineFileEqualsStepLevelBs32AtAFixedStep) {
  test_util::RegisterTableauExamples();
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times.clear();
  for (int i = 1; i <= 20; ++i) problem.output_times.push_back(0.1 * i);
  IntegratorOptions options;
  options.fixed_step = 0.01;
  const Trajectory from_file =
      IntegratorRegistry().Create("bogacki_shampine", options)->Solve(problem);
  const Trajectory from_step = Bs32(options).Solve(problem);
  ASSERT_EQ(from_file.states.size(), from_step.states.size());
  double max_difference = 0.0;
  for (std::size_t i = 0; i < from_file.states.size(); ++i) {
    max_difference = std::max(
        max_difference, (from_file.states[i] - from_step.states[i]).lpNorm<Eigen::Infinity>());
  }
  std::printf("bogacki_shampine file vs step-level bs32, h = 0.01: max |difference| = %.2e\n",
              max_difference);
  EXPECT_LE(max_difference, 1e-12);
  EXPECT_EQ(from_file.stats.steps, from_step.stats.steps);
}

TEST(TableauIntegrator, Sdirk2FileHasMeasuredOrderTwo) {
  test_util::RegisterTableauExamples();
  const double order = MeasuredOrder("sdirk2", {20, 40, 80, 160});
  std::printf("sdirk2 measured order %.3f\n", order);
  EXPECT_NEAR(order, 2.0, 0.1);
}

TEST(TableauIntegrator, Sdirk2IsStableOnAStiffProblem) {
  test_util::RegisterTableauExamples();
  // z2' = −1e5 z2 next to z1' = −z1: a fixed step of 0.01 is 1000 times the explicit stability
  // limit. L-stability damps the stiff component; the slow one is second-order accurate.
  OdeProblem problem = problems::TwoRateDecayOde(1e5);
  problem.output_times = {0.5, 1.0};
  IntegratorOptions fixed;
  fixed.fixed_step = 0.01;
  const Trajectory trajectory = IntegratorRegistry().Create("sdirk2", fixed)->Solve(problem);
  const Vector& end = trajectory.states.back();
  EXPECT_NEAR(end[0], std::exp(-1.0), 1e-4);
  EXPECT_LT(std::abs(end[1]), 1e-12);
  // Adaptive: the steps follow the accuracy of the transient and then grow far beyond the
  // explicit stability limit 2.8e-5 (an explicit method needs over 35 000 steps to t = 1).
  IntegratorOptions adaptive;
  adaptive.rtol = 1e-4;
  adaptive.atol = 1e-8;
  const OdeProblem stiff = problems::TwoRateDecayOde(1e5);
  const Trajectory solved = IntegratorRegistry().Create("sdirk2", adaptive)->Solve(stiff);
  std::printf("sdirk2 adaptive on λ = 1e5: %ld steps\n", solved.stats.steps);
  const std::vector<double> times = problems::TwoRateDecayTimes();
  for (std::size_t k = 0; k < times.size(); ++k) {
    EXPECT_NEAR(solved.states[k][0], std::exp(-times[k]), 1e-3) << times[k];
    EXPECT_NEAR(solved.states[k][1], std::exp(-1e5 * times[k]), 1e-3) << times[k];
  }
  EXPECT_LT(solved.stats.steps, 1000);
}

TEST(TableauIntegrator, Dopri5TableauUnderAnotherNameReproducesTheBuiltin) {
  test_util::RegisterTableauExamples();
  const OdeProblem problem = test_util::LogisticProblem();
  for (const double fixed_step : {0.0, 0.1}) {
    IntegratorOptions options;
    options.rtol = 1e-7;
    options.atol = 1e-9;
    options.fixed_step = fixed_step;
    options.record_steps = true;
    const Trajectory builtin = IntegratorRegistry().Create("dopri5", options)->Solve(problem);
    const Trajectory data = IntegratorRegistry().Create("dopri5_as_data", options)->Solve(problem);
    EXPECT_EQ(data.step_times, builtin.step_times) << fixed_step;
    ASSERT_EQ(data.states.size(), builtin.states.size());
    for (std::size_t k = 0; k < data.states.size(); ++k) {
      EXPECT_EQ(data.states[k], builtin.states[k]) << fixed_step << " output " << k;
    }
    EXPECT_EQ(data.stats.rhs_evals, builtin.stats.rhs_evals) << fixed_step;
    EXPECT_EQ(data.stats.first_step, builtin.stats.first_step) << fixed_step;
  }
}

TEST(TableauIntegrator, DeclaredTableauIsTheStepSolveTakesAndHooksWork) {
  test_util::RegisterTableauExamples();
  Matrix a(3, 3);
  a << -0.5, 1.0, 0.0, -1.0, -0.5, 0.2, 0.1, 0.0, -0.3;
  OdeProblem problem;
  problem.field = std::make_shared<LinearField>(3);
  problem.theta = LinearField::ParamsFromMatrix(a);
  problem.z0 = (Vector(3) << 1.0, 0.5, -0.3).finished();
  for (const std::string name : {"bogacki_shampine", "sdirk2"}) {
    IntegratorOptions options;
    options.fixed_step = 0.05;
    options.rtol = 1e-12;
    options.atol = 1e-14;
    auto integrator = IntegratorRegistry().Create(name, options);
    problem.output_times = {0.05};
    const Trajectory one = integrator->Solve(problem);
    const Vector expected =
        test_util::LinearTableauStep(*integrator->Capabilities().tableau, a, problem.z0, 0.05);
    EXPECT_EQ(one.stats.steps, 1);
    EXPECT_LE((one.states.back() - expected).lpNorm<Eigen::Infinity>(), 1e-13) << name;
    // after_step with the dense output, adaptive and interpolated outputs are honoured.
    OdeProblem hooked = problem;
    hooked.output_times = {0.5, 1.0};
    long calls = 0;
    Vector at_end(3);
    hooked.after_step = [&](double, double t_new, const DenseOutput& dense) {
      ++calls;
      dense.Evaluate(t_new, at_end);
    };
    IntegratorOptions adaptive;
    const Trajectory with_hook = IntegratorRegistry().Create(name, adaptive)->Solve(hooked);
    EXPECT_EQ(calls, with_hook.stats.steps) << name;
    EXPECT_LE((at_end - with_hook.states.back()).norm(), 1e-12) << name;
    adaptive.interpolate_outputs = true;
    hooked.after_step = nullptr;  // interpolated outputs need no hook
    EXPECT_NO_THROW(IntegratorRegistry().Create(name, adaptive)->Solve(hooked)) << name;
  }
}

TEST(TableauIntegrator, RegistrationErrors) {
  test_util::RegisterTableauExamples();
  // The name is taken.
  try {
    RegisterTableauFile(kExamples + "/bogacki_shampine.json");
    ADD_FAILURE() << "registered twice";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "tableau file '" + kExamples + "/bogacki_shampine.json': ");
    EXPECT_CONTAINS(e.what(), "integrator 'bogacki_shampine' is already registered");
  }
  EXPECT_THROW(RegisterTableau("rk4", ExplicitTableau("rk4")), ConfigError);
  EXPECT_THROW(RegisterTableau("Not Snake", ExplicitTableau("rk4")), ConfigError);
  // A wrong coefficient is rejected before anything is registered.
  EXPECT_THROW(RegisterTableauFile(kExamples + "/wrong_coefficient.json"), ConfigError);
  EXPECT_FALSE(IntegratorRegistry().Contains("bogacki_shampine_typo"));
  ButcherTableau bad = ExplicitTableau("rk4");
  bad.b[0] = 0.2;
  try {
    RegisterTableau("rk4_typo", bad);
    ADD_FAILURE() << "registered";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(), "tableau 'rk4_typo': weights b fail order condition 1 of order 1");
  }
  EXPECT_FALSE(IntegratorRegistry().Contains("rk4_typo"));
  EXPECT_THROW(RegisterTableauFile(kExamples + "/missing.json"), InputError);
}

TEST(TableauIntegrator, RegistersIntoAGivenRegistry) {
  IntegratorRegistryType registry("integrator");
  RegisterTableau(registry, "rk4_copy", ExplicitTableau("rk4"));
  registry.Add("backward_euler_copy",
               MakeTableauFactory("backward_euler_copy", ImplicitTableau("backward_euler")));
  EXPECT_FALSE(IntegratorRegistry().Contains("rk4_copy"));
  IntegratorOptions options;
  options.fixed_step = 0.125;
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory copy = registry.Create("rk4_copy", options)->Solve(problem);
  const Trajectory builtin = IntegratorRegistry().Create("rk4", options)->Solve(problem);
  EXPECT_EQ(copy.states, builtin.states);
  const Trajectory be_copy = registry.Create("backward_euler_copy", options)->Solve(problem);
  const Trajectory be = IntegratorRegistry().Create("backward_euler", options)->Solve(problem);
  EXPECT_EQ(be_copy.states, be.states);
  EXPECT_EQ(registry.Create("rk4_copy", options)->name(), "rk4_copy");
}

TEST(TableauIntegrator, DirkWithoutEmbeddingRunsAtAFixedStep) {
  ButcherTableau tableau = ReadTableauFile(kExamples + "/sdirk2.json");
  tableau.b_embedded.resize(0);
  tableau.embedded_order = 0;
  IntegratorRegistryType registry("integrator");
  RegisterTableau(registry, "sdirk2_fixed", tableau);
  try {
    registry.Create("sdirk2_fixed", IntegratorOptions());
    ADD_FAILURE() << "accepted without fixed_step";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(e.what(),
                    "integrator 'sdirk2_fixed' has no error estimator and needs "
                    "options.fixed_step > 0");
  }
  IntegratorOptions options;
  options.fixed_step = 0.01;
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory trajectory = registry.Create("sdirk2_fixed", options)->Solve(problem);
  EXPECT_LT(test_util::MaxLogisticError(problem, trajectory.states), 1e-5);
  const IntegratorCapabilities caps = registry.Create("sdirk2_fixed", options)->Capabilities();
  EXPECT_TRUE(caps.needs_fixed_step);
  EXPECT_FALSE(caps.error_estimate || caps.interpolated_outputs);
  EXPECT_TRUE(caps.step_hook);  // order 2: a linear Hermite dense output
}

TEST(TableauIntegrator, FixedStepIsRequiredWithoutEmbeddingAndKindsAreChecked) {
  try {
    ArkodeErkIntegrator("rk4_copy", ExplicitTableau("rk4"), IntegratorOptions());
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_CONTAINS(
        e.what(), "integrator 'rk4_copy' has no error estimator and needs options.fixed_step > 0");
  }
  IntegratorOptions fixed;
  fixed.fixed_step = 0.1;
  EXPECT_THROW(ArkodeErkIntegrator("x", ImplicitTableau("sdirk"), fixed), ConfigError);
  EXPECT_THROW(ArkodeDirkIntegrator("x", ExplicitTableau("rk4"), fixed), ConfigError);
  ButcherTableau broken = ExplicitTableau("heun");
  broken.c[1] = 0.5;
  EXPECT_THROW(ArkodeErkIntegrator("x", broken, fixed), ConfigError);
}

TEST(TableauIntegrator, CapabilitiesOfTableauAndBuiltinIntegrators) {
  test_util::RegisterTableauExamples();
  IntegratorOptions fixed;
  fixed.fixed_step = 0.1;
  auto caps = [&](const std::string& name) {
    return IntegratorRegistry().Create(name, fixed)->Capabilities();
  };
  const IntegratorCapabilities bs = caps("bogacki_shampine");
  EXPECT_EQ(bs.kind, IntegratorKind::kExplicit);
  EXPECT_EQ(bs.order, 3);
  EXPECT_TRUE(bs.error_estimate);
  EXPECT_FALSE(bs.needs_fixed_step);
  EXPECT_EQ(bs.dense_output_order, 3);  // quadratic Hermite: O(h^3)
  EXPECT_TRUE(bs.output_jumps && bs.step_hook && bs.interpolated_outputs && bs.records_steps);
  ASSERT_TRUE(bs.tableau);
  EXPECT_EQ(bs.tableau->b, ReadTableauFile(kExamples + "/bogacki_shampine.json").b);
  EXPECT_EQ(bs.cvodes_method, CvodesMethod::kNone);

  const IntegratorCapabilities s2 = caps("sdirk2");
  EXPECT_EQ(s2.kind, IntegratorKind::kDiagonallyImplicit);
  EXPECT_EQ(s2.order, 2);
  EXPECT_EQ(s2.dense_output_order, 2);  // linear Hermite: O(h^2)
  EXPECT_TRUE(s2.step_hook && s2.interpolated_outputs && s2.error_estimate);

  const IntegratorCapabilities dopri5 = caps("dopri5");
  EXPECT_EQ(dopri5.order, 5);
  EXPECT_EQ(dopri5.dense_output_order, 4);  // cubic Hermite: O(h^4)
  EXPECT_TRUE(dopri5.interpolated_outputs);
  ASSERT_TRUE(dopri5.tableau);
  EXPECT_EQ(dopri5.tableau->a, ExplicitTableau("dopri5").a);

  const IntegratorCapabilities rk4 = caps("rk4");
  EXPECT_TRUE(rk4.needs_fixed_step);
  EXPECT_FALSE(rk4.error_estimate || rk4.interpolated_outputs);
  EXPECT_EQ(rk4.dense_output_order, 4);
  EXPECT_EQ(rk4.tableau->stages, 4);  // as declared, not ERKStep's FSAL-safe copy

  const IntegratorCapabilities euler = caps("euler");
  EXPECT_EQ(euler.order, 1);
  EXPECT_EQ(euler.dense_output_order, 1);  // the step's end value: O(h)
  EXPECT_TRUE(euler.step_hook);

  const IntegratorCapabilities sdirk = caps("sdirk");
  EXPECT_EQ(sdirk.kind, IntegratorKind::kDiagonallyImplicit);
  EXPECT_EQ(sdirk.order, 4);
  EXPECT_TRUE(sdirk.step_hook && sdirk.interpolated_outputs);
  EXPECT_EQ(sdirk.dense_output_order, 4);

  const IntegratorCapabilities be = caps("backward_euler");
  EXPECT_EQ(be.kind, IntegratorKind::kDiagonallyImplicit);
  EXPECT_TRUE(be.needs_fixed_step);
  EXPECT_FALSE(be.step_hook || be.interpolated_outputs);
  EXPECT_EQ(be.dense_output_order, 0);
  EXPECT_TRUE(be.output_jumps && be.records_steps);
}

}  // namespace
}  // namespace snode
