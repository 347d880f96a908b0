// Tests of QuadratureBatch (adjoint/quadrature_batch.hpp): the points of a parameter quadrature
// collected in batches of kCapacity give the sum of one VjpParams call per point, through the
// batched path of MlpField and the default per-point path of another field.
#include "adjoint/quadrature_batch.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

std::vector<std::unique_ptr<VectorField>> Fields() {
  std::vector<std::unique_ptr<VectorField>> fields;
  MlpOptions mlp;
  mlp.widths = {2, 16, 16, 2};
  mlp.activations = {"tanh"};
  fields.push_back(std::make_unique<MlpField>(mlp));
  fields.push_back(std::make_unique<LotkaVolterraField>());
  return fields;
}

TEST(QuadratureBatch, BatchesGiveTheSumOfThePointProducts) {
  for (const auto& field : Fields()) {
    const Vector theta = Vector::LinSpaced(field->num_params(), 0.2, 1.1);
    const int points = 2 * QuadratureBatch::kCapacity + 6;  // two full batches and a rest
    Vector expected = Vector::Constant(field->num_params(), 1.0);
    Vector actual = expected;
    QuadratureBatch batch;
    batch.Reset(2);
    for (int k = 0; k < points; ++k) {
      const double t = 0.01 * k;
      const Vector z{{1.0 + 0.1 * k, 0.5 - 0.02 * k}};
      const Vector a{{0.3 * k, -1.0}};
      field->VjpParams(t, z, theta, a, expected);
      batch.NextState() = z;
      batch.NextAdjoint() = a;
      batch.Commit(t, *field, theta, actual);
    }
    EXPECT_EQ(batch.pending(), 6) << field->name();
    batch.Flush(*field, theta, actual);
    EXPECT_EQ(batch.pending(), 0) << field->name();
    EXPECT_LT(::test_util::MaxRelativeError(actual, expected), 1e-13) << field->name();
    // Reset drops pending points without adding them.
    batch.NextState().setOnes();
    batch.NextAdjoint().setOnes();
    batch.Commit(0.0, *field, theta, actual);
    batch.Reset(2);
    const Vector before = actual;
    batch.Flush(*field, theta, actual);
    EXPECT_EQ(actual, before) << field->name();
  }
}

// A long state takes fewer points per batch (at most kMaxBatchDoubles per matrix), at least one.
TEST(QuadratureBatch, LongStatesTakeFewerPointsPerBatch) {
  QuadratureBatch batch;
  batch.Reset(2);
  EXPECT_EQ(batch.capacity(), QuadratureBatch::kCapacity);
  batch.Reset(2000);
  EXPECT_EQ(batch.capacity(), 16);
  batch.Reset(20000);
  EXPECT_EQ(batch.capacity(), 1);
  batch.Reset(200000);
  EXPECT_EQ(batch.capacity(), 1);
}

}  // namespace
}  // namespace snode
