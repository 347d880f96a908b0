#include "core/dense_kernels.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>

#include "core/errors.hpp"

// The variants this build compiled (core/CMakeLists.txt defines SNODE_DENSE_HAVE_<variant>).
#define SNODE_DECLARE_DENSE_VARIANT(name)                                                         \
  namespace snode::dense_variant::name {                                                          \
  void Gemm(bool transpose_a, bool transpose_b, std::ptrdiff_t m, std::ptrdiff_t n,               \
            std::ptrdiff_t k, double alpha, const double* a, std::ptrdiff_t lda, const double* b, \
            std::ptrdiff_t ldb, double beta, double* c, std::ptrdiff_t ldc);                      \
  }
#ifdef SNODE_DENSE_HAVE_sse2
SNODE_DECLARE_DENSE_VARIANT(sse2)
#endif
#ifdef SNODE_DENSE_HAVE_avx2
SNODE_DECLARE_DENSE_VARIANT(avx2)
#endif
#ifdef SNODE_DENSE_HAVE_avx512
SNODE_DECLARE_DENSE_VARIANT(avx512)
#endif
#ifdef SNODE_DENSE_HAVE_native
SNODE_DECLARE_DENSE_VARIANT(native)
#endif
#ifdef SNODE_DENSE_HAVE_baseline
SNODE_DECLARE_DENSE_VARIANT(baseline)
#endif

namespace snode {
namespace {

using GemmFunction = void (*)(bool, bool, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t, double,
                              const double*, std::ptrdiff_t, const double*, std::ptrdiff_t, double,
                              double*, std::ptrdiff_t);

struct Variant {
  const char* name;
  GemmFunction gemm;
  bool (*runs_here)();
};

bool Always() { return true; }

#if defined(__x86_64__)
bool HasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi2");
}
// x86-64-v4: the AVX-512 subsets -march=x86-64-v4 compiles for.
bool HasAvx512() {
  return HasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd");
}
#endif

// Best last.
constexpr Variant kVariants[] = {
#ifdef SNODE_DENSE_HAVE_baseline
    {"baseline", dense_variant::baseline::Gemm, Always},
#endif
#ifdef SNODE_DENSE_HAVE_sse2
    {"sse2", dense_variant::sse2::Gemm, Always},
#endif
#ifdef SNODE_DENSE_HAVE_avx2
    {"avx2", dense_variant::avx2::Gemm, HasAvx2},
#endif
#ifdef SNODE_DENSE_HAVE_avx512
    {"avx512", dense_variant::avx512::Gemm, HasAvx512},
#endif
#ifdef SNODE_DENSE_HAVE_native
    {"native", dense_variant::native::Gemm, Always},
#endif
};

const Variant* FindAvailable(const std::string& name) {
  for (const Variant& variant : kVariants) {
    if (name == variant.name && variant.runs_here()) return &variant;
  }
  return nullptr;
}

std::string AvailableList() {
  std::string list;
  for (const std::string& name : AvailableDenseKernelVariants())
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

const Variant* ChooseAtStart() {
  if (const char* forced = std::getenv("SNODE_DENSE_ISA"); forced != nullptr && *forced != '\0') {
    if (const Variant* variant = FindAvailable(forced)) return variant;
    throw ConfigError("SNODE_DENSE_ISA=" + std::string(forced) +
                      ": not a dense-kernel variant this build and processor can run; available: " +
                      AvailableList());
  }
  const Variant* best = nullptr;
  for (const Variant& variant : kVariants) {
    if (variant.runs_here()) best = &variant;
  }
  return best;
}

std::atomic<const Variant*> g_current{nullptr};

const Variant& Current() {
  const Variant* variant = g_current.load(std::memory_order_acquire);
  if (variant == nullptr) {
    variant = ChooseAtStart();
    g_current.store(variant, std::memory_order_release);
  }
  return *variant;
}

}  // namespace

void DenseGemm(DenseOp op_a, DenseOp op_b, Index m, Index n, Index k, double alpha, const double* a,
               Index lda, const double* b, Index ldb, double beta, double* c, Index ldc) {
  Current().gemm(op_a == DenseOp::kTranspose, op_b == DenseOp::kTranspose, m, n, k, alpha, a, lda,
                 b, ldb, beta, c, ldc);
}

void DenseProduct(const ConstDenseView& a, DenseOp op_a, const ConstDenseView& b, DenseOp op_b,
                  DenseView c, double beta) {
  const bool ta = op_a == DenseOp::kTranspose;
  const bool tb = op_b == DenseOp::kTranspose;
  const Index m = ta ? a.cols() : a.rows();
  const Index k = ta ? a.rows() : a.cols();
  const Index n = tb ? b.rows() : b.cols();
  if ((tb ? b.cols() : b.rows()) != k || c.rows() != m || c.cols() != n) {
    throw ConfigError("DenseProduct: op(a) is " + std::to_string(m) + " x " + std::to_string(k) +
                      ", op(b) " + std::to_string(tb ? b.cols() : b.rows()) + " x " +
                      std::to_string(n) + ", c " + std::to_string(c.rows()) + " x " +
                      std::to_string(c.cols()));
  }
  DenseGemm(op_a, op_b, m, n, k, 1.0, a.data(), a.outerStride(), b.data(), b.outerStride(), beta,
            c.data(), c.outerStride());
}

std::string DenseKernelVariant() { return Current().name; }

std::vector<std::string> AvailableDenseKernelVariants() {
  std::vector<std::string> names;
  for (const Variant& variant : kVariants) {
    if (variant.runs_here()) names.emplace_back(variant.name);
  }
  return names;
}

void UseDenseKernelVariant(const std::string& name) {
  const Variant* variant = FindAvailable(name);
  if (variant == nullptr) {
    throw ConfigError(
        "dense-kernel variant '" + name +
        "' is not available in this build on this processor; available: " + AvailableList());
  }
  g_current.store(variant, std::memory_order_release);
}

}  // namespace snode
