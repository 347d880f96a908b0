#include "models/hybrid_field.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

std::shared_ptr<HybridField> LotkaVolterraUde() {
  // Known terms αx, −γy as the linear field diag(α, −γ); learned: MLP 2-8-8-2 tanh.
  auto known = std::make_shared<LinearField>(2);
  Matrix a = Matrix::Zero(2, 2);
  a(0, 0) = 1.5;
  a(1, 1) = -3.0;
  MlpOptions options;
  options.widths = {2, 8, 8, 2};
  auto learned = std::make_shared<MlpField>(options);
  return std::make_shared<HybridField>(known, LinearField::ParamsFromMatrix(a), learned);
}

TEST(HybridField, IsTheSumOfItsParts) {
  auto field = LotkaVolterraUde();
  const auto& mlp = static_cast<const MlpField&>(field->learned());
  const Vector theta = mlp.InitialParams(3);
  const Vector z = (Vector(2) << 0.8, 1.7).finished();
  Vector total(2), learned(2);
  field->F(0.0, z, theta, total);
  field->LearnedTerm(0.0, z, theta, learned);
  EXPECT_NEAR(total[0] - learned[0], 1.5 * 0.8, 1e-14);
  EXPECT_NEAR(total[1] - learned[1], -3.0 * 1.7, 1e-14);
  EXPECT_EQ(field->num_params(), mlp.num_params());
}

TEST(HybridField, DerivativesMatchFiniteDifferences) {
  auto field = LotkaVolterraUde();
  const Vector theta = static_cast<const MlpField&>(field->learned()).InitialParams(5);
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      *field, 0.2, (Vector(2) << 0.8, 1.7).finished(), theta));
  auto clone = field->Clone();
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(
      *clone, 0.2, (Vector(2) << 1.1, 0.4).finished(), theta));
}

TEST(HybridField, RejectsMismatchedParts) {
  MlpOptions options;
  options.widths = {3, 4, 3};
  auto learned = std::make_shared<MlpField>(options);
  EXPECT_THROW(HybridField(std::make_shared<DecayField>(2), Vector::Ones(2), learned), ConfigError);
  EXPECT_THROW(HybridField(std::make_shared<DecayField>(3), Vector::Ones(2), learned), ConfigError);
  EXPECT_THROW(HybridField(nullptr, Vector(), learned), ConfigError);
}

}  // namespace
}  // namespace snode
