#pragma once
// Dense matrix products whose instruction set is chosen when the program starts.
//
// The portable build is compiled for the x86-64 baseline (SSE2), which would leave the matrix
// products of batched networks at a third of what the machine can do. The products below are
// compiled several times — for SSE2, for x86-64-v3 (AVX2 + FMA) and for x86-64-v4 (AVX-512) —
// and the first call picks the best variant the processor supports (docs/decisions.md,
// "Dense kernels chosen at run time"). A native build (-DSNODE_NATIVE=ON) and other processors
// compile one variant with the build's own flags.
//
// Layout: BLAS conventions. Matrices are column-major with a leading dimension (the distance
// between columns, ≥ the number of rows); a row-major r × c matrix with row stride s is the
// column-major c × r matrix with leading dimension s, i.e. its transpose.
//
// The variants compute the same products with different vector widths, so results differ in the
// last bits (summation order, fused multiply-adds), never more than a few ulps times k.
//
// SNODE_DENSE_ISA=sse2|avx2|avx512 in the environment forces a variant (for measurements and
// tests); a variant the processor or the build lacks is a ConfigError at the first product.

#include <string>
#include <vector>

#include "core/types.hpp"

namespace snode {

enum class DenseOp { kNone, kTranspose };

// C (m × n) = alpha · op(A) · op(B) + beta · C, with op(A) m × k and op(B) k × n.
// beta = 0 overwrites C without reading it (C may hold NaN). Does not allocate for products of
// the sizes of a network layer (Eigen's blocking buffers live on the stack up to 128 KiB).
void DenseGemm(DenseOp op_a, DenseOp op_b, Index m, Index n, Index k, double alpha, const double* a,
               Index lda, const double* b, Index ldb, double beta, double* c, Index ldc);

// The same product for column-major Eigen matrices, maps and blocks with unit inner stride:
// c = op(a) · op(b) + beta · c. c must already have the product's size (ConfigError otherwise).
using ConstDenseView = Eigen::Ref<const Matrix, 0, Eigen::OuterStride<>>;
using DenseView = Eigen::Ref<Matrix, 0, Eigen::OuterStride<>>;
void DenseProduct(const ConstDenseView& a, DenseOp op_a, const ConstDenseView& b, DenseOp op_b,
                  DenseView c, double beta = 0.0);

// The variant the products run with: "sse2", "avx2", "avx512" or "native" (a build for one
// machine), "baseline" on processors other than x86-64.
std::string DenseKernelVariant();

// The variants this build holds and this processor can run, best last.
std::vector<std::string> AvailableDenseKernelVariants();

// Uses `name` from now on (tests and benchmarks). Throws ConfigError if it is not available.
void UseDenseKernelVariant(const std::string& name);

}  // namespace snode
