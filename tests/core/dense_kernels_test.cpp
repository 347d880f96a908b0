// The run-time chosen dense products (core/dense_kernels.hpp): every variant this processor runs
// against a plain triple loop, the choice of variant, and bad sizes and names.
#include "core/dense_kernels.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>

#include "core/errors.hpp"

namespace snode {
namespace {

struct Case {
  DenseOp op_a, op_b;
  Index m, n, k;
  double alpha, beta;
};

// Column-major storage with a leading dimension larger than the rows (padding filled with NaN,
// so a kernel that reads it shows).
struct Stored {
  Index rows, cols, ld;
  std::vector<double> values;
  Stored(Index r, Index c, std::mt19937_64& rng,
         double pad = std::numeric_limits<double>::quiet_NaN())
      : rows(r),
        cols(c),
        ld(r + 3),
        values(static_cast<std::size_t>(ld * std::max<Index>(c, 1)), pad) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (Index j = 0; j < c; ++j)
      for (Index i = 0; i < r; ++i) at(i, j) = u(rng);
  }
  double& at(Index i, Index j) { return values[static_cast<std::size_t>(i + j * ld)]; }
  double at(Index i, Index j) const { return values[static_cast<std::size_t>(i + j * ld)]; }
};

double Op(const Stored& s, DenseOp op, Index i, Index j) {
  return op == DenseOp::kTranspose ? s.at(j, i) : s.at(i, j);
}

// Runs one case with the current variant; returns the largest error relative to Σ|a||b| + |βc|.
double RunCase(const Case& c, unsigned seed) {
  std::mt19937_64 rng(seed);
  const bool ta = c.op_a == DenseOp::kTranspose;
  const bool tb = c.op_b == DenseOp::kTranspose;
  const Stored a(ta ? c.k : c.m, ta ? c.m : c.k, rng);
  const Stored b(tb ? c.n : c.k, tb ? c.k : c.n, rng);
  Stored out(c.m, c.n, rng);
  if (c.beta == 0.0) {  // β = 0 must not read C: fill it with NaN
    for (Index j = 0; j < c.n; ++j)
      for (Index i = 0; i < c.m; ++i) out.at(i, j) = std::numeric_limits<double>::quiet_NaN();
  }
  const Stored before = out;
  DenseGemm(c.op_a, c.op_b, c.m, c.n, c.k, c.alpha, a.values.data(), a.ld, b.values.data(), b.ld,
            c.beta, out.values.data(), out.ld);
  double worst = 0.0;
  for (Index j = 0; j < c.n; ++j) {
    for (Index i = 0; i < c.m; ++i) {
      double sum = 0.0, scale = 0.0;
      for (Index l = 0; l < c.k; ++l) {
        sum += Op(a, c.op_a, i, l) * Op(b, c.op_b, l, j);
        scale += std::abs(Op(a, c.op_a, i, l) * Op(b, c.op_b, l, j));
      }
      double expected = c.alpha * sum;
      scale = std::abs(c.alpha) * scale;
      if (c.beta != 0.0) {
        expected += c.beta * before.at(i, j);
        scale += std::abs(c.beta * before.at(i, j));
      }
      const double error = std::abs(out.at(i, j) - expected) / std::max(scale, 1e-300);
      worst = std::max(worst, std::isfinite(out.at(i, j)) ? error : 1e300);
    }
    for (Index i = c.m; i < out.ld; ++i) {  // the padding is untouched
      if (!std::isnan(out.at(i, j))) worst = 1e300;
    }
  }
  return worst;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  const DenseOp ops[] = {DenseOp::kNone, DenseOp::kTranspose};
  // Network-layer shapes (the MNIST block 64 × 65 · 65 × 128, a 784-input layer), a column, a
  // row, odd sizes that leave partial vector registers, and an empty inner dimension.
  const Index shapes[][3] = {{64, 128, 65}, {64, 128, 784}, {10, 128, 64}, {7, 1, 5},
                             {1, 9, 3},     {13, 11, 17},   {33, 3, 1},    {5, 4, 0}};
  for (const DenseOp op_a : ops)
    for (const DenseOp op_b : ops)
      for (const auto& shape : shapes)
        for (const double beta : {0.0, 1.0, -0.5})
          cases.push_back(
              {op_a, op_b, shape[0], shape[1], shape[2], beta == -0.5 ? 2.0 : 1.0, beta});
  return cases;
}

// Restores the variant chosen at start-up after each test.
class DenseKernels : public ::testing::Test {
 protected:
  void SetUp() override { start_ = DenseKernelVariant(); }
  void TearDown() override { UseDenseKernelVariant(start_); }
  std::string start_;
};

TEST_F(DenseKernels, EveryVariantMatchesTheTripleLoopToRoundOff) {
  const auto variants = AvailableDenseKernelVariants();
  ASSERT_FALSE(variants.empty());
  for (const std::string& variant : variants) {
    UseDenseKernelVariant(variant);
    EXPECT_EQ(DenseKernelVariant(), variant);
    unsigned seed = 1;
    for (const Case& c : Cases()) {
      // k ≤ 784 terms: round-off at most a few k·ε relative to Σ|a||b|.
      EXPECT_LE(RunCase(c, seed++), 1e-13)
          << variant << " m=" << c.m << " n=" << c.n << " k=" << c.k
          << " op_a=" << (c.op_a == DenseOp::kTranspose)
          << " op_b=" << (c.op_b == DenseOp::kTranspose) << " beta=" << c.beta;
    }
  }
}

TEST_F(DenseKernels, VariantsAgreeWithEachOtherOnANetworkLayer) {
  std::mt19937_64 rng(7);
  const Stored a(64, 65, rng), b(65, 128, rng);
  std::vector<std::vector<double>> results;
  for (const std::string& variant : AvailableDenseKernelVariants()) {
    UseDenseKernelVariant(variant);
    std::vector<double> c(64 * 128);
    DenseGemm(DenseOp::kNone, DenseOp::kNone, 64, 128, 65, 1.0, a.values.data(), a.ld,
              b.values.data(), b.ld, 0.0, c.data(), 64);
    results.push_back(c);
  }
  for (std::size_t v = 1; v < results.size(); ++v)
    for (std::size_t i = 0; i < results[0].size(); ++i)
      EXPECT_NEAR(results[v][i], results[0][i], 1e-13) << "variant " << v << " entry " << i;
}

// The same product at other addresses gives the same bits: two fields of one shape (or one
// field's run on 1 and on 2 threads) agree exactly, whatever the allocator's alignment.
TEST_F(DenseKernels, ResultsDoNotDependOnTheOperandsAddresses) {
  const Index shapes[][3] = {{6, 2, 8}, {3, 2, 5}, {64, 128, 65}, {13, 11, 17}, {7, 1, 9}};
  for (const std::string& variant : AvailableDenseKernelVariants()) {
    UseDenseKernelVariant(variant);
    for (const auto& shape : shapes) {
      const Index m = shape[0], n = shape[1], k = shape[2];
      std::mt19937_64 rng(3);
      std::uniform_real_distribution<double> u(-1.0, 1.0);
      std::vector<double> a0(static_cast<std::size_t>(m * k)), b0(static_cast<std::size_t>(k * n));
      for (double& x : a0) x = u(rng);
      for (double& x : b0) x = u(rng);
      std::vector<double> first;
      for (Index shift = 0; shift < 8; ++shift) {  // 0 … 56 bytes past a 64-byte boundary
        std::vector<double> a(a0.size() + 16), b(b0.size() + 16),
            c(static_cast<std::size_t>(m * n) + 16);
        const auto aligned = [shift](std::vector<double>& v) {
          auto address = reinterpret_cast<std::uintptr_t>(v.data());
          address = (address + 63) & ~std::uintptr_t{63};
          return reinterpret_cast<double*>(address) + shift;
        };
        double* pa = aligned(a);
        double* pb = aligned(b);
        double* pc = aligned(c);
        std::copy(a0.begin(), a0.end(), pa);
        std::copy(b0.begin(), b0.end(), pb);
        DenseGemm(DenseOp::kNone, DenseOp::kTranspose, m, n, k, 1.0, pa, m, pb, n, 0.0, pc, m);
        std::vector<double> result(pc, pc + m * n);
        if (shift == 0) {
          first = result;
        } else {
          EXPECT_EQ(result, first)
              << variant << " " << m << "x" << n << "x" << k << " shift " << shift;
        }
      }
    }
  }
}

TEST_F(DenseKernels, StartsWithTheBestVariantOrTheForcedOne) {
  const auto variants = AvailableDenseKernelVariants();
  const char* forced = std::getenv("SNODE_DENSE_ISA");
  EXPECT_EQ(start_, forced != nullptr && *forced != '\0' ? std::string(forced) : variants.back());
#if defined(__x86_64__) && !defined(SNODE_TEST_NATIVE)
  // On x86-64 the baseline variant always runs.
  EXPECT_TRUE(variants.front() == "sse2" || variants.front() == "native") << variants.front();
#endif
}

TEST_F(DenseKernels, UnknownVariantIsAConfigErrorListingTheAvailableOnes) {
  try {
    UseDenseKernelVariant("avx1024");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'avx1024'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(AvailableDenseKernelVariants().front()), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(DenseKernelVariant(), start_);  // unchanged
}

TEST_F(DenseKernels, DenseProductChecksSizes) {
  Matrix a = Matrix::Random(3, 4), b = Matrix::Random(4, 5), c(3, 5);
  DenseProduct(a, DenseOp::kNone, b, DenseOp::kNone, c);
  EXPECT_LE((c - a * b).cwiseAbs().maxCoeff(), 1e-14);
  Matrix c2 = c;  // c2 += aᵀᵀ·b: β = 1 accumulates, blocks of larger matrices work
  Matrix at = a.transpose();
  DenseProduct(at, DenseOp::kTranspose, b, DenseOp::kNone, c2, 1.0);
  EXPECT_LE((c2 - 2.0 * a * b).cwiseAbs().maxCoeff(), 1e-14);
  Matrix big = Matrix::Zero(6, 7);
  DenseProduct(a, DenseOp::kNone, b, DenseOp::kNone, big.block(1, 1, 3, 5));
  EXPECT_LE((big.block(1, 1, 3, 5) - a * b).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_EQ(big.col(0).squaredNorm() + big.row(0).squaredNorm(), 0.0);
  Matrix wrong(3, 4);
  EXPECT_THROW(DenseProduct(a, DenseOp::kNone, b, DenseOp::kNone, wrong), ConfigError);
  EXPECT_THROW(DenseProduct(a, DenseOp::kNone, b, DenseOp::kTranspose, c), ConfigError);
}

}  // namespace
}  // namespace snode
