// Tests of models/chunked_pointwise_field.hpp: a batched MLP evaluated in chunks (with a shorter
// last chunk) gives the products of the one-batch MLP.
#include "models/chunked_pointwise_field.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/errors.hpp"
#include "models/mlp.hpp"

namespace snode {
namespace {

constexpr Index kPoints = 23;  // chunks of 5: four full chunks and one of 3 points

MlpOptions Network(Index batch) {
  MlpOptions mlp;
  mlp.widths = {2, 8, 8, 2};
  mlp.activations = {"tanh", "tanh", "identity"};
  mlp.batch = batch;
  return mlp;
}

ChunkedPointwiseField Chunked(Index chunk_points) {
  return ChunkedPointwiseField(
      [](Index points) { return std::make_unique<MlpField>(Network(points)); }, kPoints, 2,
      chunk_points);
}

Vector Random(Index n, unsigned seed) {
  std::srand(seed);
  return Vector::Random(n);
}

// Sums of products over the points differ from the one-batch field only by summation order.
constexpr double kTol = 1e-13;

TEST(ChunkedPointwiseField, ProductsEqualTheOneBatchField) {
  MlpField whole(Network(kPoints));
  ChunkedPointwiseField chunked = Chunked(5);
  ASSERT_EQ(chunked.chunks(), 5);
  ASSERT_EQ(chunked.state_size(), whole.state_size());
  ASSERT_EQ(chunked.num_params(), whole.num_params());
  ASSERT_EQ(chunked.ForwardSaveSize(), whole.ForwardSaveSize());
  const Index n = whole.state_size();
  const Vector theta = whole.InitialParams(3);
  const Vector z = Random(n, 1), v = Random(n, 2), a = Random(n, 4);
  Vector expected(n), got(n);
  whole.F(0.0, z, theta, expected);
  chunked.F(0.0, z, theta, got);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), kTol);
  whole.Jvp(0.0, z, theta, v, expected);
  chunked.Jvp(0.0, z, theta, v, got);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), kTol);
  whole.VjpState(0.0, z, theta, a, expected);
  chunked.VjpState(0.0, z, theta, a, got);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), kTol);
  Vector grad_expected = Vector::Zero(theta.size()), grad_got = Vector::Zero(theta.size());
  whole.VjpParams(0.0, z, theta, a, grad_expected);
  chunked.VjpParams(0.0, z, theta, a, grad_got);
  EXPECT_LE((grad_got - grad_expected).cwiseAbs().maxCoeff(), kTol * grad_expected.norm());

  // Saved forward passes, chunk by chunk.
  std::vector<double> saved(static_cast<std::size_t>(chunked.ForwardSaveSize()));
  chunked.FSaving(0.0, z, theta, got, saved.data());
  whole.F(0.0, z, theta, expected);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), kTol);
  Vector state(n);
  grad_got.setZero();
  chunked.VjpSaved(0.0, z, theta, saved.data(), a, state, grad_got);
  whole.VjpState(0.0, z, theta, a, expected);
  EXPECT_LE((state - expected).cwiseAbs().maxCoeff(), kTol);
  EXPECT_LE((grad_got - grad_expected).cwiseAbs().maxCoeff(), kTol * grad_expected.norm());

  // Jacobian blocks, chunk by chunk.
  std::vector<double> blocks_expected(static_cast<std::size_t>(2 * n)), blocks_got(blocks_expected);
  whole.JacobianBlocks(0.0, z, theta, 2, blocks_expected.data());
  chunked.JacobianBlocks(0.0, z, theta, 2, blocks_got.data());
  for (std::size_t k = 0; k < blocks_got.size(); ++k) {
    EXPECT_NEAR(blocks_got[k], blocks_expected[k], kTol) << k;
  }

  // Quadrature nodes: columns of z and a.
  Matrix zs(n, 3), as(n, 3);
  for (Index k = 0; k < 3; ++k) {
    zs.col(k) = Random(n, 10 + k);
    as.col(k) = Random(n, 20 + k);
  }
  const double times[3] = {0.1, 0.2, 0.3};
  grad_expected.setZero();
  grad_got.setZero();
  whole.VjpParamsSum(times, zs, theta, as, grad_expected);
  chunked.VjpParamsSum(times, zs, theta, as, grad_got);
  EXPECT_LE((grad_got - grad_expected).cwiseAbs().maxCoeff(), kTol * grad_expected.norm());
}

