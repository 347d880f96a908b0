#pragma once
// "backsolve_adjoint": the continuous adjoint of Chen et al. (2018), the seed's eq. (13), with the
// state reconstructed by integrating the ODE backward instead of storing it.
//
// With a(t) = ∂L/∂z(t), G(t) = ∂L/∂θ accumulated from T down to t, and L = Σ_i ℓ_i(z(t_i)) +
// ∫_{t0}^{T} g(t, z) dt, the augmented system in true time t is
//
//   z' = f(t, z; θ),   a' = −(∂f/∂z)ᵀ a − ∂g/∂z,   G' = −(∂f/∂θ)ᵀ a,
//
// started at t_N with z(t_N) = the forward solution, a(t_N) = ∂ℓ_N/∂z, G(t_N) = 0 and solved down
// to t0, with the jump a ← a + ∂ℓ_i/∂z(z_fwd(t_i)) at every earlier observation time t_i. Then
// dL/dz0 = a(t0) and dL/dθ = G(t0) = ∫ aᵀ ∂f/∂θ dt. (The seed writes eq. (13) with one minus
// sign in front of the whole right-hand side; read per component, its z-row is the reversed-time
// derivative and its a- and G-rows the true-time ones, which is the system above.)
//
// Every integrator only integrates forward, so the backward pass solves, segment by segment, the
// time-reversed system in s = −t: y = [z; a; G], dy/ds = F̃(s, y) = −F_aug(−s, y), i.e.
//   dz/ds = −f(−s, z),  da/ds = (∂f/∂z)ᵀ a + ∂g/∂z,  dG/ds = (∂f/∂θ)ᵀ a.
// Any registered integrator can do it (GradientOptions::EffectiveBackwardIntegrator()).
//
// Checkpoints (BacksolveOptions::checkpoints, default on; DiffEqFlux's
// BacksolveAdjoint(checkpointing=true)): at every observation time t_i < t_N, where a already
// jumps, z is also reset to the stored forward state z_fwd(t_i), so the backward reconstruction
// of z has to survive only one observation interval. With every integrator: through the same
// at_output stop as the jump (quadrature and augmented paths, output_jumps declared), or between
// the per-interval solves (epi2, heun). Off: z is carried from z(t_N) down to t0 (torchdiffeq,
// the seed). Either way the method stands or falls with the backward reconstruction of z, which
// is exactly what breaks on stiff problems (z' = −λz is unstable backward: errors grow like
// e^{λ(t_i−t)}); checkpoints only shorten the distance it has to go. A single observation at T
// (the seed's decay) has no interior checkpoint, and an interval as long as [0.1, 1] of the
// two-rate decay at λ = 1e4 still overflows.
// The method detects the failure itself: stats.reconstruction_error = ‖z_rec(t0) − z0‖ /
// max(‖z0‖, 1e-300), with checkpoints the maximum of that and of ‖z_rec(t_i) − z_fwd(t_i)‖ /
// max(‖z_fwd(t_i)‖, 1e-300) just before each reset (NaN when any of them is not finite), and
// stats.reconstruction_failed = (error > BacksolveOptions::reconstruction_tolerance, or not
// finite).
//
// A numerical failure of the backward solve (NumericalError or SundialsError, e.g. overflow of
// z or too much work) does not throw: Compute() returns the forward loss, NaN dL/dθ and dL/dz0,
// reconstruction_error = NaN and reconstruction_failed = true, so a sweep over stiffness can
// record the failure and move on. Failures of the *forward* solve propagate as exceptions.
//
// Memory: only the states at the N observation times are kept (stored_bytes = N·n·8), whatever
// the number of steps, with or without checkpoints (the jumps need them anyway). Accuracy: a
// continuous adjoint, so it matches finite differences only to the solver tolerance (≈1e-6 relative
// at rtol 1e-10/atol 1e-12 on smooth problems).
//
// Statistics: forward_* from the forward solve; backward_rhs_evals / vjp_evals / jvp_evals count
// evaluations of the *underlying* field f during the backward pass (one f and one fused VJP per
// augmented evaluation, more for the augmented Jacobian products); backward_steps sums the
// integrator's accepted steps over all segments.
//
// The read-out gradient dL/dφ comes from the forward loss evaluation (exact).
// Throws ConfigError for bad options or an unknown integrator (at construction), a bad problem,
// and whatever the forward integrator throws.

#include <memory>
#include <string>

#include "adjoint/backsolve_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "adjoint/quadrature_batch.hpp"
#include "core/vector_field.hpp"

namespace snode {

class BacksolveAdjoint final : public GradientMethod {
 public:
  // Creates the forward and backward integrators once; they are reused by every Compute().
  explicit BacksolveAdjoint(const GradientOptions& options,
                            BacksolveOptions backsolve_options = {});

  std::string name() const override { return "backsolve_adjoint"; }
  const GradientOptions& options() const override { return options_; }
  const BacksolveOptions& method_options() const { return backsolve_options_; }
  LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) override;
  // The quadrature adjoint is used (UseQuadratureAdjoint for the backward's capabilities);
  // otherwise the augmented system.
  bool quadrature_adjoint() const { return quadrature_; }

