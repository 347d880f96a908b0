#include "models/analytic_fields.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

TEST(DecayField, DerivativesMatchFiniteDifferences) {
  DecayField scalar(1);
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      scalar, 0.3, (Vector(1) << 0.7).finished(), (Vector(1) << 100.0).finished()));
  DecayField two_mode(2);
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      two_mode, 0.0, (Vector(2) << 1.0, -0.4).finished(), (Vector(2) << 1.0, 1e4).finished()));
}

TEST(LinearField, DerivativesMatchFiniteDifferences) {
  Matrix a(3, 3);
  a << -1.0, 2.0, 0.5, 0.0, -3.0, 1.0, 0.3, -0.2, -0.5;
  LinearField field(3, (Vector(3) << 1.0, 0.0, -1.0).finished());
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      field, 0.0, (Vector(3) << 0.2, -1.0, 0.5).finished(), LinearField::ParamsFromMatrix(a)));
  Vector out(3);
  field.F(0.0, Vector::Zero(3), LinearField::ParamsFromMatrix(a), out);
  EXPECT_EQ(out, (Vector(3) << 1.0, 0.0, -1.0).finished());  // the offset b
}

TEST(LotkaVolterraField, DerivativesMatchFiniteDifferences) {
  LotkaVolterraField field;
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      field, 0.0, (Vector(2) << 1.3, 0.8).finished(),
      (Vector(4) << 1.5, 1.0, 1.0, 3.0).finished()));
}

TEST(LotkaVolterraField, DefaultSavedPassInterfaceForwardsToThePlainProducts) {
  // No saved forward pass (VectorField's defaults): FSaving is F, and VjpSaved is Vjp, or
  // VjpState alone when grad is empty (as the adjoint's right-hand side asks).
  LotkaVolterraField lv;
  EXPECT_EQ(lv.ForwardSaveSize(), 0);
  const Vector theta{{1.5, 1.0, 1.0, 3.0}}, z{{0.8, 1.3}}, a{{0.4, -0.7}};
  Vector f_saving(2), f(2);
  lv.FSaving(0.0, z, theta, f_saving, nullptr);
  lv.F(0.0, z, theta, f);
  EXPECT_EQ(f_saving, f);
  Vector a_state_saved(2), a_state(2), no_grad;
  lv.VjpSaved(0.0, z, theta, nullptr, a, a_state_saved, no_grad);
  lv.VjpState(0.0, z, theta, a, a_state);
  EXPECT_EQ(a_state_saved, a_state);
  Vector grad_saved = Vector::Zero(4), grad = Vector::Zero(4);
  lv.VjpSaved(0.0, z, theta, nullptr, a, a_state_saved, grad_saved);
  lv.Vjp(0.0, z, theta, a, a_state, grad);
  EXPECT_EQ(a_state_saved, a_state);
  EXPECT_EQ(grad_saved, grad);
}

TEST(RobertsonField, DerivativesMatchFiniteDifferences) {
  RobertsonField field;
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      field, 0.0, (Vector(3) << 0.9, 2e-5, 0.1).finished(), RobertsonField::ClassicRates()));
  // Mass conservation: the components of f sum to zero.
  Vector out(3);
  field.F(0.0, (Vector(3) << 0.5, 1e-5, 0.5).finished(), RobertsonField::ClassicRates(), out);
  EXPECT_NEAR(out.sum(), 0.0, 1e-12 * out.cwiseAbs().maxCoeff());
}

TEST(AnalyticFields, WrongSizesThrowConfigError) {
  DecayField decay(2);
  Vector out(2);
  EXPECT_THROW(decay.F(0.0, Vector::Ones(3), Vector::Ones(2), out), ConfigError);
  EXPECT_THROW(decay.F(0.0, Vector::Ones(2), Vector::Ones(1), out), ConfigError);
  EXPECT_THROW(DecayField(0), ConfigError);
  EXPECT_THROW(LinearField(2, Vector::Ones(3)), ConfigError);
  RobertsonField robertson;
  Vector out3(3);
  EXPECT_THROW(robertson.Jvp(0.0, Vector::Ones(2), Vector::Ones(3), Vector::Ones(3), out3),
               ConfigError);
  LotkaVolterraField lv;
  Vector grad(3);
  EXPECT_THROW(lv.VjpParams(0.0, Vector::Ones(2), Vector::Ones(4), Vector::Ones(2), grad),
               ConfigError);
}

}  // namespace
}  // namespace snode
