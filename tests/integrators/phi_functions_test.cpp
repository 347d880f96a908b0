#include "integrators/phi_functions.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/errors.hpp"

namespace snode {
namespace {

// φ_1, φ_2 of a scalar (x not near 0 here).
double Phi1(double x) { return std::expm1(x) / x; }
double Phi2(double x) { return (std::expm1(x) - x) / (x * x); }

Matrix RandomMatrix(Index n, unsigned seed, double scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix a(n, n);
  for (Index j = 0; j < n; ++j) {
    for (Index i = 0; i < n; ++i) a(i, j) = normal(rng);
  }
  return a * (scale / std::sqrt(static_cast<double>(n)));
}

Vector RandomVector(Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = normal(rng);
  return v;
}

LinearOperator DenseOperator(const Matrix& a, long* count = nullptr) {
  return [&a, count](ConstVectorRef x, VectorRef y) {
    y.noalias() = a * x;
    if (count != nullptr) ++*count;
  };
}

double RelativeError(const Vector& actual, const Vector& expected) {
  return (actual - expected).norm() / expected.norm();
}

TEST(PhiDense, MatchesScalarClosedFormOnDiagonalMatrix) {
  const Vector lambda = (Vector(4) << -3.0, -0.5, 0.7, 2.0).finished();
  const Vector v = (Vector(4) << 1.0, -2.0, 0.5, 3.0).finished();
  const Matrix a = lambda.asDiagonal();
  const Vector phi0 = PhiDense(a, v, 0);
  const Vector phi1 = PhiDense(a, v, 1);
  const Vector phi2 = PhiDense(a, v, 2);
  for (Index i = 0; i < 4; ++i) {
    EXPECT_NEAR(phi0[i], std::exp(lambda[i]) * v[i], 1e-14 * std::abs(phi0[i]));
    EXPECT_NEAR(phi1[i], Phi1(lambda[i]) * v[i], 1e-14 * std::abs(phi1[i]));
    EXPECT_NEAR(phi2[i], Phi2(lambda[i]) * v[i], 1e-14 * std::abs(phi2[i]));
  }
}

TEST(PhiDense, SatisfiesRecurrenceOnNonNormalMatrix) {
  // φ_{k}(A) = A φ_{k+1}(A) + I/k!  →  φ_1(A)v = A φ_2(A)v + v.
  const Matrix a = RandomMatrix(6, 3, 2.0);
  const Vector v = RandomVector(6, 4);
  const Vector lhs = PhiDense(a, v, 1);
  const Vector rhs = a * PhiDense(a, v, 2) + v;
  EXPECT_LT(RelativeError(lhs, rhs), 1e-13);
  const Vector phi0 = PhiDense(a, v, 0);
  EXPECT_LT(RelativeError(phi0, a * PhiDense(a, v, 1) + v), 1e-13);
}

TEST(PhiDense, RejectsBadArguments) {
  EXPECT_THROW(PhiDense(Matrix::Zero(2, 3), Vector::Zero(2), 1), ConfigError);
  EXPECT_THROW(PhiDense(Matrix::Zero(2, 2), Vector::Zero(3), 1), ConfigError);
  EXPECT_THROW(PhiDense(Matrix::Zero(2, 2), Vector::Zero(2), -1), ConfigError);
}

TEST(KrylovPhiEvaluator, Phi1AndPhi2MatchDenseReference) {
  const Index n = 60;
  const Matrix a = RandomMatrix(n, 11, 3.0);
  const Vector v = RandomVector(n, 12);
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 2);
  long applications = 0;
  const PhiReport report =
      evaluator.Phi(DenseOperator(a, &applications), 0.7, v, 2, 1e-12, Vector(), out);
  ASSERT_EQ(report.status, PhiStatus::kConverged);
  EXPECT_LT(RelativeError(out.col(0), PhiDense(0.7 * a, v, 1)), 1e-10);
  EXPECT_LT(RelativeError(out.col(1), PhiDense(0.7 * a, v, 2)), 1e-10);
  // Adaptive dimension: the estimate stops well before the full space.
  EXPECT_LT(report.krylov_dim_max, n / 2);
  EXPECT_EQ(applications, report.operator_applications);
  EXPECT_EQ(report.arnoldi_iters, report.krylov_dim_max);
}

TEST(KrylovPhiEvaluator, Phi1MatchesScalarClosedFormOnDiagonalOperator) {
  const Index n = 5;
  const Vector lambda = (Vector(n) << -1e3, -10.0, -1.0, 0.5, 1.5).finished();
  const Vector v = (Vector(n) << 1.0, 2.0, -1.0, 0.25, 4.0).finished();
  const Matrix a = lambda.asDiagonal();
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 2);
  const double tau = 0.3;
  const PhiReport report = evaluator.Phi(DenseOperator(a), tau, v, 2, 1e-14, Vector(), out);
  ASSERT_EQ(report.status, PhiStatus::kConverged);
  for (Index i = 0; i < n; ++i) {
    EXPECT_NEAR(out(i, 0), Phi1(tau * lambda[i]) * v[i], 1e-12 * std::abs(out(i, 0))) << i;
    EXPECT_NEAR(out(i, 1), Phi2(tau * lambda[i]) * v[i], 1e-12 * std::abs(out(i, 1))) << i;
  }
}

