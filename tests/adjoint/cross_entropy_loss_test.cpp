#include "adjoint/cross_entropy_loss.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/errors.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

constexpr Index kWidth = 5;
constexpr Index kClasses = 4;

Vector RandomVector(Index n, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vector v(n);
  for (Index k = 0; k < n; ++k) v[k] = normal(rng);
  return v;
}

const std::vector<int> kLabels = {0, 3, 2, 3, 1, 0};

TEST(CrossEntropyReadoutLoss, LossMatchesDirectFormula) {
  const Vector phi = RandomVector(kClasses * kWidth + kClasses, 1);
  const Vector z = RandomVector(kWidth * 6, 2);
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, kLabels, phi);
  Vector dl_dz(z.size());
  Vector readout_grad = Vector::Zero(loss.num_readout_params());
  const double value = loss.Term(0, 1.0, z, dl_dz, readout_grad);
  double expected = 0;
  for (Index j = 0; j < 6; ++j) {
    Vector logits(kClasses);
    for (Index c = 0; c < kClasses; ++c) {
      logits[c] = phi[kClasses * kWidth + c];
      for (Index i = 0; i < kWidth; ++i) logits[c] += phi[c + kClasses * i] * z[j * kWidth + i];
    }
    double sum = 0;
    for (Index c = 0; c < kClasses; ++c) sum += std::exp(logits[c]);
    expected += std::log(sum) - logits[kLabels[j]];
  }
  EXPECT_NEAR(value, expected / 6, 1e-14);
}

TEST(CrossEntropyReadoutLoss, GradientsMatchFiniteDifferences) {
  const Vector phi = RandomVector(kClasses * kWidth + kClasses, 3);
  const Vector z = RandomVector(kWidth * 6, 4, 2.0);
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, kLabels, phi);
  Vector dl_dz(z.size());
  Vector readout_grad = Vector::Constant(loss.num_readout_params(), 0.25);  // accumulates
  loss.Term(0, 1.0, z, dl_dz, readout_grad);
  readout_grad.array() -= 0.25;

  auto value_at_z = [&](const Vector& zz) {
    Vector g(zz.size()), r = Vector::Zero(loss.num_readout_params());
    return Vector::Constant(1, loss.Term(0, 1.0, zz, g, r));
  };
  auto value_at_phi = [&](const Vector& pp) {
    const CrossEntropyReadoutLoss other(kWidth, kClasses, kLabels, pp);
    Vector g(z.size()), r = Vector::Zero(other.num_readout_params());
    return Vector::Constant(1, other.Term(0, 1.0, z, g, r));
  };
  const Vector fd_z = test_util::CentralDifferenceJacobian(value_at_z, z).row(0).transpose();
  const Vector fd_phi = test_util::CentralDifferenceJacobian(value_at_phi, phi).row(0).transpose();
  // ℓ = O(1) and h = 1e-6: round-off in the difference quotient is ~1e-16/1e-6 = 1e-10, the
  // truncation error h²·ℓ''' ~ 1e-12, so 1e-9 absolute is the honest bound.
  EXPECT_TRUE(test_util::VectorsClose(dl_dz, fd_z, 1e-6, 1e-9));
  EXPECT_TRUE(test_util::VectorsClose(readout_grad, fd_phi, 1e-6, 1e-9));
}

