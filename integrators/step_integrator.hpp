#pragma once
// StepIntegrator: a one-step method written as its step alone. The author derives from it,
// describes the method once (StepMethod) and implements Step(); the base supplies everything
// else of the Integrator contract (integrators/integrator.hpp):
//  - the output loop with stop times: an adaptive step ends exactly on every output time; a fixed
//    step (options.fixed_step > 0) is shortened to land on it and restarts at fixed_step;
//  - the adaptive controller (StepMethod::error_order > 0, fixed_step = 0): a step is accepted
//    when ‖error‖ ≤ 1 in the weighted RMS norm over the first OdeProblem::error_test_size
//    components (all when 0), weights 1/(rtol·max(|z_i|, |z_new,i|) + atol); the next step is
//    h·clamp(0.9·‖error‖^{−1/(q+1)}, 0.2, 5), q = min(order, error_order), capped by
//    options.max_step and the next output time. The first step is options.initial_step or, when 0,
//    the starting step of Hairer, Nørsett & Wanner (Solving ODEs I, II.4; one extra f evaluation);
//  - OdeProblem::at_output jumps, OdeProblem::after_step hooks with a dense output over the step,
//    options.interpolate_outputs (adaptive only; outputs read off the dense output),
//    options.record_steps, OdeProblem::store_all_states, SolveInto() storage reuse;
//  - fixed steps run no error test (Step's error is ignored) and follow integrators/
//    fixed_steps.hpp: an output interval that is a whole number of steps up to round-off takes
//    exactly that many (no sliver step), counted before the work;
//  - options.max_steps step attempts (rejected ones included) per output interval: SundialsError
//    with flag <NAME>_TOO_MUCH_WORK (e.g. BS32_TOO_MUCH_WORK for "bs32"), with fixed steps at the
//    start of an interval that needs more;
//  - NaN/Inf checks: every f evaluation through StepContext::F and every state at an output time;
//    NumericalError naming the integrator and the time. In adaptive mode a non-finite stage (or a
//    failed implicit stage) rejects the step and retries with a quarter of it; the error is thrown
//    when the step size underflows, or at once when f(t, z) at the step's start is not finite;
//  - statistics (steps, rejected_steps, rhs_evals, jvp_evals, jacobian_evals, nonlinear_iters,
//    first_step, wall_seconds) and Capabilities() from the StepMethod.
// Dense output: the cubic Hermite interpolant of z, z_new and the slopes f(t, z), f(t + h, z_new)
// (order min(order, 3); the end slope costs one f evaluation unless the step is FSAL, and is then
// reused as the next step's start slope), or the method's own by overriding Interpolate().
// Determinism and reuse: nothing carries over from one solve to the next but workspace; after the
// first solve of a given state size, a solve allocates nothing per step (Work() vectors, the
// Newton matrices and the trajectory's storage are kept).
//
// A method (the whole of examples/bs32_plugin/bs32.hpp, Bogacki–Shampine 3(2), is one):
//   class Bs32 final : public StepIntegrator {
//    public:
//     explicit Bs32(IntegratorOptions o) : StepIntegrator("bs32", std::move(o), Method()) {}
//     static StepMethod Method();  // order 3, error_order 2, its Butcher tableau
//     void Step(StepContext& ctx, double t, const Vector& z, double h, Vector& z_new,
//               Vector& error) override;
//   };

#include <Eigen/LU>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "integrators/integrator.hpp"

namespace snode {

// The static description of a step-level method.
struct StepMethod {
  IntegratorKind kind = IntegratorKind::kExplicit;
  int order = 0;        // order of z_new (> 0)
  int error_order = 0;  // order of the embedded solution behind `error`; 0: no error estimate
                        // (Step's error is ignored and options.fixed_step > 0 is required)
  // The step is exactly this Runge–Kutta tableau (bptt replays recorded steps with it).
  std::optional<ButcherTableau> tableau;
  // 0: cubic Hermite dense output supplied by the base; > 0: the method overrides Interpolate()
  // with a dense output of this order.
  int own_dense_output_order = 0;
};

// An accepted step as the dense output sees it: [t, t + h], z → z_new. f0 = f(t, z) always;
// f1 = f(t + h, z_new) only for the Hermite dense output (or after StepContext::EndSlope).
struct StepInterval {
  double t = 0.0;
  double h = 0.0;
  const Vector* z = nullptr;
  const Vector* z_new = nullptr;
  const Vector* f0 = nullptr;
  const Vector* f1 = nullptr;
};

class StepIntegrator;

// What Step() may use: f evaluations (counted, checked for NaN/Inf), the step's start and end
// slopes, workspace vectors and the implicit-stage solver. Valid only during Step().
class StepContext {
 public:
  // out = f(t, y; θ). Counted in stats.rhs_evals; NaN/Inf rejects the step (adaptive) or throws
  // NumericalError naming the integrator and t. Pass vectors, not Eigen expressions (an
  // expression would be copied into a temporary: an allocation per call).
  void F(double t, const Vector& y, Vector& out);
  // f(t, z) at the step's start: evaluated once per step start (retries after a rejection share
  // it), free after an FSAL step (EndSlope), and not finite → NumericalError at once.
  const Vector& StartSlope();
  // f(t + h, z_new) at the step's exact end time, kept as the end slope of the dense output and,
  // once the step is accepted, as the next step's StartSlope() (first same as last).
  const Vector& EndSlope(const Vector& z_new);
  // Workspace vector i (0, 1, …) of the state size, kept across steps and solves: no allocation
  // per step. Contents are unspecified at the start of a step.
  Vector& Work(int i);
  // Solves the implicit stage Z = base + gamma_h·f(t, Z) from `guess` into `out` (which may be
  // `guess`) by a simplified Newton iteration: M = I − gamma_h·J with J = ∂f/∂z at (t, guess)
  // (VectorField::DenseJacobian: the field's closed form, counted in jacobian_evals, or assembled
  // from n Jvp columns, counted in jvp_evals), LU-factored once per call; iterates until the
  // weighted RMS norm of the Newton update is ≤ 1e-3 (weights as the controller's, so set rtol
  // below the accuracy wanted of a fixed-step solve) or it is below round-off, at most
  // options.max_nonlinear_iters times (counted in nonlinear_iters). Non-convergence or a
  // non-finite iterate rejects the step (adaptive) or throws NumericalError naming the
  // integrator, t, h and the remedy. Always a dense LU, whatever options.linear_solver says.
  void SolveImplicitStage(double t, double gamma_h, const Vector& base, const Vector& guess,
                          Vector& out);
  Index size() const;
  const IntegratorOptions& options() const;

