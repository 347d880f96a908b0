#pragma once
// CentralDifferenceGradient: the finite-difference reference for every gradient method.
//
//   dL/dθ_i  ≈ (L(θ + h_i e_i) − L(θ − h_i e_i)) / (2 h_i),  h_i = 1e-6·max(1, |θ_i|),
//   dL/dz0_j ≈ (L(z0 + h_j e_j) − L(z0 − h_j e_j)) / (2 h_j), h_j = 1e-6·max(1, |z0_j|),
//
// where L is EvaluateLoss() through a fresh integrator options.integrator created with
// options.integrator_options (running cost included). dL/dφ (the loss's read-out parameters) is
// not differenced: EvaluateLoss returns it exactly. The result differentiates the *discrete* map
// of that integrator: with a fixed step it is the derivative BPTT must reproduce; with an adaptive
// integrator L(θ) is only piecewise smooth at the level of the tolerance, so use tight tolerances
// (rtol 1e-10, atol 1e-12) when comparing with continuous adjoints.
//
// Cost: 2·(P + n) + 1 forward solves. It is a plain function, not a registered gradient method:
// it is the reference the registered methods are tested against.
//
// Inputs: problem (validated), loss, options (validated; only integrator and integrator_options
// are used). Output: LossAndGradient with loss, dtheta (P), dz0 (n), dreadout
// (num_readout_params(), empty if 0), forward = the unperturbed solve, and stats
// (forward_rhs_evals and forward_steps summed over all solves, wall_seconds).
// Throws ConfigError for bad options, an unknown integrator or a bad problem, and whatever the
// integrator throws.

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"

namespace snode {

LossAndGradient CentralDifferenceGradient(const OdeProblem& problem, const Loss& loss,
                                          const GradientOptions& options);

}  // namespace snode
