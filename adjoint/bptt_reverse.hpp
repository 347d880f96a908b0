#pragma once
// The reverse pass of bptt: walks a recorded tape (bptt_explicit_tape.hpp,
// bptt_implicit_tape.hpp) from the last step to the first, λ = ∂L/∂z_{n+1}:
//   explicit RK: for i = s…1: ḡ_i = h b_i λ + h Σ_{j>i} a_ji μ_j,
//                μ_i = (∂f/∂z(Y_i))ᵀ ḡ_i,  dL/dθ += (∂f/∂θ(Y_i))ᵀ ḡ_i,  ∂L/∂z_n = λ + Σ_i μ_i;
//   backward Euler: (I − h J(z_{n+1}))ᵀ x = λ,  dL/dθ += h (∂f/∂θ(z_{n+1}))ᵀ x,  ∂L/∂z_n = x;
//   DIRK: for i = s…1: (I − h a_ii J(Y_i))ᵀ κ_i = h b_i λ + h Σ_{j>i} a_ji ν_j,
//         ν_i = J(Y_i)ᵀ κ_i,  dL/dθ += (∂f/∂θ(Y_i))ᵀ κ_i,  ∂L/∂z_n = λ + Σ_i ν_i;
// adding ∂ℓ_k/∂z(t_k) to λ at every output step, and the adjoint of the interpolated outputs
// and of the running cost where there are any.

#include "adjoint/bptt_tape.hpp"

namespace snode {
namespace detail {

// Accumulates dL/dθ into tape.result.dtheta and leaves dL/dz0 in tape.w.lambda. Throws
// NumericalError when the result is not finite or a transposed GMRES solve fails, and whatever
// the field or the loss throws.
void WalkBackward(BpttTape& tape);

}  // namespace detail
}  // namespace snode
