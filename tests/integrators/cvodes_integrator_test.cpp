#include "integrators/cvodes_integrator.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "problems/robertson.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

OdeProblem Robertson(double t_end) { return problems::RobertsonOde({t_end}); }

TEST(CvodesIntegrator, TooMuchWorkMessageNamesFlagTimeAndRemedy) {
  IntegratorOptions options;
  options.max_steps = 10;
  CvodesIntegrator bdf("cvodes_bdf", options);
  try {
    bdf.Solve(Robertson(1e5));
    ADD_FAILURE() << "no exception";
  } catch (const SundialsError& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.call(), "CVode");
    EXPECT_EQ(e.flag(), -1);
    EXPECT_EQ(e.flag_name(), "CV_TOO_MUCH_WORK");
    EXPECT_EQ(message.rfind("CVode failed with CV_TOO_MUCH_WORK (-1) at t=", 0), 0u) << message;
    EXPECT_NE(message.find("(integrator 'cvodes_bdf'); raise max_steps or loosen rtol"),
              std::string::npos)
        << message;
  }
}

TEST(CvodesIntegrator, FixedStepIsConfigError) {
  IntegratorOptions options;
  options.fixed_step = 0.1;
  EXPECT_THROW(CvodesIntegrator("cvodes_bdf", options), ConfigError);
  EXPECT_THROW(CvodesIntegrator("cvodes_adams", options), ConfigError);
  EXPECT_THROW(CvodesIntegrator("cvodes_euler", IntegratorOptions()), ConfigError);
}

TEST(CvodesIntegrator, BdfDenseAndGmresAgreeAndCountProducts) {
  IntegratorOptions options;
  options.rtol = 1e-8;
  options.atol = 1e-12;
  const OdeProblem problem = Robertson(100.0);
  CvodesIntegrator dense("cvodes_bdf", options);
  const Trajectory with_dense = dense.Solve(problem);
  EXPECT_GT(with_dense.stats.jacobian_evals, 0);
  EXPECT_EQ(with_dense.stats.jvp_evals, 0);
  options.linear_solver = "gmres";
  CvodesIntegrator gmres("cvodes_bdf", options);
  const Trajectory with_gmres = gmres.Solve(problem);
  EXPECT_GT(with_gmres.stats.jvp_evals, 0);
  EXPECT_GT(with_gmres.stats.linear_iters, 0);
  EXPECT_EQ(with_gmres.stats.jacobian_evals, 0);
  const Vector& a = with_dense.states[0];
  const Vector& b = with_gmres.states[0];
  EXPECT_LT(((a - b).cwiseAbs().array() / a.cwiseAbs().array()).maxCoeff(), 1e-4);
}

TEST(CvodesIntegrator, AdamsUsesNoJacobianOrJvp) {
  IntegratorOptions options;
  options.rtol = 1e-9;
  options.atol = 1e-12;
  CvodesIntegrator adams("cvodes_adams", options);
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory trajectory = adams.Solve(problem);
  EXPECT_EQ(trajectory.stats.jvp_evals, 0);
  EXPECT_EQ(trajectory.stats.jacobian_evals, 0);
  EXPECT_LT(test_util::MaxLogisticError(problem, trajectory.states), 1e-6);
}

}  // namespace
}  // namespace snode
