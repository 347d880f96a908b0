// One variant of the dense products (core/dense_kernels.hpp). This file is compiled once per
// instruction set with SNODE_DENSE_VARIANT set to the variant's name and that set's -march flag.
//
// Every inline function Eigen instantiates here is compiled for that instruction set. Were it to
// keep Eigen's name, the linker could keep the AVX-512 copy of, say, a GEMM driver for the whole
// program and run it on a processor without AVX-512. Renaming the namespace makes every Eigen
// symbol of this file distinct from the rest of the program's; the build checks that the object
// defines no other shareable symbol (cmake/check_variant_symbols.cmake).
#define SNODE_CONCAT_INNER(a, b) a##b
#define SNODE_CONCAT(a, b) SNODE_CONCAT_INNER(a, b)
#define Eigen SNODE_CONCAT(EigenDense_, SNODE_DENSE_VARIANT)

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>

namespace snode::dense_variant::SNODE_DENSE_VARIANT {
namespace {

using Index = Eigen::Index;
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
using MutableMap = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;

// A grow-only buffer of doubles. Not std::vector: its member functions would be instantiated here
// for this instruction set under their usual names, shared with the rest of the program.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { delete[] data_; }
  // At least `count` doubles starting at a 64-byte boundary (the widest packet's alignment).
  double* Aligned(std::size_t count) {
    constexpr std::size_t kAlign = 64;
    const std::size_t padded = count + kAlign / sizeof(double);
    if (size_ < padded) {
      delete[] data_;
      data_ = nullptr;
      data_ = new double[padded];
      size_ = padded;
    }
    const auto address = reinterpret_cast<std::uintptr_t>(data_);
    return reinterpret_cast<double*>((address + kAlign - 1) & ~(kAlign - 1));
  }

 private:
  double* data_ = nullptr;
  std::size_t size_ = 0;
};

// Eigen's GEMM packs blocks of A and B into buffers sized from the processor's caches. Above
// 128 KiB it takes them from the heap on every product, and with the AVX-512 block sizes glibc
// then returns the top of the heap to the system after each product and faults the pages back in
// on the next: a 64 × 784 · 784 × 128 product ran 7× slower than with AVX2. The packing buffers
// that large therefore live in per-thread storage that only grows (at most the largest product's
// blocks).
class ReusedBlocking : public Eigen::internal::level3_blocking<double, double> {
 public:
  ReusedBlocking(Index rows, Index cols, Index depth) {
    m_mc = rows;
    m_nc = cols;
    m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<double, double, 1>(m_kc, m_mc, m_nc, Index(1));
    // Blocks within Eigen's stack limit stay on the stack (Eigen's own choice when the pointer
    // is null): a layer of a batched network then allocates nothing, not even on its first call.
    thread_local Buffer buffer_a, buffer_b;
    const auto size_a = static_cast<std::size_t>(m_kc * std::min(rows, m_mc));
    const auto size_b = static_cast<std::size_t>(m_kc * std::min(cols, m_nc));
    if (size_a * sizeof(double) > EIGEN_STACK_ALLOCATION_LIMIT) m_blockA = buffer_a.Aligned(size_a);
    if (size_b * sizeof(double) > EIGEN_STACK_ALLOCATION_LIMIT) m_blockB = buffer_b.Aligned(size_b);
  }
};

// c += alpha · op(A) · op(B) through Eigen's blocked GEMM. A transposed column-major matrix is
// the row-major matrix of the same memory and leading dimension.
template <int LhsOrder, int RhsOrder>
void Blocked(Index m, Index n, Index k, double alpha, const double* a, Index lda, const double* b,
             Index ldb, double* c, Index ldc) {
  ReusedBlocking blocking(m, n, k);
  Eigen::internal::general_matrix_matrix_product<Index, double, LhsOrder, false, double, RhsOrder,
                                                 false, Eigen::ColMajor, 1>::run(m, n, k, a, lda, b,
                                                                                 ldb, c, 1, ldc,
                                                                                 alpha, blocking);
}

// c += alpha · op(A) · op(B) for the products too small for blocking, and for a single row or
// column. A plain loop, not Eigen's coefficient-based product: that one peels to the destination's
// alignment, so the same product at another address could round differently (two fields of one
// shape would disagree in the last bit). Here each c(i, j) sums its k terms in order.
void Small(bool transpose_a, bool transpose_b, Index m, Index n, Index k, double alpha,
           const double* a, Index lda, const double* b, Index ldb, double* c, Index ldc) {
  for (Index j = 0; j < n; ++j) {
    double* c_col = c + j * ldc;
    for (Index l = 0; l < k; ++l) {
      const double b_lj = alpha * (transpose_b ? b[j + l * ldb] : b[l + j * ldb]);
      if (transpose_a) {
        for (Index i = 0; i < m; ++i) c_col[i] += a[l + i * lda] * b_lj;
      } else {
        const double* a_col = a + l * lda;
        for (Index i = 0; i < m; ++i) c_col[i] += a_col[i] * b_lj;
      }
    }
  }
}

// Eigen's own rule for a coefficient-based product: m + n + k < 20.
constexpr Index kCoefficientBasedBelow = 20;

}  // namespace

// The operation flags are plain booleans: no snode type crosses into this file.
void Gemm(bool transpose_a, bool transpose_b, std::ptrdiff_t m, std::ptrdiff_t n, std::ptrdiff_t k,
          double alpha, const double* a, std::ptrdiff_t lda, const double* b, std::ptrdiff_t ldb,
          double beta, double* c, std::ptrdiff_t ldc) {
  if (m <= 0 || n <= 0) return;
  MutableMap c_map(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == 0.0) {
    c_map.setZero();  // C is not read: it may hold NaN
  } else if (beta != 1.0) {
    c_map *= beta;
  }
  if (k <= 0 || alpha == 0.0) return;
  if (m == 1 || n == 1 || m + n + k < kCoefficientBasedBelow) {
    Small(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    return;
  }
  constexpr int kCol = Eigen::ColMajor, kRow = Eigen::RowMajor;
  if (transpose_a) {
    if (transpose_b) {
      Blocked<kRow, kRow>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    } else {
      Blocked<kRow, kCol>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    }
  } else if (transpose_b) {
    Blocked<kCol, kRow>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  } else {
    Blocked<kCol, kCol>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  }
}

}  // namespace snode::dense_variant::SNODE_DENSE_VARIANT
