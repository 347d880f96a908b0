#pragma once
// Bptt ("bptt"): backpropagation through time, i.e. the discrete adjoint
// (discretise-then-optimise) of the integrator's accepted steps. In exact arithmetic it is the
// derivative of the forward map; in floating point the reverse pass can amplify round-off
// catastrophically (an explicit method on a stiff, non-normal problem at a tight tolerance:
// accepted steps beyond the stability interval), so it is exact for its own discrete map only
// when the diagnosis below does not flag it.
//
// Forward: the state is advanced by a framework-owned Runge–Kutta stepper that uses the
// Butcher tableau the integrator declares (IntegratorCapabilities::tableau; the integrator is
// created from IntegratorRegistry() by name, a plug-in exactly like a built-in) on a step sequence
// t_0 < t_1 < … < t_N that contains every output time:
//   * fixed step (options.integrator_options.fixed_step = h > 0): steps of h, the last step of
//     each output interval shortened to land on the output time (as ARKODE does with a stop time);
//   * adaptive (fixed_step = 0; methods that declare error_estimate and records_steps and not
//     needs_fixed_step, e.g. dopri5, sdirk = ARKODE_ESDIRK43I6L2SA_6_3_4): the registered
//     integrator is run once with record_steps = true and its accepted steps are replayed with
//     the same tableau (h_n = t_{n+1} − t_n held constant; no gradient through the controller).
//     Explicit methods evaluate nothing in the replay: the recording solve runs on a wrapper of
//     the field that keeps every f call (t, Y, K), and a replayed stage takes the recorded call
//     with the same time and the same state to 1e-13 relative (its state and slope), falling back
//     to evaluating f when none matches. A field with a saved forward pass
//     (VectorField::FSaving, the MLP's hidden activations) keeps it per call, and the stage's VJP
//     reuses it (VjpSaved) instead of recomputing the forward pass. The record (2n + the field's
//     ForwardSaveSize() doubles per call, rejected attempts included) is bounded by
//     max_trajectory_bytes on its own: past it the remaining stages are evaluated.
// Explicit RK step (stages Y_i, slopes K_i = f(t_n + c_i h, Y_i)):
//   Y_i = z_n + h Σ_{j<i} a_ij K_j,   z_{n+1} = z_n + h Σ_i b_i K_i.
// Backward Euler step: z_{n+1} = z_n + h f(t_{n+1}, z_{n+1}), solved by Newton iteration to
// ‖Δ‖∞ ≤ 1e-14·‖z‖∞ (dense LU of I − hJ, or matrix-free GMRES with Jvp). DIRK (sdirk): each
// stage Y_i = z_n + h Σ_{j<i} a_ij K_j + h a_ii f(t_i, Y_i) is solved the same way.
//
// Reverse (λ = ∂L/∂z_{n+1}, accumulated from the last step to the first):
//   explicit RK: for i = s…1: ḡ_i = h b_i λ + h Σ_{j>i} a_ji μ_j,
//                μ_i = (∂f/∂z(Y_i))ᵀ ḡ_i,   dL/dθ += (∂f/∂θ(Y_i))ᵀ ḡ_i   (fused Vjp),
//                ∂L/∂z_n = λ + Σ_i μ_i;
//   backward Euler: (I − h J(z_{n+1}))ᵀ x = λ,  dL/dθ += h (∂f/∂θ(z_{n+1}))ᵀ x,  ∂L/∂z_n = x;
//   DIRK: for i = s…1: (I − h a_ii J(Y_i))ᵀ κ_i = h b_i λ + h Σ_{j>i} a_ji ν_j,
//         ν_i = J(Y_i)ᵀ κ_i,  dL/dθ += (∂f/∂θ(Y_i))ᵀ κ_i,  ∂L/∂z_n = λ + Σ_i ν_i;
//   at an output step ∂ℓ_k/∂z(t_k) is added to λ. dL/dz0 is λ at n = 0.
// Interpolated outputs (integrator_options.interpolate_outputs; dopri5 and sdirk, adaptive): an
// output t inside step n is the cubic Hermite interpolant of the replayed step, with σ = (t−t_n)/h,
//   z(t) = h00(σ) z_n + h01(σ) z_{n+1} + h h10(σ) K_1 + h h11(σ) K_s
// (K_1 = f(z_n), K_s = f(t_{n+1}, Y_s) with Y_s = z_{n+1}: c_1 = 0, c_s = 1), the same polynomial
// ARKODE's degree-3 dense output evaluates. Its adjoint adds h01 ȳ to λ, h h10 ȳ to ḡ_1,
// h h11 ȳ to ḡ_s and h00 ȳ to ∂L/∂z_n, so the last stage enters the reverse pass.
// Running cost ∫ g(t, z) dt is supported: it is integrated as an extra quadrature component
// q' = g with the same tableau (its adjoint is identically 1, so μ_i gains h b_i ∂g/∂z(Y_i)).
//
// Diagnosis (GradientStats, every Compute(); one ∞-norm per step, no reference needed):
//   amplification  = max_n ‖λ_n‖ / max(‖dL/dz0‖, max_k ‖∂ℓ_k/∂z(t_k)‖)  (≥ 1): how far the
//                    adjoint rose above both of its ends. In exact arithmetic a stable discrete
//                    adjoint stays near them; round-off injected into a mode the steps amplify
//                    shows up as such a hump once it dominates λ (1e15 on the 4×4 non-normal
//                    problem at rtol 1e-10, problems/nonnormal_linear.hpp; 1–10 on decay,
//                    Lotka–Volterra, MLP fields, stiff van der Pol).
//   error_estimate = u · amplification · √N   (u = 2.2e-16, N steps: round-off of every step,
//                    amplified, accumulated as a random walk), an estimate of the relative error
//                    of [dL/dθ; dL/dz0].
//   flagged when error_estimate > rtol (adaptive steps), or > kFixedStepRoundoffLimit = √u
//   (fixed steps, which ask for no tolerance: half the digits lost). Calibrated on the 4×4
//   non-normal problem (s = 1e5, dopri5, atol = rtol/100): every run with an error ≫ rtol is
//   flagged (rtol 1e-9: error 1.3e-5, estimate 3e-8; 3e-10: 4.7e2; 1e-10: 2.4e65); at rtol 1e-8
//   and 1e-11 on milder variants it also flags runs whose error is 6–80× rtol (false alarms
//   near the limit). Not detected: truncation error of the forward map itself (bptt
//   differentiates the solution it computed; an adaptive run's gradient error can exceed
//   100·rtol on stiff problems without any round-off, e.g. 2e-4 at rtol 1e-6 on the 4×4).
//
// Memory: the states z_n (N+1 vectors) and, for RK and DIRK methods, the stage states Y_i of every
// stage that the reverse pass needs (DP5: 5 of 7; its FSAL stage has b = 0; sdirk: all 5), i.e.
// about N·s·n·8 bytes. The estimate is checked against BpttOptions::max_trajectory_bytes before
// anything is stored (ConfigError with the estimate). stats.stored_bytes reports what was stored.
//
// Supported integrators: every one that declares its tableau (Capabilities().tableau): explicit
// (euler, rk4, dopri5) or, when the kind is kDiagonallyImplicit, implicit stages (backward_euler,
// sdirk) with linear solver "dense" or "gmres"/"fgmres" (bptt's own right-preconditioned GMRES;
// options.preconditioner "auto"/"field"/"none": the field's kForward side for the Newton
// corrections and its kTransposed side for the reverse stage solves, both with γ = h a_ii;
// "band" is a ConfigError). One without a tableau (epi2, cvodes_*) →
// ConfigError "gradient 'bptt' needs an integrator that declares its Butcher tableau; 'X' does
// not".
//
// Reuse: one object may be used for many Compute() calls (workspaces are kept and only grow);
// it is not thread-safe. Throws ConfigError (unsupported integrator, missing fixed_step, memory
// guard, bad problem), NumericalError (Newton/GMRES failure, NaN), and whatever the integrator
// or the field throws.

