// problems/stiff_neural: the data are the two-rate decay's exact trajectories (so a field that
// is the true linear system has zero loss), the batch layout, and seeding.
#include "problems/stiff_neural.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "adjoint/gradient_method.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"

namespace snode::problems {
namespace {

TEST(StiffNeuralProblem, Layout) {
  const ProblemSetup setup = MakeStiffNeural(1e3, 0);
  EXPECT_EQ(setup.name, "stiff_neural");
  EXPECT_EQ(setup.stiffness, 1e3);
  EXPECT_EQ(setup.ode.z0.size(), 8);  // 2 states × 4 trajectories
  EXPECT_EQ(setup.ode.output_times.size(), 9u);
  EXPECT_EQ(setup.ode.theta.size(), setup.ode.field->num_params());
  EXPECT_EQ(setup.ode.theta.size(), 2 * 16 + 16 + 16 * 2 + 2);
  EXPECT_FALSE(setup.exact_gradient.has_value());
}

TEST(StiffNeuralProblem, SeedDecidesTheInitialParameters) {
  EXPECT_EQ(MakeStiffNeural(10.0, 3).ode.theta, MakeStiffNeural(10.0, 3).ode.theta);
  EXPECT_NE(MakeStiffNeural(10.0, 3).ode.theta, MakeStiffNeural(10.0, 4).ode.theta);
}

TEST(StiffNeuralProblem, TrueSystemHasZeroLoss) {
  // The targets are z(t) of z' = diag(−1, −λ) z from each start: solving that system (as a
  // decay field on the 8 batched states) reproduces them to the solver's tolerance.
  const double lambda = 10.0;
  ProblemSetup setup = MakeStiffNeural(lambda, 0);
  OdeProblem truth = setup.ode;
  truth.field = std::make_shared<DecayField>(8);
  truth.theta.resize(8);
  for (int k = 0; k < 4; ++k) truth.theta.segment(2 * k, 2) << 1.0, lambda;
  IntegratorOptions tight;
  tight.rtol = 1e-12;
  tight.atol = 1e-14;
  auto integrator = IntegratorRegistry().Create("dopri5", tight);
  EXPECT_LT(EvaluateLoss(truth, *setup.loss, *integrator), 1e-18);
  EXPECT_GT(EvaluateLoss(setup.ode, *setup.loss, *integrator), 1e-6);  // the untrained MLP
}

}  // namespace
}  // namespace snode::problems
