// CentralDifferenceGradient and EvaluateLoss against closed forms on DecayField.
#include "adjoint/finite_difference.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"

namespace snode {
namespace {

#define REQUIRE_INTEGRATOR(name)                                       \
  do {                                                                 \
    if (!IntegratorRegistry().Contains(name))                          \
      GTEST_SKIP() << "integrator '" << name << "' is not registered"; \
  } while (0)

OdeProblem DecayProblem(double lambda, double y0 = 1.0) {
  OdeProblem problem = problems::DecayOde(lambda);
  problem.z0(0) = y0;
  return problem;
}

GradientOptions Options(const std::string& integrator, double rtol, double atol,
                        double fixed_step = 0.0) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.fixed_step = fixed_step;
  return options;
}

// ℓ_i = φ_0·sum(z(t_i)) + φ_1: a loss with read-out parameters φ, dℓ/dφ = (sum z, 1).
class ScaledSumLoss final : public Loss {
 public:
  explicit ScaledSumLoss(Vector phi) : phi_(std::move(phi)) {}
  double Term(std::size_t /*i*/, double /*t*/, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override {
    dl_dz.setConstant(phi_[0]);
    readout_grad[0] += z.sum();
    readout_grad[1] += 1.0;
    return phi_[0] * z.sum() + phi_[1];
  }
  Index num_readout_params() const override { return 2; }

 private:
  Vector phi_;
};

TEST(FiniteDifference, DecayClosedFormThroughAdaptiveIntegrator) {
  REQUIRE_INTEGRATOR("dopri5");
  // y' = −λy, L = y(1): dL/dλ = −y0 e^{−λ}, dL/dy0 = e^{−λ}. Differences of an adaptive solve
  // carry noise ≈ rtol·L/h_fd (the controller's choices move with θ): at rtol 1e-10 it reached
  // 5.5e-6 relative on dL/dy0 at λ = 10, so the reference runs two decades tighter.
  for (double lambda : {1.0, 10.0}) {
    SCOPED_TRACE("lambda = " + std::to_string(lambda));
    const LossAndGradient fd =
        CentralDifferenceGradient(DecayProblem(lambda), LinearFunctionalLoss({Vector::Ones(1)}),
                                  Options("dopri5", 1e-12, 1e-14));
    const double e = std::exp(-lambda);
    EXPECT_NEAR(fd.loss, e, 1e-8 * e);
    EXPECT_NEAR(fd.dtheta[0], -e, 1e-6 * e);
    EXPECT_NEAR(fd.dz0[0], e, 1e-6 * e);
    EXPECT_EQ(fd.dreadout.size(), 0);
    EXPECT_GT(fd.stats.forward_rhs_evals, 0);
  }
}

TEST(FiniteDifference, DiscreteMapOfFixedStepEuler) {
  REQUIRE_INTEGRATOR("euler");
  // Explicit Euler with step h on y' = −λy multiplies by R = 1 − λh per step, so L = y0 R^N
  // (N = 1/h), dL/dλ = −y0 N h R^{N−1}, dL/dy0 = R^N: the derivative of the discrete map, which
  // the differences must reproduce far below the method's own error (≈ 4% here).
  const double lambda = 3.0, h = 0.05, y0 = 1.7;
  const int steps = 20;
  const double r = 1.0 - lambda * h;
  const double exact_loss = y0 * std::pow(r, steps);
  const double exact_dlambda = -y0 * steps * h * std::pow(r, steps - 1);
  const LossAndGradient fd =
      CentralDifferenceGradient(DecayProblem(lambda, y0), LinearFunctionalLoss({Vector::Ones(1)}),
                                Options("euler", 1e-10, 1e-12, h));
  EXPECT_NEAR(fd.loss, exact_loss, 1e-13 * exact_loss);
  EXPECT_NEAR(fd.dtheta[0], exact_dlambda, 1e-8 * std::abs(exact_dlambda));
  EXPECT_NEAR(fd.dz0[0], std::pow(r, steps), 1e-8 * std::pow(r, steps));
}

TEST(FiniteDifference, ReadoutGradientIsExact) {
  REQUIRE_INTEGRATOR("dopri5");
  OdeProblem problem = DecayProblem(2.0);
  problem.output_times = {0.5, 1.0};
  Vector phi(2);
  phi << 3.0, -1.0;
  const ScaledSumLoss loss(phi);
  const LossAndGradient fd =
      CentralDifferenceGradient(problem, loss, Options("dopri5", 1e-10, 1e-12));
  const double y1 = std::exp(-1.0), y2 = std::exp(-2.0);
  ASSERT_EQ(fd.dreadout.size(), 2);
  EXPECT_NEAR(fd.dreadout[0], y1 + y2, 1e-9);
  EXPECT_EQ(fd.dreadout[1], 2.0);
  EXPECT_NEAR(fd.loss, 3.0 * (y1 + y2) - 2.0, 1e-9);
  EXPECT_NEAR(fd.dz0[0], 3.0 * (y1 + y2), 1e-6 * 3.0 * (y1 + y2));
}

TEST(FiniteDifference, RejectsUnknownIntegrator) {
  EXPECT_THROW(CentralDifferenceGradient(DecayProblem(1.0), LinearFunctionalLoss({Vector::Ones(1)}),
                                         Options("no_such_integrator", 1e-6, 1e-8)),
               ConfigError);
}

TEST(EvaluateLoss, RunningCostIsIntegratedToSolverTolerance) {
  REQUIRE_INTEGRATOR("dopri5");
  // L = ∫_0^1 2y dt + 0.5·y(1) = 2(1 − e^{−λ})/λ + 0.5 e^{−λ}.
  const double lambda = 4.0;
  const LinearFunctionalLoss loss({Vector::Constant(1, 0.5)}, Vector::Constant(1, 2.0));
  IntegratorOptions options;
  options.rtol = 1e-11;
  options.atol = 1e-13;
  auto integrator = IntegratorRegistry().Create("dopri5", options);
  Trajectory trajectory;
  const double value = EvaluateLoss(DecayProblem(lambda), loss, *integrator, nullptr, &trajectory);
  const double e = std::exp(-lambda);
  EXPECT_NEAR(value, 2.0 * (1.0 - e) / lambda + 0.5 * e, 1e-10);
  // The caller's trajectory has the problem's own state size (the quadrature is dropped).
  ASSERT_EQ(trajectory.states.size(), 1u);
  EXPECT_EQ(trajectory.states[0].size(), 1);
  EXPECT_NEAR(trajectory.states[0][0], e, 1e-10);
}

TEST(EvaluateLoss, SumsTermsAtEveryOutputTime) {
  REQUIRE_INTEGRATOR("dopri5");
  OdeProblem problem = DecayProblem(1.0);
  problem.output_times = {0.0, 0.5, 1.0};  // an output at t0 is allowed
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(1), 3);
  IntegratorOptions options;
  options.rtol = 1e-11;
  options.atol = 1e-13;
  auto integrator = IntegratorRegistry().Create("dopri5", options);
  Vector readout;
  const double value = EvaluateLoss(problem, loss, *integrator, &readout);
  EXPECT_NEAR(value, 1.0 + std::exp(-0.5) + std::exp(-1.0), 1e-10);
  EXPECT_EQ(readout.size(), 0);
}

}  // namespace
}  // namespace snode