#include <memory>
#include <string>
#include <vector>

#include "adjoint/bptt_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "integrators/butcher_tableau.hpp"

namespace snode {

namespace detail {
struct BpttScheme;     // adjoint/bptt_tape.hpp
struct BpttWorkspace;  // adjoint/bptt_tape.hpp
}  // namespace detail

class Bptt final : public GradientMethod {
 public:
  // Fixed steps ask for no tolerance: the gradient is flagged when its estimated relative
  // round-off error exceeds √u ≈ 1.5e-8 (half the digits lost).
  static constexpr double kFixedStepRoundoffLimit = 1.4901161193847656e-08;

  // Throws ConfigError for an unsupported integrator or invalid options.
  explicit Bptt(GradientOptions options, BpttOptions bptt_options = {});
  ~Bptt() override;
  Bptt(const Bptt&) = delete;
  Bptt& operator=(const Bptt&) = delete;

  std::string name() const override { return "bptt"; }
  const GradientOptions& options() const override { return options_; }
  const BpttOptions& method_options() const { return bptt_options_; }

  // L, dL/dθ, dL/dz0, dL/dφ through the discrete map on the step sequence described above.
  LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) override;

  // The same on a given (frozen) step sequence step_times = (t0, t_1, …, t_N), strictly
  // increasing and containing every output time > t0. Used to check the discrete adjoint
  // against finite differences of the very same map. Throws ConfigError for a bad sequence.
  LossAndGradient ComputeOnSteps(const OdeProblem& problem, const Loss& loss,
                                 const std::vector<double>& step_times);

  // The step sequence Compute() would use for this problem (runs the recording solve for an
  // adaptive method).
  std::vector<double> StepTimes(const OdeProblem& problem);

 private:
  bool IsAdaptive() const;
  // Fills stats.amplification and stats.error_estimate and flags (see the file comment).
  void Diagnose(double amplification, Index num_steps, GradientStats& stats) const;
  void CheckMemory(Index num_steps, Index state_size) const;
  LossAndGradient Run(const OdeProblem& problem, const Loss& loss,
                      const std::vector<double>& step_times, long recording_rhs_evals,
                      bool use_recorded);
  // StepTimes() into a caller-owned vector (reused: no allocation once it is large enough).
  void StepTimesInto(const OdeProblem& problem, std::vector<double>& times);
  // Adaptive: runs the registered integrator once with record_steps into recording_ (explicit
  // methods on the recording field, which keeps the f calls for the replay).
  void RecordingSolve(const OdeProblem& problem);

  GradientOptions options_;
  BpttOptions bptt_options_;
  std::unique_ptr<const detail::BpttScheme> scheme_;  // tableau and stage layout
  std::unique_ptr<Integrator> recorder_;              // the registered integrator, record_steps on
  long last_recording_rhs_evals_ = 0;                 // f evaluations of the last recording solve
  Trajectory recording_;                         // the recording solve's output, storage reused
  std::vector<double> step_times_;               // Compute()'s step sequence, storage reused
  std::unique_ptr<detail::BpttWorkspace> work_;  // per-size buffers, reused
};

}  // namespace snode