 private:
  GradientOptions options_;
  BacksolveOptions backsolve_options_;
  std::unique_ptr<Integrator> forward_;
  std::unique_ptr<Integrator> backward_;
  QuadratureBatch quadrature_batch_;  // the Gauss nodes' parameter products, in batches
  bool quadrature_ = false;           // the quadrature adjoint (UseQuadratureAdjoint)
  bool backward_jumps_ = false;       // the backward integrator declares output_jumps
};

namespace detail {

// The time-reversed augmented field of backsolve_adjoint (see above): state y = [z; a; G] of
// length 2n + P, parameters θ (length P, those of f), time s = −t:
//   F̃(s, y) = [−f(t, z); (∂f/∂z)ᵀ a + ∂g/∂z(t, z); (∂f/∂θ)ᵀ a],  t = −s.
// Its Jacobian ∂F̃/∂y = [[−∂f/∂z, 0, 0], [H_a, (∂f/∂z)ᵀ, 0], [H_G, (∂f/∂θ)ᵀ, 0]] contains the
// second derivatives H_a = ∂/∂z[(∂f/∂z)ᵀa + ∂g/∂z] and H_G = ∂/∂z[(∂f/∂θ)ᵀa], which VectorField
// does not provide. They are only needed by the integrator's own linear algebra (Newton, GMRES,
// Krylov φ-functions), never by the gradient itself, so they are taken by a central directional
// difference of the fused VJP, ε = eps^{1/3}·(1 + ‖(z, θ)‖)/‖(dz, dθ)‖ (exact up to rounding
// when f is linear in z, as for DecayField and LinearField). The first-order blocks are exact.
// VjpState/VjpParams use the symmetry of the Hessian of aᵀf (+ g) and are equally exact up to
// one directional difference; the a-row of VjpState needs (∂f/∂θ)·w, a directional difference
// of f in θ.
//
// field: f, shared. loss: the running cost g (not owned, may be null; must outlive the field).
// Counters report evaluations of f and its products (for GradientStats). Throws ConfigError on
// wrong sizes.
class BacksolveAugmentedField final : public VectorField {
 public:
  BacksolveAugmentedField(std::shared_ptr<VectorField> field, const Loss* loss);

  std::string name() const override;
  Index state_size() const override { return 2 * n_ + p_; }
  Index num_params() const override { return p_; }
  void F(double s, ConstVectorRef y, ConstVectorRef theta, VectorRef out) override;
  void Jvp(double s, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override;
  void VjpState(double s, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef w,
                VectorRef out) override;
  void VjpParams(double s, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef w,
                 VectorRef grad) override;
  void Vjp(double s, ConstVectorRef y, ConstVectorRef theta, ConstVectorRef w, VectorRef w_state,
           VectorRef grad) override;
  void DenseJacobian(double s, ConstVectorRef y, ConstVectorRef theta, MatrixRef jac) override;
  bool IsAutonomous() const override;
  std::unique_ptr<VectorField> Clone() const override;
  // kForward, when f offers both sides: block forward substitution with M = I − γ ∂F̃/∂y
  // without the second-derivative blocks H_a, H_G: x_z from the z block I + γ ∂f/∂z (f's
  // forward side with γ_f = −γ), x_a from the a block I − γ(∂f/∂z)ᵀ (its transposed side with
  // γ_f = +γ), both at t = −s, then x_G = r_G + γ (∂f/∂θ)ᵀ x_a (one VjpParams of f per solve,
  // not in the counters below). Null for kTransposed or when f offers none.
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override;

  long rhs_evals() const { return rhs_evals_; }  // f evaluations
  long vjp_evals() const { return vjp_evals_; }  // VJPs of f (state, params or fused)
  long jvp_evals() const { return jvp_evals_; }  // JVPs of f (and dense Jacobians, n each)
  void ResetCounters() { rhs_evals_ = vjp_evals_ = jvp_evals_ = 0; }

 private:
  // ra = (∂f/∂z)ᵀ a + ∂g/∂z, rg = (∂f/∂θ)ᵀ a at true time t.
  void AdjointRhs(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef ra,
                  VectorRef rg);
  // Central directional difference of AdjointRhs along (dz, dθ); dtheta may be empty (= 0).
  void AdjointRhsDirectional(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                             ConstVectorRef dz, ConstVectorRef dtheta, VectorRef ra_dot,
                             VectorRef rg_dot);
  // out = (∂f/∂θ) dθ by a central directional difference of f.
  void ParamDirectional(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef dtheta,
                        VectorRef out);
  void CheckSizes(const char* method, Index y_size, Index theta_size) const;

  std::shared_ptr<VectorField> field_;
  const Loss* loss_;  // not owned, may be null
  Index n_;
  Index p_;
  long rhs_evals_ = 0;
  long vjp_evals_ = 0;
  long jvp_evals_ = 0;
  // Workspace.
  Vector ra_plus_, rg_plus_, ra_minus_, rg_minus_, z_shift_, theta_shift_, f_plus_, f_minus_;
};

}  // namespace detail
}  // namespace snode
