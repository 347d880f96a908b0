#pragma once
// Epi2Integrator ("epi2"): the exponential Rosenbrock–Euler method
//
//   z_{n+1} = z_n + h φ_1(h J_n) f(t_n, z_n) + h² φ_2(h J_n) ∂f/∂t(t_n, z_n),
//   J_n = ∂f/∂z(t_n, z_n),  φ_1(x) = (eˣ − 1)/x,  φ_2(x) = (eˣ − 1 − x)/x²,
//
// order 2, exact for linear constant-coefficient systems z' = Az + b in one step of any size, and
// A-stable (it reproduces e^{hλ} for every λ). The ∂f/∂t term is only formed when the field says
// !IsAutonomous(); it is folded into the Krylov sweep by autonomisation (the state is extended
// by t, see docs/epi2.md). J is used only through VectorField::Jvp: φ_1 is evaluated by
// KrylovPhiEvaluator (integrators/phi_functions.hpp) with an adaptive Krylov dimension
// (≤ options.krylov_max_dim, τ-substeps beyond that).
//
// Modes:
// - fixed step (options.fixed_step > 0): steps of fixed_step, the last one in each output interval
//   shortened to end exactly on the output time. One Krylov sweep (f + m JVPs) per step.
// - adaptive (fixed_step == 0): step doubling. One step of h and two steps of h/2 (the first half
//   step shares the Krylov basis of the full step); local error est = (z_{h/2,h/2} − z_h)/3, in the
//   WRMS norm with weights 1/(rtol|z_n| + atol) (as SUNDIALS). The two-half-step value is
//   propagated WITHOUT Richardson extrapolation (the method stays epi2). Controller
//   h_new = h·clamp(0.9·err^{−1/3}, 0.2, 5) (growth ≤ 1 right after a rejection).
//   Both modes size the Krylov tolerance at 0.1 in that WRMS norm.
//
// Inputs: an OdeProblem (validated) and IntegratorOptions (validated in the constructor).
// Outputs: Trajectory with z at every output time, stats (steps, rejected_steps, rhs_evals,
// jvp_evals, linear_iters = Arnoldi iterations, krylov_dim_max/mean per Krylov sweep,
// wall_seconds) and, with record_steps, step_times. rhs_evals counts the default
// TimeDerivative (central difference) as 2 evaluations for non-autonomous fields.
//
// Throws: ConfigError (options, problem); SundialsError-style errors with flag names
// EPI2_TOO_MUCH_WORK (max_steps accepted steps in one output interval; with fixed steps, at the
// start of an interval that needs more: integrators/fixed_steps.hpp), EPI2_ERR_FAILURE (repeated
// error-test failures), EPI2_KRYLOV_FAILURE (Krylov did not converge with the step at its
// minimum or in fixed-step mode); NumericalError when the field produced NaN/Inf that shrinking the
// step could not avoid (or at once in fixed-step mode); whatever the field throws.
//
// Reuse: the object keeps its workspace between Solve() calls and only reallocates when the state
// size changes. Not thread-safe; not copyable or movable (the JVP operator refers to this object).

#include <string>

#include "integrators/integrator.hpp"
#include "integrators/phi_functions.hpp"

namespace snode {

class Epi2Integrator final : public Integrator {
 public:
  explicit Epi2Integrator(const IntegratorOptions& options);
  Epi2Integrator(const Epi2Integrator&) = delete;
  Epi2Integrator& operator=(const Epi2Integrator&) = delete;

  std::string name() const override { return "epi2"; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override;
  // Exponential, order 2, adaptive by step doubling (or fixed step), records its steps; no dense
  // output, output jumps or step hook.
  IntegratorCapabilities Capabilities() const override;

 private:
  enum class StepResult { kOk, kNonFinite, kKrylovFailure };
  // Consecutive failures of the current adaptive step, per output interval.
  struct Failures {
    int nonfinite = 0;
    int error_test = 0;
    int krylov = 0;
    bool last_nonfinite = false;  // the last failure was a NaN/Inf
  };

  // Sizes the workspace for state size n (no-op when unchanged).
  void Resize(Index n, bool autonomous);
  // From (t, z, f = f(t, z)): writes z + w(τ_j) into out.col(j) for the step lengths taus,
  // all from one Krylov sweep at (t, z). weights: error weights of length n.
  StepResult ExponentialEulerSteps(double t, const Vector& z, const Vector& f, ConstVectorRef taus,
                                   MatrixRef out);
  // Error weights 1/(rtol|z| + atol) into weights_.
  void ComputeWeights(const Vector& z);
  // f(t, z) into out with accounting; false when not finite.
  bool EvaluateField(double t, const Vector& z, Vector& out);
  // Weighted RMS norm with weights_.
  double WrmsNorm(const Vector& x) const;
  double InitialStep(double t0, double t_end);
  // The first adaptive step: options.initial_step or InitialStep, capped by options.max_step.
  double FirstStep(double t0, double t_end);
  // Moves to the step end (z_new_, f_new_) at t_new and counts the step.
  void Accept(double t_new, double& t);
  // The number of fixed steps from t to t_out (integrators/fixed_steps.hpp); EPI2_TOO_MUCH_WORK
  // when more than max_steps.
  long PlanFixedSteps(double t, double t_out) const;
  // One fixed step from t towards t_out (the `last` of the interval's plan lands on t_out);
  // throws on any failure.
  void FixedStep(double& t, double t_out, bool last);
  // One adaptive step attempt from t with the proposed step h. Accepted: t, z_, f_ move and h is
  // the next proposal; rejected: h is the retry's step. Throws after too many failures.
  bool AdaptiveStep(double& t, double t_out, double& h, Failures& failures);
  // One step of h_step and two of h_step/2 from (t, z_, f_); err: the WRMS local error estimate.
  // On success with err <= 1, z_new_ and f_new_ hold the step end.
  StepResult DoubledStep(double t, double h_step, double t_new, double& err);
  // Counts a rejected step and returns the retry's step size; throws past the failure limits.
  double Reject(StepResult result, double err, double t, double h_step, Failures& failures);

  IntegratorOptions options_;
  KrylovPhiEvaluator phi_;
  LinearOperator jacobian_operator_;  // x ↦ J x (or the autonomised operator), captures this

  // Per-solve context read by jacobian_operator_.
  VectorField* field_ = nullptr;
  const Vector* theta_ = nullptr;
  double op_t_ = 0.0;
  const Vector* op_z_ = nullptr;
  bool autonomous_ = true;
  std::string where_;        // " (integrator 'epi2', field 'NAME')" for messages
  double time_scale_ = 1.0;  // η of the autonomised operator
  IntegratorStats stats_;
  long krylov_sweeps_ = 0;
  long krylov_dim_sum_ = 0;

  // Workspace (size n, or n + 1 for the autonomised vectors).
  Index n_ = -1;
  Vector z_, f_, z_half_, f_half_, z_new_, f_new_, weights_, diff_;
  Vector ft_;           // ∂f/∂t (non-autonomous)
  Vector v_aug_;        // Krylov start vector (n or n + 1)
  Vector weights_aug_;  // weights for the Krylov vectors (n, or n + 1 with the t entry)
  Matrix w_out_;        // Krylov outputs (n or n + 1) × 2
  Matrix steps_out_;    // z + w at the step ends: n × 2
  Vector taus_one_, taus_two_;
};

}  // namespace snode
