#pragma once
// ForwardSensitivityGradient: an independent reference gradient by CVODES forward sensitivity
// analysis, sharing no code with bptt, backsolve_adjoint or cvodes_adjoint.
//
// The state z and the sensitivities S = [∂z/∂θ, ∂z/∂z0] (n × (P + n)) are integrated together,
//   z' = f(t, z; θ),   S_j' = (∂f/∂z) S_j + ∂f/∂θ_j  (j < P),   S_{P+i}' = (∂f/∂z) S_{P+i},
//   S(t0) = [0, I],
// by CVODES BDF with a dense Newton solver (the field's DenseJacobian) and the staggered corrector
// with the sensitivities under the same error control as the state (rtol, and atol for every
// component of z and of each S_j). ∂f/∂θ is assembled row by row from VjpParams with unit vectors
// (n VJPs per evaluation point, so meant for small state sizes). At every output time t_k,
//   L += ℓ_k(z(t_k)),  dL/dθ += S_θ(t_k)ᵀ ∂ℓ_k/∂z,  dL/dz0 += S_z0(t_k)ᵀ ∂ℓ_k/∂z.
// Every output time is a stop time (no interpolation).
//
// Inputs: problem (validated), loss without running cost and without read-out parameters
// (ConfigError otherwise), rtol > 0, atol > 0, max_steps > 0 (steps per output interval).
// Output: loss, dtheta (P), dz0 (n), forward = the states at the output times, and stats
// (forward_steps, forward_rhs_evals, jvp_evals = the sensitivity right-hand sides' JVPs,
// vjp_evals = the VJPs that assemble ∂f/∂θ, wall_seconds).
// Throws ConfigError for bad arguments, SundialsError/NumericalError when the solve fails (the
// message names the call, the flag and t), and whatever the field or the loss throws.

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"

namespace snode {

LossAndGradient ForwardSensitivityGradient(const OdeProblem& problem, const Loss& loss, double rtol,
                                           double atol, long max_steps = 1000000);

}  // namespace snode
