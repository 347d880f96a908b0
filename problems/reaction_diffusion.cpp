#include "problems/reaction_diffusion.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/brusselator.hpp"
#include "models/chunked_pointwise_field.hpp"
#include "models/distributed_grid_field.hpp"
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

// The network over `points` grid points, in chunks of options.chunk_points.
std::unique_ptr<VectorField> PointwiseNetwork(const ReactionDiffusionOptions& options,
                                              Index points) {
  MlpOptions base = NetworkOptions(options);
  base.batch = points;
  if (points <= options.chunk_points) return std::make_unique<MlpField>(base);
  return std::make_unique<ChunkedPointwiseField>(
      [base](Index chunk_points) {
        MlpOptions chunk = base;
        chunk.batch = chunk_points;
        return std::make_unique<MlpField>(chunk);
      },
      points, 2, options.chunk_points);
}

std::unique_ptr<OperatorPlusPointwiseField> MakeNeuralReactionDiffusionField(
    const ReactionDiffusionOptions& options) {
  options.Validate();
  return std::make_unique<OperatorPlusPointwiseField>(Diffusion(options.points, options.diffusion),
                                                      PointwiseNetwork(options, options.points), 2);
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

ProblemSetup MakeDistributedReactionDiffusionProblem(
    const ReactionDiffusionOptions& options,
    std::shared_ptr<const StateDistribution> distribution) {
  options.Validate();
  Require(distribution != nullptr, "reaction_diffusion: the distribution must not be null");
  const Index offset = distribution->local_offset(), n = distribution->local_size();
  ProblemSetup setup;
  setup.name = "reaction_diffusion";
  setup.stiffness = static_cast<double>(options.points);
  // DistributedGridField checks that the distribution splits this grid by whole points.
  setup.ode.field = std::make_shared<DistributedGridField>(
      distribution, options.points, std::vector<double>{options.diffusion, options.diffusion},
      PointwiseNetwork(options, n / 2));
  setup.ode.theta = ReactionDiffusionInitialWeights(options);
  setup.ode.z0 = ReactionDiffusionInitialState(options.points).segment(offset, n);
  setup.ode.output_times = ReactionDiffusionTimes(options);
  setup.ode.distribution = distribution;
  std::vector<Vector> local_data;
  for (const Vector& state : BrusselatorData(options))
    local_data.push_back(state.segment(offset, n));
  // The mean over the whole grid: 1 / (observations · 2N) on every rank.
  const double scale = 1.0 / (static_cast<double>(local_data.size()) *
                              static_cast<double>(distribution->global_size()));
  setup.loss = std::make_shared<RankSummedLoss>(
      std::make_shared<MseLoss>(std::move(local_data), scale), distribution);
  return setup;
}

}  // namespace snode::problems
