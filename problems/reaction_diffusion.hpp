#pragma once
// A neural reaction–diffusion problem: the periodic 1-D Brusselator learned by a pointwise MLP.
//
// Grid: x in [0, 1) periodic, N points x_i = i/N, dx = 1/N; the state is interleaved,
// z = (u_1, v_1, …, u_N, v_N) (length 2N). The model (MakeNeuralReactionDiffusionField):
//   u_i' = D (u_{i+1} − 2u_i + u_{i−1})/dx² + g_1(u_i, v_i; θ),
//   v_i' = D (v_{i+1} − 2v_i + v_{i−1})/dx² + g_2(u_i, v_i; θ),
// g an MLP 2-h-h-2 (tanh, tanh, identity; 354 parameters for h = 16), the same network at every
// point (an MlpField with batch N), plus the diffusion operator PeriodicDiffusion1D, as an
// OperatorPlusPointwiseField: its preconditioner solves I − γJ exactly in O(N). The stiffness
// comes from the diffusion: |λ|max ≈ 4D/dx² = 4D·N².
// The data (BrusselatorData): the same grid with the Brusselator reaction
// g*(u, v) = (1 + u²v − 4u, 3u − u²v) instead of the network, from u(0) = 1 + 0.5 sin(2πx),
// v(0) = 3, solved by the "cvodes_bdf" integrator with GMRES at data_rtol/data_atol, observed at
// t_k = k·observation_spacing, k = 1…observations (T = 2 by default). Loss: the mean squared error
// over all observation times, points and both species (MseLoss, mean).
// Nothing is cached: every call solves again.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/state_distribution.hpp"
#include "core/types.hpp"
#include "models/operator_field.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

struct ReactionDiffusionOptions {
  Index points = 100;       // N ≥ 3
  double diffusion = 1e-3;  // D ≥ 0, both species
  Index hidden = 16;        // the MLP's hidden width h
  std::uint64_t seed = 0;   // the MLP's initial weights
  int observations = 20;
  double observation_spacing = 0.1;
  double data_rtol = 1e-10;
  double data_atol = 1e-12;
  // The network runs over the grid in chunks of this many points
  // (models/chunked_pointwise_field.hpp: each chunk's layers stay in cache); one batch when points
  // ≤ chunk_points.
  Index chunk_points = 1024;
  // ConfigError naming the offending field.
  void Validate() const;
};

// Interleaved (u_i, v_i) = (1 + 0.5 sin(2π i/N), 3), i = 0…N−1. ConfigError for points < 3.
Vector ReactionDiffusionInitialState(Index points);
// D·Laplacian + the Brusselator reaction, θ = (A, B) (BrusselatorField::ClassicParams() = (1, 3)).
std::unique_ptr<OperatorPlusPointwiseField> MakeBrusselatorDiffusionField(Index points,
                                                                          double diffusion);
// D·Laplacian + the MLP 2-h-h-2 (tanh, tanh, identity) with batch = points.
std::unique_ptr<OperatorPlusPointwiseField> MakeNeuralReactionDiffusionField(
    const ReactionDiffusionOptions& options);
// The MLP's PyTorch-default initial weights, U(±1/√fan_in), from options.seed
// (MlpField::InitialParams, which takes the seed as unsigned, like the other problems).
Vector ReactionDiffusionInitialWeights(const ReactionDiffusionOptions& options);
// The observation times k·observation_spacing, k = 1…observations.
std::vector<double> ReactionDiffusionTimes(const ReactionDiffusionOptions& options);
// The Brusselator states at the observation times (a fresh solve on every call).
std::vector<Vector> BrusselatorData(const ReactionDiffusionOptions& options);
// name "reaction_diffusion", stiffness = N; the neural field, its initial weights, z0, the
// observation times and the mean squared error to BrusselatorData(options).
ProblemSetup MakeReactionDiffusionProblem(const ReactionDiffusionOptions& options);
// The same problem with the grid split over ranks (core/state_distribution.hpp; the distribution
// covers options.points points of 2 values): this rank's part of the field
// (DistributedGridField), of z0 and of the data, the loss a RankSummedLoss of the mean squared
// error with the whole grid's scale, ode.distribution set. Every rank computes the Brusselator data
// of the whole grid (BrusselatorData) and keeps its part. Only cvodes_adjoint solves it.
ProblemSetup MakeDistributedReactionDiffusionProblem(
    const ReactionDiffusionOptions& options, std::shared_ptr<const StateDistribution> distribution);

}  // namespace snode::problems
