// The dense products (core/dense_kernels.hpp) in every instruction-set variant this processor
// runs, on the shapes of the MNIST ODE-Net's products, beside OpenBLAS's DGEMM when the build
// found it (SNODE_BENCH_OPENBLAS): the measurement behind docs/decisions.md, "Dense kernels chosen
// at run time".
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/dense_kernels.hpp"

#ifdef SNODE_BENCH_OPENBLAS
#include <cblas.h>
#endif

namespace snode {
namespace {

struct Shape {
  const char* name;
  bool transpose_a, transpose_b;
  Index m, n, k;
};

// W4: the ODE block's layer (64 × 65 · 65 × 128), its state and parameter VJPs, the 784-input
// layer and its weight gradient; a batch-8 layer of width 32.
constexpr Shape kShapes[] = {
    {"block_F_64x128x65", false, false, 64, 128, 65},
    {"block_VjpState_65x128x64_At", true, false, 65, 128, 64},
    {"block_VjpParams_65x64x128_Bt", false, true, 65, 64, 128},
    {"input_64x128x784", false, false, 64, 128, 784},
    {"input_grad_64x784x128_Bt", false, true, 64, 784, 128},
    {"batch8_32x8x32", false, false, 32, 8, 32},
};

struct Operands {
  std::vector<double> a, b, c;
  Index lda, ldb;
  explicit Operands(const Shape& s)
      : lda(s.transpose_a ? s.k : s.m), ldb(s.transpose_b ? s.n : s.k) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    a.resize(static_cast<std::size_t>(s.m * s.k));
    b.resize(static_cast<std::size_t>(s.k * s.n));
    c.resize(static_cast<std::size_t>(s.m * s.n));
    for (double& x : a) x = u(rng);
    for (double& x : b) x = u(rng);
  }
};

void SetRate(benchmark::State& state, const Shape& s) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseGemm(benchmark::State& state, const std::string& variant, const Shape& s) {
  UseDenseKernelVariant(variant);
  Operands x(s);
  for (auto _ : state) {
    DenseGemm(s.transpose_a ? DenseOp::kTranspose : DenseOp::kNone,
              s.transpose_b ? DenseOp::kTranspose : DenseOp::kNone, s.m, s.n, s.k, 1.0, x.a.data(),
              x.lda, x.b.data(), x.ldb, 0.0, x.c.data(), s.m);
    benchmark::DoNotOptimize(x.c.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, s);
}

#ifdef SNODE_BENCH_OPENBLAS
void BM_OpenBlasGemm(benchmark::State& state, const Shape& s) {
  openblas_set_num_threads(1);  // one thread, like every other figure
  Operands x(s);
  for (auto _ : state) {
    cblas_dgemm(CblasColMajor, s.transpose_a ? CblasTrans : CblasNoTrans,
                s.transpose_b ? CblasTrans : CblasNoTrans, static_cast<int>(s.m),
                static_cast<int>(s.n), static_cast<int>(s.k), 1.0, x.a.data(),
                static_cast<int>(x.lda), x.b.data(), static_cast<int>(x.ldb), 0.0, x.c.data(),
                static_cast<int>(s.m));
    benchmark::DoNotOptimize(x.c.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, s);
  state.SetLabel(openblas_get_corename());
}
#endif

}  // namespace
}  // namespace snode

int main(int argc, char** argv) {
  using namespace snode;
  for (const std::string& variant : AvailableDenseKernelVariants()) {
    for (const Shape& s : kShapes) {
      benchmark::RegisterBenchmark(("DenseGemm/" + variant + "/" + s.name).c_str(), BM_DenseGemm,
                                   variant, s);
    }
  }
#ifdef SNODE_BENCH_OPENBLAS
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("OpenBlasGemm/") + s.name).c_str(), BM_OpenBlasGemm,
                                 s);
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
