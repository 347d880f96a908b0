#include "integrators/butcher_tableau.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace snode {
namespace {

// Order conditions up to order 4 (Hairer, Nørsett & Wanner I, Table II.2.1) for weights w.
int SatisfiedOrder(const ButcherTableau& t, const Vector& w, double tol = 1e-14) {
  const Vector& c = t.c;
  const Matrix& a = t.a;
  const Vector one = Vector::Ones(t.stages);
  if (std::abs(w.sum() - 1.0) > tol) return 0;
  if (std::abs(w.dot(c) - 1.0 / 2.0) > tol) return 1;
  if (std::abs(w.dot(c.cwiseProduct(c)) - 1.0 / 3.0) > tol ||
      std::abs(w.dot(a * c) - 1.0 / 6.0) > tol) {
    return 2;
  }
  const Vector c2 = c.cwiseProduct(c);
  if (std::abs(w.dot(c2.cwiseProduct(c)) - 1.0 / 4.0) > tol ||
      std::abs(w.dot(c.cwiseProduct(a * c)) - 1.0 / 8.0) > tol ||
      std::abs(w.dot(a * c2) - 1.0 / 12.0) > tol ||
      std::abs(w.dot(a * (a * c)) - 1.0 / 24.0) > tol) {
    return 3;
  }
  return 4;  // (only conditions up to order 4 are checked)
}

TEST(ButcherTableau, ExplicitTableausSatisfyOrderConditions) {
  for (const std::string name : {"euler", "heun", "rk4", "dopri5"}) {
    const ButcherTableau t = ExplicitTableau(name);
    EXPECT_TRUE(t.IsExplicit()) << name;
    EXPECT_EQ(t.a.rows(), t.stages);
    EXPECT_EQ(t.b.size(), t.stages);
    // Row sums of A equal c (internal consistency of the stages).
    EXPECT_LT((t.a * Vector::Ones(t.stages) - t.c).cwiseAbs().maxCoeff(), 1e-15) << name;
    EXPECT_EQ(SatisfiedOrder(t, t.b), std::min(t.order, 4)) << name;
    if (t.HasEmbedding()) {
      EXPECT_EQ(SatisfiedOrder(t, t.b_embedded), t.embedded_order) << name;
    }
  }
  EXPECT_EQ(ExplicitTableau("euler").order, 1);
  EXPECT_EQ(ExplicitTableau("heun").order, 2);
  EXPECT_EQ(ExplicitTableau("rk4").order, 4);
  EXPECT_EQ(ExplicitTableau("dopri5").order, 5);
  EXPECT_EQ(ExplicitTableau("dopri5").embedded_order, 4);
}

TEST(ButcherTableau, DormandPrinceMatchesPublishedCoefficients) {
  // Dormand & Prince (1980): b = (35/384, 0, 500/1113, 125/192, −2187/6784, 11/84, 0), 7 stages,
  // FSAL (last row of A equals b).
  const ButcherTableau t = ExplicitTableau("dopri5");
  ASSERT_EQ(t.stages, 7);
  const Vector b =
      (Vector(7) << 35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0)
          .finished();
  EXPECT_LT((t.b - b).cwiseAbs().maxCoeff(), 1e-16);
  EXPECT_LT((t.a.row(6).transpose() - t.b).cwiseAbs().maxCoeff(), 1e-16);
  EXPECT_NEAR(t.b_embedded[6], 1.0 / 40.0, 1e-16);
}

TEST(ButcherTableau, ImplicitTableausAreLStableAndConsistent) {
  for (const std::string name : {"backward_euler", "sdirk"}) {
    const ButcherTableau t = ImplicitTableau(name);
    EXPECT_FALSE(t.IsExplicit()) << name;
    EXPECT_LT((t.a * Vector::Ones(t.stages) - t.c).cwiseAbs().maxCoeff(), 1e-15) << name;
    EXPECT_EQ(SatisfiedOrder(t, t.b), std::min(t.order, 4)) << name;
    // Diagonally implicit: nothing above the diagonal.
    EXPECT_EQ(t.a.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().cwiseAbs().maxCoeff(),
              0.0);
    // L-stability: R(z) → 0 as z → −∞, and |R(z)| ≤ 1 on the negative real axis.
    EXPECT_LT(std::abs(StabilityFunction(t, -1e8)), 1e-6) << name;
    for (double z = -1e4; z < -1e-6; z /= 1.5)
      EXPECT_LE(std::abs(StabilityFunction(t, z)), 1.0) << z;
  }
  const ButcherTableau sdirk = ImplicitTableau("sdirk");
  EXPECT_EQ(sdirk.order, 4);
  EXPECT_EQ(sdirk.embedded_order, 3);
  // Stiffly accurate: b is the last row of A.
  EXPECT_LT((sdirk.a.row(sdirk.stages - 1).transpose() - sdirk.b).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(ButcherTableau, ExplicitMethodsHaveBoundedStabilityInterval) {
  // rk4: |R(−2.78)| ≈ 1 is the edge of its real stability interval; at z = −100 it is huge.
  EXPECT_LE(std::abs(StabilityFunction(ExplicitTableau("rk4"), -2.7)), 1.0);
  EXPECT_GT(std::abs(StabilityFunction(ExplicitTableau("rk4"), -100.0)), 1e6);
  EXPECT_NEAR(StabilityFunction(ExplicitTableau("euler"), -0.5), 0.5, 1e-15);
  EXPECT_NEAR(StabilityFunction(ImplicitTableau("backward_euler"), -1.0), 0.5, 1e-15);
}

TEST(ButcherTableau, UnknownNamesAreConfigErrors) {
  EXPECT_THROW(ExplicitTableau("sdirk"), ConfigError);
  EXPECT_THROW(ImplicitTableau("rk4"), ConfigError);
  EXPECT_THROW(ExplicitTableau("nope"), ConfigError);
}

}  // namespace
}  // namespace snode