TEST(CrossEntropyReadoutLoss, SplitBatchWithFullNormaliserAddsUp) {
  const Vector phi = RandomVector(kClasses * kWidth + kClasses, 5);
  const Vector z = RandomVector(kWidth * 6, 6);
  const CrossEntropyReadoutLoss whole(kWidth, kClasses, kLabels, phi);
  const CrossEntropyReadoutLoss first(kWidth, kClasses, {0, 3, 2, 3}, phi, 1, 6.0);
  const CrossEntropyReadoutLoss second(kWidth, kClasses, {1, 0}, phi, 1, 6.0);
  Vector g(z.size()), g1(4 * kWidth), g2(2 * kWidth);
  Vector r = Vector::Zero(whole.num_readout_params()), r12 = r;
  const double l = whole.Term(0, 1.0, z, g, r);
  const double l1 = first.Term(0, 1.0, z.head(4 * kWidth), g1, r12);
  const double l2 = second.Term(0, 1.0, z.tail(2 * kWidth), g2, r12);
  EXPECT_NEAR(l, l1 + l2, 1e-14);
  EXPECT_TRUE(test_util::VectorsClose(r12, r, 1e-13, 1e-15));
  EXPECT_TRUE(test_util::VectorsClose(g.head(4 * kWidth), g1, 1e-13, 1e-15));
}

TEST(CrossEntropyReadoutLoss, OnlyFinalTimeHasATerm) {
  const Vector phi = RandomVector(kClasses * kWidth + kClasses, 7);
  const Vector z = RandomVector(kWidth * 6, 8);
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, kLabels, phi, /*num_times=*/3);
  Vector g = Vector::Ones(z.size());
  Vector r = Vector::Zero(loss.num_readout_params());
  EXPECT_EQ(loss.Term(1, 0.5, z, g, r), 0.0);
  EXPECT_EQ(g, Vector::Zero(z.size()));
  EXPECT_EQ(r, Vector::Zero(loss.num_readout_params()));
  EXPECT_GT(loss.Term(2, 1.0, z, g, r), 0.0);
  EXPECT_THROW(loss.Term(3, 1.0, z, g, r), ConfigError);
}

TEST(CrossEntropyReadoutLoss, HugeLogitsStayFinite) {
  Vector phi = Vector::Zero(kClasses * kWidth + kClasses);
  phi.tail(kClasses) << 800.0, -800.0, 0.0, 1.0;
  const Vector z = Vector::Zero(kWidth * 6);
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, kLabels, phi);
  Vector g(z.size()), r = Vector::Zero(loss.num_readout_params());
  const double value = loss.Term(0, 1.0, z, g, r);
  EXPECT_TRUE(std::isfinite(value));
  EXPECT_TRUE(r.allFinite());
  // Samples with label 0 cost ~0, the others ~800 (label 3: 799, label 2: 800, label 1: 1600).
  EXPECT_NEAR(value, (799.0 + 800.0 + 799.0 + 1600.0) / 6, 1e-9);
}

TEST(CrossEntropyReadoutLoss, CountsCorrectPredictions) {
  Vector phi = Vector::Zero(kClasses * kWidth + kClasses);
  for (Index c = 0; c < kClasses; ++c) phi[c + kClasses * c] = 1.0;  // W = [I 0]
  Vector z = Vector::Zero(kWidth * 6);
  const std::vector<int> predicted = {0, 3, 1, 3, 1, 2};  // matches kLabels in 4 of 6
  for (Index j = 0; j < 6; ++j) z[j * kWidth + predicted[j]] = 1.0;
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, kLabels, phi);
  EXPECT_EQ(loss.CountCorrect(z), 4);
}

TEST(CrossEntropyReadoutLoss, BadArgumentsAreConfigErrors) {
  const Vector phi = Vector::Zero(kClasses * kWidth + kClasses);
  EXPECT_THROW(CrossEntropyReadoutLoss(kWidth, kClasses, {0, 4}, phi), ConfigError);
  EXPECT_THROW(CrossEntropyReadoutLoss(kWidth, kClasses, {0}, Vector::Zero(3)), ConfigError);
  const CrossEntropyReadoutLoss loss(kWidth, kClasses, {0, 1}, phi);
  Vector g(3), r = Vector::Zero(loss.num_readout_params());
  EXPECT_THROW(loss.Term(0, 1.0, Vector::Zero(3), g, r), ConfigError);
}

}  // namespace
}  // namespace snode
