// problems/reaction_diffusion: shapes (354 parameters, state 2N, 20 output times at 0.1·k), the
// initial state, the seeded weights (reproducible, within ±1/√fan_in), the Brusselator data
// against an independent dense-Newton cvodes_bdf solve at rtol 1e-12 (agreement 1e-8 relative),
// the loss (the mean over times, points and species), the cvodes_adjoint gradient (dense and
// GMRES) against central differences, bad options, and the registry entry (run once at N = 32).
#include "problems/reaction_diffusion.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/brusselator.hpp"
#include "models/mlp.hpp"
#include "problems/problem_registry.hpp"
#include "problems/reference.hpp"

namespace snode::problems {
namespace {

ReactionDiffusionOptions Small(Index points) {
  ReactionDiffusionOptions options;
  options.points = points;
  return options;
}

TEST(ReactionDiffusion, ShapesAndInitialState) {
  const ProblemSetup setup = MakeReactionDiffusionProblem(Small(8));
  EXPECT_EQ(setup.name, "reaction_diffusion");
  EXPECT_EQ(setup.stiffness, 8.0);
  EXPECT_EQ(setup.ode.field->num_params(), 354);
  EXPECT_EQ(setup.ode.theta.size(), 354);
  EXPECT_EQ(setup.ode.field->state_size(), 16);
  EXPECT_EQ(setup.ode.field->JacobianHalfBandwidth(), 2);
  ASSERT_EQ(setup.ode.output_times.size(), 20u);
  for (std::size_t k = 0; k < 20; ++k) {
    EXPECT_NEAR(setup.ode.output_times[k], 0.1 * static_cast<double>(k + 1), 1e-15);
  }
  EXPECT_EQ(setup.ode.t0, 0.0);
  ASSERT_EQ(setup.ode.z0.size(), 16);
  for (Index i = 0; i < 8; ++i) {
    EXPECT_NEAR(setup.ode.z0[2 * i], 1.0 + 0.5 * std::sin(2.0 * M_PI * i / 8.0), 1e-15);
    EXPECT_EQ(setup.ode.z0[2 * i + 1], 3.0);
  }
  EXPECT_NEAR(setup.ode.z0[4], 1.5, 1e-15);  // x = 1/4
  EXPECT_NO_THROW(setup.ode.Validate());
}

TEST(ReactionDiffusion, SeededWeightsAreReproducibleAndWithinTheFanInBound) {
  ReactionDiffusionOptions options = Small(5);
  options.seed = 3;
  const Vector first = ReactionDiffusionInitialWeights(options);
  EXPECT_EQ(first, ReactionDiffusionInitialWeights(options));
  options.seed = 4;
  EXPECT_NE(first, ReactionDiffusionInitialWeights(options));
  options.points = 50;  // the weights do not depend on the grid
  options.seed = 3;
  EXPECT_EQ(first, ReactionDiffusionInitialWeights(options));
  const auto field = MakeNeuralReactionDiffusionField(options);
  const auto& mlp = static_cast<const MlpField&>(field->pointwise());
  ASSERT_EQ(mlp.num_layers(), 3);
  EXPECT_EQ(mlp.batch(), 50);
  for (Index l = 0; l < 3; ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(mlp.layer_inputs(l)));
    const Index begin = mlp.weight_offset(l);
    const Index end = mlp.bias_offset(l) + mlp.layer_outputs(l);
    const Vector layer = first.segment(begin, end - begin);
    EXPECT_LE(layer.cwiseAbs().maxCoeff(), bound) << "layer " << l;
    EXPECT_GT(layer.cwiseAbs().maxCoeff(), 0.8 * bound) << "layer " << l;  // spread over ±bound
  }
  EXPECT_EQ(mlp.activation(0), Activation::kTanh);
  EXPECT_EQ(mlp.activation(1), Activation::kTanh);
  EXPECT_EQ(mlp.activation(2), Activation::kIdentity);
}

TEST(ReactionDiffusion, DataAgreeWithAnIndependentTightDenseSolve) {
  if (!IntegratorRegistry().Contains("cvodes_bdf")) GTEST_SKIP() << "no cvodes_bdf";
  ReactionDiffusionOptions options = Small(10);
  options.diffusion = 2e-3;
  const std::vector<Vector> data = BrusselatorData(options);
  ASSERT_EQ(data.size(), 20u);
  OdeProblem problem;
  problem.field = MakeBrusselatorDiffusionField(10, 2e-3);
  problem.theta = BrusselatorField::ClassicParams();
  problem.z0 = ReactionDiffusionInitialState(10);
  for (int k = 1; k <= 20; ++k) problem.output_times.push_back(0.1 * k);
  IntegratorOptions tight;
  tight.rtol = 1e-12;
  tight.atol = 1e-14;
  tight.max_steps = 1000000;
  const Trajectory reference = IntegratorRegistry().Create("cvodes_bdf", tight)->Solve(problem);
  double worst = 0.0;
  for (std::size_t k = 0; k < data.size(); ++k) {
    ASSERT_EQ(data[k].size(), 20);
    worst = std::max(worst, (data[k] - reference.states[k]).cwiseAbs().maxCoeff() /
                                reference.states[k].cwiseAbs().maxCoeff());
  }
  EXPECT_LE(worst, 1e-8);
  // The data move: the reaction is not at rest.
  EXPECT_GT((data.back() - problem.z0).cwiseAbs().maxCoeff(), 0.1);
}

TEST(ReactionDiffusion, LossIsTheMeanSquaredErrorToTheData) {
  ReactionDiffusionOptions options = Small(6);
  const ProblemSetup setup = MakeReactionDiffusionProblem(options);
  const std::vector<Vector> data = BrusselatorData(options);
  Vector dl_dz(12), readout(0);
  // At the data the term vanishes; one unit off in one component of one time: 1/(20·12).
  EXPECT_EQ(setup.loss->Term(0, 0.1, data[0], dl_dz, readout), 0.0);
  Vector off = data[3];
  off[5] += 1.0;
  EXPECT_NEAR(setup.loss->Term(3, 0.4, off, dl_dz, readout), 1.0 / 240.0, 1e-15);
}

// The whole adjoint pipeline on the problem (the field's VJPs, batched parameter products and
// saved forward passes): cvodes_adjoint at rtol 1e-12, with the dense and with the GMRES linear
// solver, against central differences of cvodes_bdf at the same tolerances with the automatic
// step (a Richardson ladder; the fixed step 1e-6 is only good to ~1e-3 here), to 1e-4 in the
// reference agreement measure (max |a − d| / max(|a|, 1e-3‖a‖∞); measured 1.1e-5, the ladder's own
// error estimate), and the two linear solvers to 1e-7 of each other.
TEST(ReactionDiffusion, AdjointGradientAgreesWithCentralDifferences) {
  if (!GradientRegistry().Contains("cvodes_adjoint")) GTEST_SKIP() << "no cvodes_adjoint";
  ReactionDiffusionOptions options = Small(5);
  options.diffusion = 0.02;  // D/dx² = 0.5, comparable with the reaction's rates
  options.observations = 6;
  options.observation_spacing = 0.25;
  const ProblemSetup setup = MakeReactionDiffusionProblem(options);
  ReferenceTolerances tight;
  tight.rtol = 1e-12;
  tight.atol = 1e-14;
  const TightGradient differences = TightCentralDifferences(setup, tight, 0.0);
  ASSERT_EQ(differences.gradient.size(), 354 + 10) << differences.message;
  GradientOptions gradient = TightGradientOptions("cvodes_bdf", tight);
  Vector dense;
  for (const char* solver : {"dense", "gmres"}) {
    gradient.integrator_options.linear_solver = solver;
    const Vector adjoint = GradientRegistry()
                               .Create("cvodes_adjoint", gradient)
                               ->Compute(setup.ode, *setup.loss)
                               .Joined();
    EXPECT_LE(ReferenceAgreement(adjoint, differences.gradient), 1e-4) << solver;
    if (dense.size() == 0) {
      dense = adjoint;
    } else {
      EXPECT_LE(ReferenceAgreement(dense, adjoint), 1e-7) << solver;
    }
  }
}

TEST(ReactionDiffusion, BadOptionsAreConfigErrors) {
  ReactionDiffusionOptions options = Small(2);
  EXPECT_THROW(MakeReactionDiffusionProblem(options), ConfigError);
  options = Small(8);
  options.diffusion = -1.0;
  EXPECT_THROW(MakeNeuralReactionDiffusionField(options), ConfigError);
  options = Small(8);
  options.observations = 0;
  EXPECT_THROW(BrusselatorData(options), ConfigError);
  EXPECT_THROW(ReactionDiffusionInitialState(2), ConfigError);
}

TEST(ReactionDiffusion, IsRegisteredAndRunOnceAtN32) {
  ASSERT_TRUE(ProblemRegistry().Contains("reaction_diffusion"));
  const auto definition = ProblemRegistry().Create("reaction_diffusion", ProblemOptions{5});
  const ProblemCapabilities c = definition->Capabilities();
  EXPECT_FALSE(c.sweeps);
  EXPECT_EQ(c.parameter, "N");
  EXPECT_EQ(c.default_lambdas, std::vector<double>{32.0});
  const ProblemSetup setup = definition->Make(1000.0);  // not swept: λ is ignored
  EXPECT_EQ(setup.ode.z0.size(), 64);
  EXPECT_EQ(setup.ode.theta, ReactionDiffusionInitialWeights([] {
              ReactionDiffusionOptions o;
              o.seed = 5;
              return o;
            }()));
}

}  // namespace
}  // namespace snode::problems
