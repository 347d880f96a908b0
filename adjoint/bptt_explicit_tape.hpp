#pragma once
// Forward tape of bptt's explicit Runge–Kutta methods (euler, heun, rk4, dopri5): records the
// steps t_0 < … < t_N of the tape with the integrator's tableau,
//   Y_i = z_n + h Σ_{j<i} a_ij K_j,  K_i = f(t_n + c_i h, Y_i),  z_{n+1} = z_n + h Σ_i b_i K_i,
// storing z_{n+1} and the stage states the reverse pass needs. Stage slopes are taken from the
// recording solve when the tape allows it (adaptive replay), first-same-as-last slopes are
// reused, and the loss terms at the outputs (and the running cost) are accumulated on the way.

#include "adjoint/bptt_tape.hpp"

namespace snode {
namespace detail {

// Records every step of the tape (after BpttTape::Begin). Throws NumericalError for a NaN/Inf
// state, and whatever the field or the loss throws.
void RecordExplicitSteps(BpttTape& tape);

}  // namespace detail
}  // namespace snode
