#include "problems/reaction_diffusion.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/brusselator.hpp"
#include "models/chunked_pointwise_field.hpp"
#include "models/mlp.hpp"

namespace snode::problems {

namespace {

constexpr double kPi = 3.14159265358979323846;

MlpOptions NetworkOptions(const ReactionDiffusionOptions& options) {
  MlpOptions mlp;
  mlp.widths = {2, options.hidden, options.hidden, 2};
  mlp.activations = {"tanh", "tanh", "identity"};
  mlp.batch = options.points;
  return mlp;
}

std::unique_ptr<LinearOperator> Diffusion(Index points, double diffusion) {
  return std::make_unique<PeriodicDiffusion1D>(points, std::vector<double>{diffusion, diffusion});
}

}  // namespace

void ReactionDiffusionOptions::Validate() const {
  Require(points >= 3,
          "reaction_diffusion: points (N) must be at least 3, got " + std::to_string(points));
  Require(std::isfinite(diffusion) && diffusion >= 0.0,
          "reaction_diffusion: diffusion must be finite and ≥ 0");
  Require(hidden >= 1, "reaction_diffusion: hidden must be at least 1");
  Require(chunk_points >= 1, "reaction_diffusion: chunk_points must be at least 1");
  Require(observations >= 1, "reaction_diffusion: observations must be at least 1");
  Require(std::isfinite(observation_spacing) && observation_spacing > 0.0,
          "reaction_diffusion: observation_spacing must be positive and finite");
  Require(
      std::isfinite(data_rtol) && data_rtol > 0.0 && std::isfinite(data_atol) && data_atol > 0.0,
      "reaction_diffusion: data_rtol and data_atol must be positive and finite");
}

Vector ReactionDiffusionInitialState(Index points) {
  Require(points >= 3,
          "reaction_diffusion: points (N) must be at least 3, got " + std::to_string(points));
  Vector z0(2 * points);
  for (Index i = 0; i < points; ++i) {
    const double x = static_cast<double>(i) / static_cast<double>(points);
    z0[2 * i] = 1.0 + 0.5 * std::sin(2.0 * kPi * x);
    z0[2 * i + 1] = 3.0;
  }
  return z0;
}

std::unique_ptr<OperatorPlusPointwiseField> MakeBrusselatorDiffusionField(Index points,
                                                                          double diffusion) {
  return std::make_unique<OperatorPlusPointwiseField>(
      Diffusion(points, diffusion), std::make_unique<BrusselatorField>(points), 2);
}

std::unique_ptr<OperatorPlusPointwiseField> MakeNeuralReactionDiffusionField(
    const ReactionDiffusionOptions& options) {
  options.Validate();
  std::unique_ptr<VectorField> network;
  if (options.points <= options.chunk_points) {
    network = std::make_unique<MlpField>(NetworkOptions(options));
  } else {
    const MlpOptions base = NetworkOptions(options);
    network = std::make_unique<ChunkedPointwiseField>(
        [base](Index points) {
          MlpOptions chunk = base;
          chunk.batch = points;
          return std::make_unique<MlpField>(chunk);
        },
        options.points, 2, options.chunk_points);
  }
  return std::make_unique<OperatorPlusPointwiseField>(Diffusion(options.points, options.diffusion),
                                                      std::move(network), 2);
}

Vector ReactionDiffusionInitialWeights(const ReactionDiffusionOptions& options) {
  options.Validate();
  MlpOptions mlp = NetworkOptions(options);
  mlp.batch = 1;  // the weights do not depend on the batch
  return MlpField(mlp).InitialParams(static_cast<unsigned>(options.seed));
}

std::vector<double> ReactionDiffusionTimes(const ReactionDiffusionOptions& options) {
  options.Validate();
  std::vector<double> times;
  for (int k = 1; k <= options.observations; ++k) {
    times.push_back(static_cast<double>(k) * options.observation_spacing);
  }
  return times;
}

std::vector<Vector> BrusselatorData(const ReactionDiffusionOptions& options) {
  options.Validate();
  OdeProblem problem;
  problem.field = MakeBrusselatorDiffusionField(options.points, options.diffusion);
  problem.theta = BrusselatorField::ClassicParams();
  problem.z0 = ReactionDiffusionInitialState(options.points);
  problem.output_times = ReactionDiffusionTimes(options);
  IntegratorOptions solver;
  solver.rtol = options.data_rtol;
  solver.atol = options.data_atol;
  solver.linear_solver = "gmres";
  return IntegratorRegistry().Create("cvodes_bdf", solver)->Solve(problem).states;
}

ProblemSetup MakeReactionDiffusionProblem(const ReactionDiffusionOptions& options) {
  options.Validate();
  ProblemSetup setup;
  setup.name = "reaction_diffusion";
  setup.stiffness = static_cast<double>(options.points);
  setup.ode.field = MakeNeuralReactionDiffusionField(options);
  setup.ode.theta = ReactionDiffusionInitialWeights(options);
  setup.ode.z0 = ReactionDiffusionInitialState(options.points);
  setup.ode.output_times = ReactionDiffusionTimes(options);
  setup.loss = std::make_shared<MseLoss>(BrusselatorData(options));
  return setup;
}

}  // namespace snode::problems
