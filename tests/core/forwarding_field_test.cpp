// ForwardingField passes every call on to the wrapped field: each product of a wrapped MLP (time
// input, batch 2) equals the MLP's own, bit for bit; an override changes only its own method.

#include "core/forwarding_field.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "models/mlp.hpp"

namespace snode {
namespace {

MlpField MakeMlp() {
  MlpOptions options;
  options.widths = {3, 8, 3};
  options.time_input = true;
  options.batch = 2;
  return MlpField(options);
}

Vector Ramp(Index n, double scale) {
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = scale * (0.3 + 0.1 * static_cast<double>(i % 7) - 0.05 * i);
  return v;
}

TEST(ForwardingField, EveryCallEqualsTheWrappedField) {
  MlpField mlp = MakeMlp();
  MlpField reference = MakeMlp();
  ForwardingField wrapper(&mlp);
  const Index n = mlp.state_size(), p = mlp.num_params();
  const Vector theta = mlp.InitialParams(4), z = Ramp(n, 1.0), v = Ramp(n, -0.7);
  const double t = 0.4;
  EXPECT_EQ(wrapper.name(), reference.name());
  EXPECT_EQ(wrapper.state_size(), n);
  EXPECT_EQ(wrapper.num_params(), p);
  EXPECT_EQ(wrapper.HasDenseJacobian(), reference.HasDenseJacobian());
  EXPECT_EQ(wrapper.IsAutonomous(), reference.IsAutonomous());
  EXPECT_EQ(wrapper.ForwardSaveSize(), reference.ForwardSaveSize());

  Vector a(n), b(n);
  wrapper.F(t, z, theta, a);
  reference.F(t, z, theta, b);
  EXPECT_EQ(a, b);
  wrapper.Jvp(t, z, theta, v, a);
  reference.Jvp(t, z, theta, v, b);
  EXPECT_EQ(a, b);
  wrapper.VjpState(t, z, theta, v, a);
  reference.VjpState(t, z, theta, v, b);
  EXPECT_EQ(a, b);
  Vector ga = Vector::Zero(p), gb = Vector::Zero(p);
  wrapper.VjpParams(t, z, theta, v, ga);
  reference.VjpParams(t, z, theta, v, gb);
  EXPECT_EQ(ga, gb);
  wrapper.Vjp(t, z, theta, v, a, ga);
  reference.Vjp(t, z, theta, v, b, gb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(ga, gb);
  // The batched parameter products go to the wrapped field's batched path (bit for bit).
  const Matrix points(z.replicate(1, 4)), adjoints(v.replicate(1, 4));
  const std::vector<double> times(4, t);
  wrapper.VjpParamsSum(times.data(), points, theta, adjoints, ga);
  reference.VjpParamsSum(times.data(), points, theta, adjoints, gb);
  EXPECT_EQ(ga, gb);
  wrapper.TimeDerivative(t, z, theta, a);
  reference.TimeDerivative(t, z, theta, b);
  EXPECT_EQ(a, b);
  Matrix ja(n, n), jb(n, n);
  wrapper.DenseJacobian(t, z, theta, ja);
  reference.DenseJacobian(t, z, theta, jb);
  EXPECT_EQ(ja, jb);
  // The wrapped field's own Jacobian blocks (MlpField's fused pass), not the default comb JVPs.
  const Index width = mlp.width();
  std::vector<double> blocks_a(static_cast<std::size_t>(n * width)), blocks_b(blocks_a.size());
  wrapper.JacobianBlocks(t, z, theta, width, blocks_a.data());
  reference.JacobianBlocks(t, z, theta, width, blocks_b.data());
  EXPECT_EQ(blocks_a, blocks_b);

  std::vector<double> saved(static_cast<std::size_t>(mlp.ForwardSaveSize()));
  wrapper.FSaving(t, z, theta, a, saved.data());
  reference.F(t, z, theta, b);
  EXPECT_EQ(a, b);
  wrapper.VjpSaved(t, z, theta, saved.data(), v, a, ga);
  reference.Vjp(t, z, theta, v, b, gb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(ga, gb);

  const std::unique_ptr<VectorField> clone = wrapper.Clone();
  clone->F(t, z, theta, a);
  reference.F(t, z, theta, b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(clone->name(), reference.name());
}

// A wrapper that overrides F only: F changes, the products still come from the wrapped field.
class DoubledF final : public ForwardingField {
 public:
  using ForwardingField::ForwardingField;
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    inner()->F(t, z, theta, out);
    out *= 2.0;
  }
};

TEST(ForwardingField, AnOverrideChangesOnlyItsOwnMethod) {
  MlpField mlp = MakeMlp();
  DoubledF wrapper(&mlp);
  const Index n = mlp.state_size();
  const Vector theta = mlp.InitialParams(4), z = Ramp(n, 1.0), v = Ramp(n, 0.5);
  Vector a(n), b(n);
  wrapper.F(0.1, z, theta, a);
  mlp.F(0.1, z, theta, b);
  EXPECT_EQ(a, 2.0 * b);
  wrapper.Jvp(0.1, z, theta, v, a);
  mlp.Jvp(0.1, z, theta, v, b);
  EXPECT_EQ(a, b);
  // Bind points it at another field.
  MlpField other = MakeMlp();
  wrapper.Bind(&other);
  EXPECT_EQ(wrapper.inner(), &other);
}

}  // namespace
}  // namespace snode