 private:
  friend class StepIntegrator;
  explicit StepContext(StepIntegrator& owner) : owner_(owner) {}
  StepIntegrator& owner_;
};

class StepIntegrator : public Integrator {
 public:
  // name: the registry name (for messages and flags). Throws ConfigError for bad options, a bad
  // method description, or fixed_step = 0 on a method without error estimate.
  StepIntegrator(std::string name, IntegratorOptions options, StepMethod method);

  std::string name() const override { return name_; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override;
  void SolveInto(const OdeProblem& problem, Trajectory& trajectory) override;
  IntegratorCapabilities Capabilities() const override;
  const StepMethod& method() const { return method_; }

 protected:
  // One step of size h > 0 from (t, z): z_new = the method's solution at t + h and, when
  // error_order > 0, error = z_new − (the embedded solution). z_new and error have the state size
  // on entry. Evaluate f only through ctx. May throw (a field's exception passes through).
  virtual void Step(StepContext& ctx, double t, const Vector& z, double h, Vector& z_new,
                    Vector& error) = 0;
  // The dense output over an accepted step at t in [step.t, step.t + step.h], into out. The
  // default is the cubic Hermite interpolant; override together with
  // StepMethod::own_dense_output_order (then step.f1 is null unless the step called EndSlope).
  virtual void Interpolate(const StepInterval& step, double t, VectorRef out) const;

 private:
  friend class StepContext;
  class StepDense;
  // Thrown inside a step for a failure a smaller step may avoid (caught by the controller).
  struct StepFailure {
    std::string message;
  };

  void Start(const OdeProblem& problem, Trajectory& trajectory);
  void Integrate(const OdeProblem& problem, Trajectory& trajectory);
  // Steps from t_ to tout (tout ≥ t_); each accepted step goes through AcceptStep.
  void AdvanceTo(double tout, Trajectory& trajectory);
  // The fixed-step part of AdvanceTo: the steps of integrators/fixed_steps.hpp, max_steps
  // checked before the first.
  void AdvanceFixed(double tout, Trajectory& trajectory);
  // Tries one step of size `step` ending at t_end; true when accepted. Sets the next h_.
  bool TryStep(double step, double t_end, bool last);
  // after_step, interpolated outputs, then z_ ← z_new_, t_ ← t_end.
  void AcceptStep(double t_end, Trajectory& trajectory);
  double InitialStep();
  Index ErrorTestSize() const;
  // Weighted RMS norm of the first `size` components of v, weights 1/(rtol|y_i| + atol).
  double Wrms(const Vector& v, const Vector& y, Index size) const;
  double ErrorNorm() const;
  void EvaluateChecked(double t, const Vector& y, Vector& out, bool recoverable);
  // StepFailure when recoverable inside an adaptive step, NumericalError otherwise.
  [[noreturn]] void Fail(const std::string& message, bool recoverable) const;
  void CheckState(const Vector& z, double t) const;
  void StoreOutput(std::size_t index, Trajectory& trajectory);
  // <NAME>_TOO_MUCH_WORK; `remedy` replaces the generic "raise max_steps or loosen rtol".
  [[noreturn]] void ThrowTooMuchWork(double tout, const std::string& remedy = "") const;
  std::string Where() const;  // "integrator 'name'"

  std::string name_;
  IntegratorOptions options_;
  StepMethod method_;

  // Per solve.
  const OdeProblem* problem_ = nullptr;
  IntegratorStats stats_;
  double t_ = 0.0;           // current time
  double t_step_end_ = 0.0;  // end time of the step being tried
  double h_ = 0.0;           // next step to try
  bool fixed_ = false;
  bool f0_valid_ = false;        // f0_ = f(t_, z_)
  bool f1_valid_ = false;        // f1_ = f(t_step_end_, z_new_)
  bool in_step_ = false;         // inside Step(): failures are recoverable when adaptive
  std::size_t next_output_ = 0;  // interpolated mode: the next output time to fill
  long steps_in_interval_ = 0;

  // Workspace (kept across solves).
  Vector z_, z_new_, error_, f0_, f1_, weights_, newton_delta_, newton_residual_, hairer_y_;
  Matrix newton_matrix_;
  Eigen::PartialPivLU<Matrix> newton_lu_;
  std::deque<Vector> work_;  // StepContext::Work(i)
};

}  // namespace snode
