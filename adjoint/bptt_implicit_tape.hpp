#pragma once
// Forward tape of bptt's implicit methods: backward Euler, z_{n+1} = z_n + h f(t_{n+1}, z_{n+1}),
// and DIRK (sdirk), Y_i = z_n + h Σ_{j<i} a_ij K_j + h a_ii f(t_i, Y_i), K_i = f(t_i, Y_i),
// z_{n+1} = z_n + h Σ_i b_i K_i. Each stage equation is solved by Newton iteration to
// ‖Δ‖∞ ≤ 1e-14·‖z‖∞ (bptt_stage_solve.hpp for the linear systems), so the forward map is the
// implicit map itself up to round-off. Stores z_{n+1} and every stage state the reverse pass
// needs and accumulates the loss terms (and the running cost) on the way.

#include "adjoint/bptt_tape.hpp"

namespace snode {
namespace detail {

// Records every step of the tape (after BpttTape::Begin). Throws NumericalError when Newton does
// not converge or a state is NaN/Inf, and whatever the field or the loss throws.
void RecordImplicitSteps(BpttTape& tape);

}  // namespace detail
}  // namespace snode
