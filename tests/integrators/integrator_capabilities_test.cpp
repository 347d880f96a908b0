// Every built-in integrator's declared capabilities (IntegratorCapabilities) against what it
// does: a declared Butcher tableau reproduces one fixed step of Solve(); output_jumps,
// step_hook and interpolated_outputs hold exactly when the hook or mode is accepted;
// needs_fixed_step exactly when adaptive steps are refused; records_steps fills step_times; kind,
// order and cvodes_method are consistent with the tableau. Gradient methods decide from these
// declarations, so a wrong one is a wrong gradient or a refused method.
#include <gtest/gtest.h>

#include <Eigen/LU>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "tests/integrators/linear_tableau_step.hpp"
#include "tests/test_util/linear_test_problem.hpp"

namespace snode {
namespace {

constexpr double kStep = 0.05;

// z' = A z with a non-normal A with complex eigenvalues (tests/test_util/linear_test_problem.hpp).
OdeProblem LinearProblem(std::vector<double> output_times) {
  return test_util::NonNormalLinearProblem(std::move(output_times));
}

Matrix SystemMatrix(const OdeProblem& problem) {
  return Eigen::Map<const Matrix>(problem.theta.data(), 3, 3);
}

// The integrator with adaptive steps, or with fixed step kStep when it refuses them.
struct Created {
  std::unique_ptr<Integrator> integrator;
  bool adaptive = true;
};

Created Create(const std::string& name, IntegratorOptions options = {}) {
  options.rtol = 1e-10;
  options.atol = 1e-12;
  Created created;
  try {
    created.integrator = IntegratorRegistry().Create(name, options);
  } catch (const ConfigError&) {
    options.fixed_step = kStep;
    created.integrator = IntegratorRegistry().Create(name, options);
    created.adaptive = false;
  }
  return created;
}

// Whether Solve() accepts the problem (false on ConfigError).
bool Accepts(Integrator& integrator, const OdeProblem& problem) {
  try {
    integrator.Solve(problem);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

class BuiltinCapabilities : public ::testing::TestWithParam<std::string> {};

TEST_P(BuiltinCapabilities, KindOrderAndStepsAreConsistent) {
  const Created created = Create(GetParam());
  const IntegratorCapabilities c = created.integrator->Capabilities();
  EXPECT_EQ(c.needs_fixed_step, !created.adaptive);
  if (c.error_estimate) {
    EXPECT_FALSE(c.needs_fixed_step);
  }
  if (c.needs_fixed_step) {
    EXPECT_FALSE(c.interpolated_outputs);
  }
  if (c.step_hook || c.interpolated_outputs) {
    EXPECT_GT(c.dense_output_order, 0);
  }
  if (c.cvodes_method != CvodesMethod::kNone) {
    EXPECT_EQ(c.kind, IntegratorKind::kMultistep);
  }
  if (c.tableau) {
    const ButcherTableau& tableau = *c.tableau;
    EXPECT_EQ(c.order, tableau.order);
    EXPECT_EQ(c.kind, tableau.IsExplicit() ? IntegratorKind::kExplicit
                                           : IntegratorKind::kDiagonallyImplicit);
    EXPECT_EQ(c.error_estimate, tableau.HasEmbedding());
    EXPECT_EQ(c.cvodes_method, CvodesMethod::kNone);
  }
  if (c.kind != IntegratorKind::kOther) {
    EXPECT_GT(c.order, 0);
  }
}

TEST_P(BuiltinCapabilities, DeclaredTableauIsTheStepSolveTakes) {
  IntegratorOptions options;
  options.fixed_step = kStep;
  std::unique_ptr<Integrator> integrator;
  try {
    integrator = IntegratorRegistry().Create(GetParam(), options);
  } catch (const ConfigError&) {
    GTEST_SKIP() << GetParam() << " has no fixed-step mode";
  }
  const IntegratorCapabilities c = integrator->Capabilities();
  if (!c.tableau) GTEST_SKIP() << GetParam() << " declares no tableau";
  const OdeProblem problem = LinearProblem({kStep});
  const Trajectory trajectory = integrator->Solve(problem);
  const Vector expected =
      test_util::LinearTableauStep(*c.tableau, SystemMatrix(problem), problem.z0, kStep);
  EXPECT_EQ(trajectory.stats.steps, 1);
  EXPECT_LE((trajectory.states.back() - expected).lpNorm<Eigen::Infinity>(),
            1e-13 * expected.lpNorm<Eigen::Infinity>())
      << GetParam();
}

TEST_P(BuiltinCapabilities, OutputJumpsAreDeclaredExactlyWhenHonoured) {
  Created created = Create(GetParam());
  Integrator& integrator = *created.integrator;
  const OdeProblem plain = LinearProblem({0.5, 1.0});
  OdeProblem jumping = plain;
  jumping.at_output = [](std::size_t index, double, VectorRef state) {
    if (index != 0) return false;
    state[0] += 0.5;
    return true;
  };
  const bool accepted = Accepts(integrator, jumping);
  EXPECT_EQ(integrator.Capabilities().output_jumps, accepted) << GetParam();
  EXPECT_EQ(integrator.SupportsOutputJumps(), accepted) << GetParam();
  if (!accepted) return;
  const Trajectory without = integrator.Solve(plain);
  const Trajectory with = integrator.Solve(jumping);
  EXPECT_NEAR(with.states[0][0], without.states[0][0] + 0.5, 1e-12) << GetParam();
}

TEST_P(BuiltinCapabilities, StepHookIsDeclaredExactlyWhenHonoured) {
  Created created = Create(GetParam());
  Integrator& integrator = *created.integrator;
  OdeProblem problem = LinearProblem({0.5, 1.0});
  long calls = 0;
  double last_t = 0.0;
  Vector at_end(3);
  problem.after_step = [&](double, double t_new, const DenseOutput& dense) {
    ++calls;
    last_t = t_new;
    dense.Evaluate(t_new, at_end);
  };
  bool accepted = true;
  Trajectory trajectory;
  try {
    trajectory = integrator.Solve(problem);
  } catch (const ConfigError&) {
    accepted = false;
  }
  EXPECT_EQ(integrator.Capabilities().step_hook, accepted) << GetParam();
  if (!accepted) return;
  // The dense output at the end of the last step is the solution there.
  EXPECT_EQ(calls, trajectory.stats.steps);
  EXPECT_EQ(last_t, 1.0);
  EXPECT_LE((at_end - trajectory.states.back()).norm(), 1e-12 * trajectory.states.back().norm());
}

TEST_P(BuiltinCapabilities, InterpolatedOutputsAreDeclaredExactlyWhenHonoured) {
  IntegratorOptions options;
  options.interpolate_outputs = true;
  bool accepted = true;
  try {
    std::unique_ptr<Integrator> integrator = IntegratorRegistry().Create(GetParam(), options);
    accepted = Accepts(*integrator, LinearProblem({0.5, 1.0}));
  } catch (const ConfigError&) {
    accepted = false;
  }
  EXPECT_EQ(Create(GetParam()).integrator->Capabilities().interpolated_outputs, accepted)
      << GetParam();
}

TEST_P(BuiltinCapabilities, RecordedStepsStartAtT0AndReachTheLastOutput) {
  IntegratorOptions options;
  options.record_steps = true;
  Created created = Create(GetParam(), options);
  if (!created.integrator->Capabilities().records_steps) {
    GTEST_SKIP() << GetParam() << " does not declare records_steps";
  }
  const OdeProblem problem = LinearProblem({0.5, 1.0});
  const Trajectory trajectory = created.integrator->Solve(problem);
  ASSERT_GE(trajectory.step_times.size(), 2u) << GetParam();
  EXPECT_EQ(trajectory.step_times.front(), problem.t0);
  EXPECT_NEAR(trajectory.step_times.back(), 1.0, 1e-12);
  EXPECT_EQ(static_cast<long>(trajectory.step_times.size()) - 1, trajectory.stats.steps);
}

TEST(IntegratorCapabilities, BuiltinsDeclareWhatTheyAre) {
  const auto capabilities = [](const std::string& name) {
    return Create(name).integrator->Capabilities();
  };
  EXPECT_EQ(capabilities("cvodes_bdf").cvodes_method, CvodesMethod::kBdf);
  EXPECT_EQ(capabilities("cvodes_bdf").order, 5);
  EXPECT_EQ(capabilities("cvodes_adams").cvodes_method, CvodesMethod::kAdams);
  EXPECT_EQ(capabilities("cvodes_adams").order, 12);
  EXPECT_EQ(capabilities("epi2").kind, IntegratorKind::kExponential);
  EXPECT_EQ(capabilities("epi2").order, 2);
  EXPECT_FALSE(capabilities("epi2").tableau.has_value());
  EXPECT_EQ(capabilities("dopri5").kind, IntegratorKind::kExplicit);
  EXPECT_EQ(capabilities("dopri5").order, 5);
  EXPECT_TRUE(capabilities("rk4").needs_fixed_step);
  EXPECT_TRUE(capabilities("euler").needs_fixed_step);
  EXPECT_TRUE(capabilities("backward_euler").needs_fixed_step);
  EXPECT_EQ(capabilities("backward_euler").dense_output_order, 0);
  EXPECT_EQ(capabilities("sdirk").kind, IntegratorKind::kDiagonallyImplicit);
  EXPECT_EQ(capabilities("sdirk").order, 4);
  // The default of a plug-in that declares nothing is conservative.
  const IntegratorCapabilities none;
  EXPECT_EQ(none.kind, IntegratorKind::kOther);
  EXPECT_FALSE(none.output_jumps || none.step_hook || none.interpolated_outputs ||
               none.records_steps || none.tableau.has_value());
}

INSTANTIATE_TEST_SUITE_P(Registry, BuiltinCapabilities,
                         ::testing::ValuesIn(IntegratorRegistry().Names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace snode