TEST(ChunkedPointwiseField, OneChunkWhenTheGridIsSmallAndClonesAreIndependent) {
  EXPECT_EQ(Chunked(100).chunks(), 1);
  ChunkedPointwiseField chunked = Chunked(5);
  const std::unique_ptr<VectorField> copy = chunked.Clone();
  MlpField whole(Network(kPoints));
  const Vector theta = whole.InitialParams(1), z = Random(whole.state_size(), 5);
  Vector a(z.size()), b(z.size());
  chunked.F(0.0, z, theta, a);
  copy->F(0.0, z, theta, b);
  EXPECT_EQ(a, b);
}

// With a sink, every θ-product goes to it chunk by chunk (one call per chunk, in order) and grad is
// left alone; the chunks' products add up to the product without a sink.
TEST(ChunkedPointwiseField, ASinkGetsEachChunksParameterProduct) {
  ChunkedPointwiseField chunked = Chunked(5);
  const Index n = chunked.state_size(), p = chunked.num_params();
  const Vector theta = MlpField(Network(1)).InitialParams(3);
  const Vector z = Random(n, 1), a = Random(n, 4);
  Vector expected = Vector::Zero(p);
  chunked.VjpParams(0.0, z, theta, a, expected);
  std::vector<Vector> received;
  chunked.SetChunkParamsSink([&](ConstVectorRef chunk) { received.emplace_back(chunk); });
  Vector grad = Vector::Constant(p, 7.0), a_state(n);
  const auto expect_chunks = [&](const char* what) {
    ASSERT_EQ(received.size(), 5u) << what;
    Vector sum = Vector::Zero(p);
    for (const Vector& chunk : received) sum += chunk;
    EXPECT_LE((sum - expected).cwiseAbs().maxCoeff(), kTol) << what;
    EXPECT_EQ(grad, Vector::Constant(p, 7.0)) << what;
    received.clear();
  };
  chunked.VjpParams(0.0, z, theta, a, grad);
  expect_chunks("VjpParams");
  chunked.Vjp(0.0, z, theta, a, a_state, grad);
  expect_chunks("Vjp");
  std::vector<double> saved(static_cast<std::size_t>(chunked.ForwardSaveSize()));
  Vector f(n);
  chunked.FSaving(0.0, z, theta, f, saved.data());
  chunked.VjpSaved(0.0, z, theta, saved.data(), a, a_state, grad);
  expect_chunks("VjpSaved");
  chunked.VjpSaved(0.0, z, theta, saved.data(), a, a_state, grad.head(0));
  EXPECT_TRUE(received.empty());  // the state product alone has no θ part
}

TEST(ChunkedPointwiseField, BadArgumentsAreConfigErrors) {
  auto make = [](Index points) { return std::make_unique<MlpField>(Network(points)); };
  EXPECT_THROW(ChunkedPointwiseField(make, 0, 2, 4), ConfigError);
  EXPECT_THROW(ChunkedPointwiseField(make, 10, 2, 0), ConfigError);
  EXPECT_THROW(ChunkedPointwiseField(make, 10, 3, 4), ConfigError);  // state size 2 per point
  EXPECT_THROW(ChunkedPointwiseField(nullptr, 10, 2, 4), ConfigError);
  ChunkedPointwiseField chunked = Chunked(5);
  Vector out(3);
  EXPECT_THROW(chunked.F(0.0, Vector::Zero(46), Vector::Zero(chunked.num_params()), out),
               ConfigError);
}

}  // namespace
}  // namespace snode
