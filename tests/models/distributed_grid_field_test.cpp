// DistributedGridField and HaloDiffusion1D on one rank (an in-process StateDistribution with
// P = 1): what they compute equals the serial OperatorPlusPointwiseField of the same problem, and
// they refuse to run outside a solver that binds the distribution. The multi-rank runs are in
// tests/distributed/distributed_state_test.cpp (under mpirun).
#include "models/distributed_grid_field.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>

#include "core/errors.hpp"
#include "problems/reaction_diffusion.hpp"
#include "tests/models/one_rank_distribution.hpp"

namespace snode {
namespace {

Vector Random(Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = uniform(rng);
  return v;
}

double RelativeDifference(const Vector& a, const Vector& b) {
  return (a - b).norm() / std::max(b.norm(), 1e-300);
}

problems::ReactionDiffusionOptions Options(Index points) {
  problems::ReactionDiffusionOptions options;
  options.points = points;
  options.chunk_points = 8;  // several chunks: the distributed network chunks on its own
  return options;
}

TEST(HaloDiffusion1D, OneRankEqualsPeriodicDiffusion) {
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(2 * 37);
  const HaloDiffusion1D halo(distribution, 37, {1e-3, 2e-3});
  const PeriodicDiffusion1D serial(37, {1e-3, 2e-3});
  const Vector x = Random(74, 1);
  Vector a(74), b(74);
  halo.Apply(x, a);
  serial.Apply(x, b);
  EXPECT_EQ(a, b);  // the same expression, term for term
  halo.ApplyTranspose(x, a);
  EXPECT_EQ(a, b);
  Vector da(74), db(74);
  halo.Diagonal(da);
  serial.Diagonal(db);
  EXPECT_EQ(da, db);
}

TEST(HaloDiffusion1D, RefusesASplitThroughAPoint) {
  // 75 values of a grid of 2 species: the part does not hold whole points.
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(75);
  EXPECT_THROW(HaloDiffusion1D(distribution, 37, {1e-3, 1e-3}), ConfigError);
}

TEST(DistributedGridField, EvaluationsNeedASolverThatBindsTheDistribution) {
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(2 * 20);
  const problems::ProblemSetup setup =
      problems::MakeDistributedReactionDiffusionProblem(Options(20), distribution);
  Vector out(40);
  try {
    setup.ode.field->F(0.0, setup.ode.z0, setup.ode.theta, out);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not support distributed states"), std::string::npos)
        << e.what();
  }
  const DistributedSolveScope scope(distribution.get());
  EXPECT_NO_THROW(setup.ode.field->F(0.0, setup.ode.z0, setup.ode.theta, out));
}

TEST(DistributedGridField, OneRankEqualsTheSerialField) {
  const Index points = 20, n = 2 * points;
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(n);
  const problems::ProblemSetup setup =
      problems::MakeDistributedReactionDiffusionProblem(Options(points), distribution);
  VectorField& field = *setup.ode.field;
  auto serial = problems::MakeNeuralReactionDiffusionField(Options(points));
  const DistributedSolveScope scope(distribution.get());
  const Vector z = setup.ode.z0 + 0.1 * Random(n, 2), v = Random(n, 3), a = Random(n, 4);
  const Vector& theta = setup.ode.theta;
  const Index p = theta.size();
  Vector x(n), y(n);
  field.F(0.3, z, theta, x);
  serial->F(0.3, z, theta, y);
  EXPECT_LE(RelativeDifference(x, y), 1e-15);
  field.Jvp(0.3, z, theta, v, x);
  serial->Jvp(0.3, z, theta, v, y);
  EXPECT_LE(RelativeDifference(x, y), 1e-15);
  field.VjpState(0.3, z, theta, a, x);
  serial->VjpState(0.3, z, theta, a, y);
  EXPECT_LE(RelativeDifference(x, y), 1e-15);
  Vector g1 = Vector::Ones(p), g2 = Vector::Ones(p);  // VjpParams accumulates
  field.VjpParams(0.3, z, theta, a, g1);
  serial->VjpParams(0.3, z, theta, a, g2);
  EXPECT_LE(RelativeDifference(g1, g2), 1e-14);
  field.Vjp(0.3, z, theta, a, x, g1);
  serial->Vjp(0.3, z, theta, a, y, g2);
  EXPECT_LE(RelativeDifference(x, y), 1e-15);
  EXPECT_LE(RelativeDifference(g1, g2), 1e-14);
}

TEST(DistributedGridField, PreconditionerIsTheSerialExactOne) {
  const Index points = 20, n = 2 * points;
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(n);
  const problems::ProblemSetup setup =
      problems::MakeDistributedReactionDiffusionProblem(Options(points), distribution);
  auto serial = problems::MakeNeuralReactionDiffusionField(Options(points));
  const DistributedSolveScope scope(distribution.get());
  const Vector r = Random(n, 5);
  for (const PreconditionerSide side :
       {PreconditionerSide::kForward, PreconditionerSide::kTransposed}) {
    auto mine = setup.ode.field->MakePreconditioner(side);
    auto theirs = serial->MakePreconditioner(side);
    ASSERT_TRUE(mine && theirs);
    mine->Setup(0.2, setup.ode.z0, setup.ode.theta, 0.05);
    theirs->Setup(0.2, setup.ode.z0, setup.ode.theta, 0.05);
    Vector x(n), y(n);
    mine->Solve(r, x);
    theirs->Solve(r, y);
    EXPECT_LE(RelativeDifference(x, y), 1e-15);
    ASSERT_TRUE(mine->UpdateGamma(0.5));
    ASSERT_TRUE(theirs->UpdateGamma(0.5));
    mine->Solve(r, x);
    theirs->Solve(r, y);
    EXPECT_LE(RelativeDifference(x, y), 1e-15);
  }
}

TEST(DistributedGridField, CloneComputesTheSame) {
  const auto distribution = std::make_shared<test_util::OneRankDistribution>(2 * 12);
  const problems::ProblemSetup setup =
      problems::MakeDistributedReactionDiffusionProblem(Options(12), distribution);
  const auto clone = setup.ode.field->Clone();
  const DistributedSolveScope scope(distribution.get());
  Vector x(24), y(24);
  setup.ode.field->F(0.0, setup.ode.z0, setup.ode.theta, x);
  clone->F(0.0, setup.ode.z0, setup.ode.theta, y);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace snode
