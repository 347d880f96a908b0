// Registration at run time: user code that links snode::integrators adds its own integrator under
// a new name, and it is then created by name like a built-in one.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

// A user-defined integrator: the explicit midpoint rule with a fixed step,
//   z_{n+1} = z_n + h f(t_n + h/2, z_n + h/2 f(t_n, z_n)).
class MidpointIntegrator final : public Integrator {
 public:
  explicit MidpointIntegrator(IntegratorOptions options) : options_(std::move(options)) {
    options_.Validate();
    Require(options_.fixed_step > 0.0, "user_midpoint needs fixed_step > 0");
  }
  std::string name() const override { return "user_midpoint"; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override {
    problem.Validate();
    Trajectory trajectory;
    trajectory.times = problem.output_times;
    Vector z = problem.z0, k1(z.size()), k2(z.size());
    double t = problem.t0;
    for (const double tout : problem.output_times) {
      while (t < tout) {
        const double h = std::min(options_.fixed_step, tout - t);
        problem.field->F(t, z, problem.theta, k1);
        problem.field->F(t + 0.5 * h, z + 0.5 * h * k1, problem.theta, k2);
        z += h * k2;
        t = (tout - (t + h) < 1e-12) ? tout : t + h;
        ++trajectory.stats.steps;
        trajectory.stats.rhs_evals += 2;
      }
      trajectory.states.push_back(z);
    }
    return trajectory;
  }

 private:
  IntegratorOptions options_;
};

TEST(IntegratorRegistry, UserIntegratorRegisteredAtRunTimeIsCreatedByName) {
  ASSERT_FALSE(IntegratorRegistry().Contains("user_midpoint"));
  IntegratorRegistry().Add("user_midpoint", [](const IntegratorOptions& options) {
    return std::make_unique<MidpointIntegrator>(options);
  });
  EXPECT_TRUE(IntegratorRegistry().Contains("user_midpoint"));
  IntegratorOptions options;
  options.fixed_step = 1e-3;
  const std::unique_ptr<Integrator> integrator =
      IntegratorRegistry().Create("user_midpoint", options);
  EXPECT_EQ(integrator->name(), "user_midpoint");
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory trajectory = integrator->Solve(problem);
  EXPECT_LT(test_util::MaxLogisticError(problem, trajectory.states), 1e-6);
  EXPECT_EQ(trajectory.stats.steps, 2000);
  // Its own option checks run through the registry too.
  EXPECT_THROW(IntegratorRegistry().Create("user_midpoint", IntegratorOptions()), ConfigError);
  // A name can be registered once.
  EXPECT_THROW(IntegratorRegistry().Add("user_midpoint",
                                        [](const IntegratorOptions& o) {
                                          return std::make_unique<MidpointIntegrator>(o);
                                        }),
               ConfigError);
}

TEST(IntegratorRegistry, BuiltInsAreListed) {
  for (const char* name : {"euler", "rk4", "dopri5", "backward_euler", "sdirk", "cvodes_bdf",
                           "cvodes_adams", "heun"}) {
    EXPECT_TRUE(IntegratorRegistry().Contains(name)) << name;
  }
}

TEST(IntegratorRegistry, UnknownNameListsKnownNames) {
  try {
    IntegratorRegistry().Create("runge_kutta_99", IntegratorOptions());
    ADD_FAILURE() << "no exception";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown integrator 'runge_kutta_99'"), std::string::npos) << message;
    EXPECT_NE(message.find("dopri5"), std::string::npos) << message;
    EXPECT_NE(message.find("cvodes_bdf"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace snode