TEST(KrylovPhiEvaluator, KrylovDimensionGrowsWithTauAndTolerance) {
  const Index n = 80;
  const Matrix a = RandomMatrix(n, 21, 4.0);
  const Vector v = RandomVector(n, 22);
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 1);
  const long m_small =
      evaluator.Phi(DenseOperator(a), 0.1, v, 1, 1e-8, Vector(), out).krylov_dim_max;
  const long m_large =
      evaluator.Phi(DenseOperator(a), 2.0, v, 1, 1e-8, Vector(), out).krylov_dim_max;
  const long m_tight =
      evaluator.Phi(DenseOperator(a), 0.1, v, 1, 1e-13, Vector(), out).krylov_dim_max;
  EXPECT_LT(m_small, m_large);
  EXPECT_LT(m_small, m_tight);
}

TEST(KrylovPhiEvaluator, ErrorEstimateBoundsTrueError) {
  const Index n = 50;
  const Matrix a = RandomMatrix(n, 31, 5.0);
  const Vector v = RandomVector(n, 32);
  const Vector exact = PhiDense(a, v, 1);
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 1);
  for (const double tol : {1e-3, 1e-6, 1e-9}) {
    const PhiReport report = evaluator.Phi(DenseOperator(a), 1.0, v, 1, tol, Vector(), out);
    ASSERT_EQ(report.status, PhiStatus::kConverged);
    const double true_error = (out.col(0) - exact).norm();
    EXPECT_LE(true_error, 10.0 * tol) << "tol " << tol << " m " << report.krylov_dim_max;
  }
}

TEST(KrylovPhiEvaluator, HappyBreakdownOnInvariantSubspaceIsExact) {
  // v is an eigenvector: K_1 is invariant, so one JVP suffices and φ_1 is exact.
  const Index n = 10;
  Matrix a = RandomMatrix(n, 41, 1.0);
  a.col(0).setZero();
  a(0, 0) = -7.0;
  const Vector v = 3.0 * Vector::Unit(n, 0);
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 1);
  const PhiReport report = evaluator.Phi(DenseOperator(a), 2.0, v, 1, 1e-14, Vector(), out);
  EXPECT_EQ(report.status, PhiStatus::kConverged);
  EXPECT_EQ(report.krylov_dim_max, 1);
  EXPECT_NEAR(out(0, 0), 3.0 * Phi1(-14.0), 1e-15);
  EXPECT_EQ(out.col(0).tail(n - 1).norm(), 0.0);
}

TEST(KrylovPhiEvaluator, SolveAffineMatchesTauPhi1AtSeveralTimes) {
  const Index n = 40;
  const Matrix a = RandomMatrix(n, 51, 3.0);
  const Vector v = RandomVector(n, 52);
  const Vector taus = (Vector(3) << 0.25, 0.5, 1.0).finished();
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 3);
  const PhiReport report = evaluator.SolveAffine(DenseOperator(a), v, taus, 1e-11, Vector(), out);
  ASSERT_EQ(report.status, PhiStatus::kConverged);
  EXPECT_EQ(report.sweeps, 1);
  for (Index j = 0; j < 3; ++j) {
    const Vector expected = taus[j] * PhiDense(taus[j] * a, v, 1);
    EXPECT_LT(RelativeError(out.col(j), expected), 1e-9) << "tau " << taus[j];
  }
}

