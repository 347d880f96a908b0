#pragma once
// Compiled replacements for the hot serial N_Vector operations (linear sums and combinations,
// scaling, element-wise products, weighted norms, dot products). They compute what
// N_Vector_Serial computes, in the same order, so results are unchanged bit for bit in a portable
// build; they exist because the packaged SUNDIALS kernels are unoptimised (core/nvector.cpp).
#include <nvector/nvector_serial.h>

namespace snode::detail {

// Points v's operation table (shared by its clones, which copy it) at the compiled kernels.
// v must be a serial N_Vector.
void InstallFastKernels(N_Vector v);

}  // namespace snode::detail
