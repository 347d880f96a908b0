#pragma once
// CvodesAdjoint ("cvodes_adjoint"): L and dL/dθ, dL/dz0, dL/dφ by the continuous adjoint method
// of CVODES (checkpointed forward solve CVodeF, backward solve CVodeB, backward quadrature).
//
// Problem: z' = f(t, z; θ), z(t0) = z0, loss L = Σ_i ℓ_i(z(t_i)) + ∫_{t0}^{T} g(t, z) dt with
// T = t_N the last output time. The adjoint a(t) = ∂L/∂z(t) (SUNDIALS' yB) solves, backward from
// a(T) = ∂ℓ_N/∂z,
//     da/dt = −(∂f/∂z)ᵀ a − (∂g/∂z)ᵀ                     (fB; −VjpState − RunningCostGradient)
//     dq/dt = −(∂f/∂θ)ᵀ a,  q(T) = 0                      (fQB; −VjpParams)
// with the jump a(t_i⁻) = a(t_i⁺) + ∂ℓ_i/∂z(z(t_i)) at every earlier output time (CVodeReInitB +
// CVodeQuadReInitB carrying the current q). Then dL/dz0 = a(t0) and dL/dθ = q(t0) (the sign of fQB
// is chosen so that no negation is needed; SUNDIALS' cvsRoberts_ASAi_dns uses +f_pᵀλ and prints
// −qB). The running cost's value ∫ g dt is a forward quadrature (CVodeQuadInit).
//
// Forward: GradientOptions::integrator must be a CVODES integrator, i.e. declare a
// cvodes_method (IntegratorCapabilities; the CVODES memory is created with that method): BDF +
// Newton ("cvodes_bdf"; linear_solver "dense" uses the field's DenseJacobian, "gmres"/"fgmres"
// SPGMR/SPFGMR with Jvp, preconditioned as options.preconditioner says: the field's kForward side
// forward, its kTransposed side with γ = −γB backward; docs/methods/cvodes-adjoint.md) or Adams +
// fixed-point iteration ("cvodes_adams", no Jacobian). The stop time is the last output time T, so
// the forward ends exactly at T; intermediate output times are read from CVODES' dense output
// (CVodeGetDky) of the step that contains them (see docs/gradients.md for why they are not stop
// times). Checkpoints every CvodesAdjointOptions::checkpoint_interval steps, Hermite or polynomial
// interpolation (CvodesAdjointOptions::interpolation).
//
// Backward: backward_integrator "" (the forward's) or any registered integrator, chosen by what
// it declares (ChooseCvodesBackward, adjoint/cvodes_strategy_choice.hpp), never by its name:
// a cvodes_method (cvodes_bdf — dense: −(∂f/∂z)ᵀ from DenseJacobian; gmres: jtimesB =
// −VjpState —, cvodes_adams: fixed point) runs CVODES' own backward integration (CVodeB);
// the kind kExponential (epi2), or no step hook: the backward system [a, q] is linear in a, so
// the integrator solves it on a time-reversed wrapper field (s = −t), one observation interval
// at a time with the jumps between the solves, using a cubic Hermite interpolant of the forward
// solution recorded at every forward step (memory grows with the number of steps then);
// otherwise (a step hook, e.g. "dopri5") the "interpolating adjoint". The forward records each
// CVODES step's interpolating polynomial (Σ_j z^{(j)}(t_k)/j!·(t − t_k)^j, CVodeGetDky); the
// backward solves da/ds = (∂f/∂z)ᵀ a + (∂g/∂z)ᵀ (s = −t), with output jumps in one Solve with the
// jumps applied at the output times (step size kept), without them one Solve per observation
// interval, and dL/dθ summed by 3-point Gauss–Legendre over each backward step
// (OdeProblem::after_step).
//
// Parameter quadrature with a CVODES backward (CvodesAdjointOptions::quadrature): "cvodes" is
// the fQB quadrature above under error control; "gauss" drops it and, with CVodeB in
// CV_ONE_STEP mode, adds ∫ (∂f/∂θ)ᵀ a dt over each backward step by 3-point Gauss–Legendre
// (a from the backward dense output, z from the recorded forward polynomials, split at the
// forward steps); "auto" = gauss when P > 8·n (for neural fields the CVODES quadrature's O(P)
// vector work per step dominates), and for P ≤ 8·n both: the CVODES quadrature under error control
// chooses the steps (with the Gauss rule alone, SUNDIALS' Robertson example is 0.5% off in dG/dk₁)
// and the Gauss value on those steps is returned (the CVODES value is up to 300× less accurate in
// its worst component). Measured on decay, two-rate decay, Robertson (final-time and 50-
// observation losses), Lotka–Volterra, a stiff non-normal 4 × 4 system and van der Pol μ = 1e3,
// at rtol/atol 1e-4/1e-6, 1e-6/1e-8, 1e-10/1e-12: the default is within 10·rtol on the stiff ones
// at the first two levels and within 45·rtol at the third; the table, reproduced by
//   build/tests/cvodes_accuracy_test --gtest_filter=CvodesAccuracy.QuadratureTable
// is in docs/methods/cvodes-adjoint.md.
//
// Run-time diagnosis (GradientStats::error_estimate, flagged above 100·rtol, rtol the larger of
// the forward and backward rtol): with "auto" for P ≤ 8·n, the difference of the two quadratures,
// max_i |q_i − g_i| / max(|g_i|, 1e-3·‖[g; dL/dz0]‖_∞); with the exponential backward (epi2), the
// difference to a BDF solve (cvodes_bdf, GMRES) of the same reversed system (epi2 stalls at ≈3e-7
// on a stiff van der Pol oscillator however tight its tolerances; the check's evaluations are not
// counted in the statistics). NaN (no estimate) otherwise.
//
// Jump layer (CvodesAdjointOptions::jump_layer, adjoint/jump_layer.hpp): with a CVODES
// backward, at the top t_i of each segment [t_{i−1}, t_i] (right after a jump, and at T) the
// linear backward system w = [a; q] is first integrated over [t_i − δ, t_i] by graded CF4 Magnus
// steps with exact m × m exponentials (m = n + p (+ 1), dense J from DenseJacobian, F_θ from n
// unit VjpParams), δ = 40/r_min with r_min the slowest decay rate −Re μ of ∂f/∂z(z(t_i)) among
// the modes stiff relative to the segment (r·(t_i − t_{i−1}) > 10); then CVodeReInitB at
// t_i − δ continues to t_{i−1} (the layer takes the whole segment when δ ≥ 0.3·its length, and
// is skipped when no mode is stiff). z(t) in the layer comes from the recorded forward step
// polynomials. Limits: m ≤ 64 ("on" throws ConfigError in Compute otherwise); the layer's own
// error is not under the tolerances' control (Robertson on [0, 1e5], a sum loss over 50
// observations: ≈1e-7 relative in dL/dk).
// "auto" enables it only together with the Gauss quadrature and a "cvodes_bdf" backward, and
// not with observations "fundamental".
//
// Observations (CvodesAdjointOptions::observations), with a CVODES backward and the Gauss
// quadrature: "restart" applies each jump to a and restarts CVODES (CVodeReInitB) there, so
// every segment between observations begins again at order 1 with CVODES' first-step estimate.
// "fundamental" integrates instead, in one backward solve, Y = [U, v] with
//     dU/dt = −(∂f/∂z)ᵀ U,  U(T) = I        (n columns, fB applied column by column)
//     dv/dt = −(∂f/∂z)ᵀ v − (∂g/∂z)ᵀ, v(T) = 0   (only with a running cost)
// so that a(t) = U(t) c + v(t) with c = ∂ℓ_N/∂z + Σ_{t_i ≥ t} U(t_i)⁻¹ ∂ℓ_i/∂z: the jumps change
// the constant c, not the solution CVODES integrates, and the Gauss quadrature of (∂f/∂θ)ᵀ a
// is split at the observations where c changes. U(t_i) is factorised at each observation; where
// its 1-norm condition number exceeds 1e3 (stiff decay: the columns align) the solve restarts
// there from a(t_i⁻) with U = I, v = 0. The backward BDF's linear systems are block diagonal
// (dense: the n × n block −(∂f/∂z)ᵀ repeated; gmres: the VJP per column). "auto" = fundamental
// for n ≤ 8 when the Gauss quadrature is used without the jump layer and at least n output times
// lie strictly inside (t0, T). Cost per fB call: n (+ 1) VJPs sharing one forward pass of the
// field.
//
// Reuse: SUNDIALS objects are created on the first Compute and re-initialised on later calls
// (CVodeReInit + CVodeAdjReInit + CVodeReInitB + CVodeQuadReInitB) while the state size and the
// parameter count, whether the loss has a running cost and (with "auto") the choice of the
// fundamental matrix stay the same; otherwise they are re-created.
//
// Statistics (GradientStats): with the jump layer, backward_steps also counts its CF4 steps,
// vjp_evals its VjpParams calls and stored_bytes the recorded forward polynomials.
// forward_rhs_evals = f calls of the forward pass;
// backward_rhs_evals = fB calls + f calls recomputing the forward from checkpoints;
// vjp_evals = VjpState + VjpParams calls; steps from CVODES (backward summed over the segments
// between output times, because CVodeReInitB resets the counters); checkpoints = ncheck;
// backward_restarts = CVodeReInitB calls (backward solves started);
// stored_bytes = 8·Σ_k (q_k + 1)·(n + 1) over the ncheck + 1 checkpoints (Nordsieck arrays of
// order q_k, state plus the running-cost quadrature) + 8·(Nd + 1)·m·n for the interpolation
// buffer (m = 2 Hermite: y and y'; m = 1 polynomial). With the exponential strategy (epi2, or a
// backward without a step hook): no checkpoints,
// stored_bytes = 8·(steps + 1)·(2n + 1) for the recorded forward steps, backward_rhs_evals =
// evaluations of the reversed field and vjp_evals = 2 per evaluation or JVP of it. With a
// registry backward: no checkpoints, stored_bytes = the recorded polynomials (8 bytes per
// coefficient and step time, 4 per step order), backward_rhs_evals = evaluations of the reversed
// field, vjp_evals = its VJPs + 3 per Gauss–Legendre piece. With "gauss" (and "auto" for
// P ≤ 8·n, which also counts CVODES' quadrature's fQB calls), vjp_evals also counts
// the quadrature's VjpParams calls (1–3 per piece, by the backward step's order) and, with the
// fundamental matrix, n (+ 1) per fB call; stored_bytes adds the recorded polynomials
// (so it grows with the forward steps then, ≈ 8·(q + 1)·n bytes per step).
//
// Throws: ConfigError for an unsupported integrator/backward integrator or bad options (in the
// constructor; jump_layer "on" or observations "fundamental" with a non-CVODES backward) or a
// bad problem (and for jump_layer "on" with n + p (+ 1) > 64, or observations "fundamental"
// without the Gauss quadrature or with the jump layer);
// SundialsError naming the CVODES call, flag, t and a remedy; NumericalError when f or a product
// kept returning NaN/Inf (with the jump layer also when the Jacobian, F_θ or the layer's result is
// not finite); and rethrows whatever the field or the loss threw inside a callback.
//
// Implementation (internal headers): the forward pass is CvodesForward
// (adjoint/cvodes_forward.hpp), each backward algorithm a BackwardStrategy in its own file
// (adjoint/cvodes_backward.hpp), chosen by ChooseCvodesBackward
// (adjoint/cvodes_strategy_choice.hpp).

#include <memory>
#include <string>

#include "adjoint/cvodes_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"

namespace snode {

class CvodesAdjoint final : public GradientMethod {
 public:
  // Validates options (ConfigError naming the offending option or integrator).
  explicit CvodesAdjoint(const GradientOptions& options, CvodesAdjointOptions cvodes_options = {});
  ~CvodesAdjoint() override;
  CvodesAdjoint(const CvodesAdjoint&) = delete;
  CvodesAdjoint& operator=(const CvodesAdjoint&) = delete;

  std::string name() const override { return "cvodes_adjoint"; }
  const GradientOptions& options() const override { return options_; }
  const CvodesAdjointOptions& method_options() const { return cvodes_options_; }
  LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) override;

 private:
  struct Impl;  // SUNDIALS state; defined in the .cpp so no CVODES header leaks out
  GradientOptions options_;
  CvodesAdjointOptions cvodes_options_;
  // What the forward and backward integrators declare (the strategy is chosen from these).
  IntegratorCapabilities forward_capabilities_, backward_capabilities_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace snode
