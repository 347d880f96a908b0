#pragma once
// Compiled replacements for the hot serial N_Vector operations (linear sums and combinations,
// scaling, element-wise products, weighted norms, dot products). They compute what
// N_Vector_Serial computes, in the same order, so results are unchanged bit for bit in a portable
// build; they exist because the packaged SUNDIALS kernels are unoptimised (core/nvector.cpp).
#include <nvector/nvector_serial.h>

#include "core/compensated_sum.hpp"

namespace snode::detail {

// Points v's operation table (shared by its clones, which copy it) at the compiled kernels.
// v must be a serial N_Vector.
void InstallFastKernels(N_Vector v);
// The element-wise ones alone (everything but the reductions), for any N_Vector whose local data
// AsEigen sees (core/nvector.hpp): the local part of SUNDIALS' MPI vector, whose reductions stay
// its own (they need communication).
void InstallFastElementwiseKernels(N_Vector v);
// The same local parts as compensated sums of the rounded products x_i·y_i and (x_i w_i)²: those
// terms do not depend on how the vector is split, and their compensated sum hardly on the order.
CompensatedSum LocalDotProdCompensated(N_Vector x, N_Vector y);
CompensatedSum LocalWSqrSumCompensated(N_Vector x, N_Vector w);

}  // namespace snode::detail
