// The compiled N_Vector kernels (core/nvector_kernels.hpp) against SUNDIALS' own serial kernels:
// identical results bit for bit on every special case the serial kernels distinguish (a, b = ±1,
// a = ±b, z aliasing x, y or X[0]), for lengths below, at and across the blocking size.
#include "core/nvector_kernels.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/nvector.hpp"
#include "core/sundials_context.hpp"

namespace snode {
namespace {

class NVectorKernels : public ::testing::TestWithParam<Index> {
 protected:
  // A stock serial vector (SUNDIALS' kernels) and a MakeNVector one (ours) with equal contents.
  struct Pair {
    NVectorPtr stock, fast;
  };
  Pair Make(unsigned seed) {
    Pair pair;
    pair.stock.reset(N_VNew_Serial(static_cast<sunindextype>(GetParam()), context_));
    N_VEnableFusedOps_Serial(pair.stock.get(), SUNTRUE);
    pair.fast = MakeNVector(GetParam(), context_);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (Index i = 0; i < GetParam(); ++i) {
      const double value = normal(rng) * 3.0;
      NV_Ith_S(pair.stock.get(), i) = value;
      NV_Ith_S(pair.fast.get(), i) = value;
    }
    return pair;
  }
  static void ExpectIdentical(const Pair& pair) {
    for (sunindextype i = 0; i < NV_LENGTH_S(pair.stock.get()); ++i) {
      ASSERT_EQ(NV_Ith_S(pair.stock.get(), i), NV_Ith_S(pair.fast.get(), i)) << "entry " << i;
    }
  }
  Context context_;
};

TEST_P(NVectorKernels, LinearSumMatchesSerialInEveryCase) {
  const double coefficients[] = {1.0, -1.0, 0.37, -0.37, 2.5};
  for (const double a : coefficients) {
    for (const double b : coefficients) {
      for (int alias = 0; alias < 3; ++alias) {  // z separate, z = x, z = y
        Pair x = Make(1), y = Make(2), z = Make(3);
        N_Vector zs = alias == 1 ? x.stock.get() : alias == 2 ? y.stock.get() : z.stock.get();
        N_Vector zf = alias == 1 ? x.fast.get() : alias == 2 ? y.fast.get() : z.fast.get();
        N_VLinearSum(a, x.stock.get(), b, y.stock.get(), zs);
        N_VLinearSum(a, x.fast.get(), b, y.fast.get(), zf);
        ExpectIdentical(alias == 1 ? x : alias == 2 ? y : z);
      }
    }
  }
}

TEST_P(NVectorKernels, LinearCombinationMatchesSerial) {
  for (const int nvec : {1, 2, 3, 7}) {
    for (const bool z_is_first : {false, true}) {
      for (const double c0 : {1.0, 0.3}) {
        std::vector<Pair> x;
        for (int v = 0; v < nvec; ++v) x.push_back(Make(10 + static_cast<unsigned>(v)));
        Pair z = Make(99);
        std::vector<double> c(static_cast<std::size_t>(nvec));
        for (int v = 0; v < nvec; ++v) c[static_cast<std::size_t>(v)] = 0.25 * v - 0.6;
        c[0] = c0;
        std::vector<N_Vector> xs, xf;
        for (const Pair& p : x) {
          xs.push_back(p.stock.get());
          xf.push_back(p.fast.get());
        }
        N_Vector zs = z_is_first ? xs[0] : z.stock.get();
        N_Vector zf = z_is_first ? xf[0] : z.fast.get();
        ASSERT_EQ(N_VLinearCombination(nvec, c.data(), xs.data(), zs), 0);
        ASSERT_EQ(N_VLinearCombination(nvec, c.data(), xf.data(), zf), 0);
        ExpectIdentical(z_is_first ? x[0] : z);
      }
    }
  }
}

TEST_P(NVectorKernels, ScaleAddMultiAndElementwiseOpsMatchSerial) {
  Pair x = Make(1), y0 = Make(2), y1 = Make(3), z0 = Make(4), z1 = Make(5);
  double a[] = {0.5, -2.0};
  N_Vector ys[] = {y0.stock.get(), y1.stock.get()}, yf[] = {y0.fast.get(), y1.fast.get()};
  N_Vector zs[] = {z0.stock.get(), y1.stock.get()}, zf[] = {z0.fast.get(), y1.fast.get()};
  ASSERT_EQ(N_VScaleAddMulti(2, a, x.stock.get(), ys, zs), 0);
  ASSERT_EQ(N_VScaleAddMulti(2, a, x.fast.get(), yf, zf), 0);
  ExpectIdentical(z0);
  ExpectIdentical(y1);
  for (const double c : {1.0, -1.0, 0.7}) {
    Pair out = Make(6);
    N_VScale(c, x.stock.get(), out.stock.get());
    N_VScale(c, x.fast.get(), out.fast.get());
    ExpectIdentical(out);
    N_VScale(c, out.stock.get(), out.stock.get());
    N_VScale(c, out.fast.get(), out.fast.get());
    ExpectIdentical(out);
  }
  Pair out = Make(7);
  N_VProd(x.stock.get(), y0.stock.get(), out.stock.get());
  N_VProd(x.fast.get(), y0.fast.get(), out.fast.get());
  ExpectIdentical(out);
  N_VDiv(x.stock.get(), y0.stock.get(), out.stock.get());
  N_VDiv(x.fast.get(), y0.fast.get(), out.fast.get());
  ExpectIdentical(out);
  N_VAbs(x.stock.get(), out.stock.get());
  N_VAbs(x.fast.get(), out.fast.get());
  ExpectIdentical(out);
  N_VInv(x.stock.get(), out.stock.get());
  N_VInv(x.fast.get(), out.fast.get());
  ExpectIdentical(out);
  N_VAddConst(x.stock.get(), 0.125, out.stock.get());
  N_VAddConst(x.fast.get(), 0.125, out.fast.get());
  ExpectIdentical(out);
  N_VConst(-3.5, out.stock.get());
  N_VConst(-3.5, out.fast.get());
  ExpectIdentical(out);
}

TEST_P(NVectorKernels, ReductionsMatchSerialExactly) {
  Pair x = Make(1), w = Make(2), y0 = Make(3), y1 = Make(4);
  EXPECT_EQ(N_VDotProd(x.stock.get(), w.stock.get()), N_VDotProd(x.fast.get(), w.fast.get()));
  EXPECT_EQ(N_VMaxNorm(x.stock.get()), N_VMaxNorm(x.fast.get()));
  EXPECT_EQ(N_VWrmsNorm(x.stock.get(), w.stock.get()), N_VWrmsNorm(x.fast.get(), w.fast.get()));
  EXPECT_EQ(N_VWSqrSumLocal(x.stock.get(), w.stock.get()),
            N_VWSqrSumLocal(x.fast.get(), w.fast.get()));
  N_Vector ys[] = {y0.stock.get(), y1.stock.get()}, yf[] = {y0.fast.get(), y1.fast.get()};
  double ds[2], df[2];
  ASSERT_EQ(N_VDotProdMulti(2, x.stock.get(), ys, ds), 0);
  ASSERT_EQ(N_VDotProdMulti(2, x.fast.get(), yf, df), 0);
  EXPECT_EQ(ds[0], df[0]);
  EXPECT_EQ(ds[1], df[1]);
}

TEST_P(NVectorKernels, ClonesInheritTheKernels) {
  const Pair x = Make(1);
  NVectorPtr clone(N_VClone(x.fast.get()));
  EXPECT_EQ(clone->ops->nvlinearcombination, x.fast->ops->nvlinearcombination);
  EXPECT_NE(clone->ops->nvlinearcombination, x.stock->ops->nvlinearcombination);
}

// 1 and 7: below the block; 512: one block; 1 500: three blocks, the last partial.
INSTANTIATE_TEST_SUITE_P(Lengths, NVectorKernels, ::testing::Values(1, 7, 512, 1500));

}  // namespace
}  // namespace snode