TEST(KrylovPhiEvaluator, SolveAffineSubstepsWhenMaxDimensionIsTooSmall) {
  // A spread spectrum with m_max = 6 cannot reach 1e-10 in one sweep: τ is split into substeps.
  const Index n = 40;
  Vector lambda(n);
  for (Index i = 0; i < n; ++i) lambda[i] = -std::pow(10.0, 3.0 * i / (n - 1.0));
  Matrix a = lambda.asDiagonal();
  a += 0.1 * RandomMatrix(n, 61, 1.0);
  const Vector v = RandomVector(n, 62);
  const Vector taus = (Vector(2) << 0.3, 1.0).finished();
  KrylovPhiOptions options;
  options.max_dim = 6;
  KrylovPhiEvaluator evaluator(options);
  Matrix out(n, 2);
  const PhiReport report = evaluator.SolveAffine(DenseOperator(a), v, taus, 1e-10, Vector(), out);
  ASSERT_EQ(report.status, PhiStatus::kConverged);
  EXPECT_GT(report.sweeps, 1);
  EXPECT_LE(report.krylov_dim_max, 6);
  for (Index j = 0; j < 2; ++j) {
    const Vector expected = taus[j] * PhiDense(taus[j] * a, v, 1);
    EXPECT_LT((out.col(j) - expected).norm(), 1e-8) << "tau " << taus[j];
  }
}

TEST(KrylovPhiEvaluator, ReportsNotConvergedWhenSubstepsRunOut) {
  const Index n = 40;
  const Matrix a = RandomMatrix(n, 71, 50.0);
  const Vector v = RandomVector(n, 72);
  KrylovPhiOptions options;
  options.max_dim = 3;
  options.max_substeps = 2;
  KrylovPhiEvaluator evaluator(options);
  Matrix out(n, 1);
  const Vector taus = Vector::Constant(1, 1.0);
  EXPECT_EQ(evaluator.SolveAffine(DenseOperator(a), v, taus, 1e-12, Vector(), out).status,
            PhiStatus::kNotConverged);
  Matrix out1(n, 1);
  EXPECT_EQ(evaluator.Phi(DenseOperator(a), 1.0, v, 1, 1e-12, Vector(), out1).status,
            PhiStatus::kNotConverged);
}

TEST(KrylovPhiEvaluator, WeightedNormScalesTheTolerance) {
  // Large weights demand a smaller weighted error, hence a larger Krylov space.
  const Index n = 60;
  const Matrix a = RandomMatrix(n, 81, 3.0);
  const Vector v = RandomVector(n, 82);
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 1);
  const Vector ones = Vector::Ones(n);
  const long m_loose = evaluator.Phi(DenseOperator(a), 1.0, v, 1, 1e-4, ones, out).krylov_dim_max;
  const long m_tight =
      evaluator.Phi(DenseOperator(a), 1.0, v, 1, 1e-4, 1e6 * ones, out).krylov_dim_max;
  EXPECT_LT(m_loose, m_tight);
}

TEST(KrylovPhiEvaluator, NonFiniteOperatorIsReported) {
  const Index n = 4;
  const LinearOperator nan_operator = [](ConstVectorRef, VectorRef y) {
    y.setConstant(std::numeric_limits<double>::quiet_NaN());
  };
  KrylovPhiEvaluator evaluator;
  Matrix out(n, 1);
  EXPECT_EQ(evaluator.Phi(nan_operator, 1.0, Vector::Ones(n), 1, 1e-8, Vector(), out).status,
            PhiStatus::kNonFinite);
  const Vector taus = Vector::Constant(1, 1.0);
  EXPECT_EQ(evaluator.SolveAffine(nan_operator, Vector::Ones(n), taus, 1e-8, Vector(), out).status,
            PhiStatus::kNonFinite);
}

TEST(KrylovPhiEvaluator, RejectsBadArguments) {
  KrylovPhiOptions bad;
  bad.max_dim = 0;
  EXPECT_THROW(KrylovPhiEvaluator{bad}, ConfigError);
  const Matrix a = Matrix::Identity(3, 3);
  KrylovPhiEvaluator evaluator;
  Matrix out(3, 1);
  const Vector v = Vector::Ones(3);
  const Vector decreasing = (Vector(2) << 1.0, 0.5).finished();
  Matrix out2(3, 2);
  EXPECT_THROW(evaluator.SolveAffine(DenseOperator(a), v, decreasing, 1e-8, Vector(), out2),
               ConfigError);
  EXPECT_THROW(evaluator.Phi(DenseOperator(a), 1.0, v, 0, 1e-8, Vector(), out), ConfigError);
  EXPECT_THROW(evaluator.Phi(DenseOperator(a), 1.0, v, 1, -1.0, Vector(), out), ConfigError);
  EXPECT_THROW(evaluator.Phi(DenseOperator(a), 1.0, v, 1, 1e-8, Vector::Ones(2), out), ConfigError);
}

}  // namespace
}  // namespace snode
