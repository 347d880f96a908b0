#pragma once
// GradientMethod: L = Loss(z(t_1..t_N)) and its gradients dL/dθ, dL/dz0 and dL/dφ (the loss's
// read-out parameters) through an ODE solve. Built-ins (gradient_registry.cpp), each with its own
// options struct next to it:
//   "bptt"              exact discrete adjoint of the integrator's accepted steps (BpttOptions)
//   "backsolve_adjoint" Chen et al. eq. (13): augmented [z, a, dL/dθ] solved backward in time
//                       (BacksolveOptions)
//   "cvodes_adjoint"    CVODES checkpointed adjoint (CVodeF/CVodeB + backward quadrature)
//                       (CvodesAdjointOptions)
// A method rejects an integrator it cannot use with a ConfigError naming both.
//
// Options. GradientOptions holds what every method shares (the forward and backward integrators
// and their options). A method's own options are a typed struct of its own, given to its
// constructor; through the registry they travel as text in GradientOptions::method_settings
// (`name=value`, core/settings.hpp), which the method's factory reads into that struct. That is
// how command lines (`--gradient-option NAME=VALUE`), config files and plug-ins reach them, and a
// name the method does not know is a ConfigError instead of being ignored.
//
// A plug-in method declares and reads its options the same way as the built-ins:
//
//   struct MyOptions {
//     double damping = 0.5;
//     void Validate() const { Require(damping > 0.0, "my_method setting damping must be > 0"); }
//     static MyOptions FromSettings(const Settings& settings) {
//       MyOptions o;
//       SettingsReader reader(settings, "gradient 'my_method'");
//       reader.Read("damping", o.damping);  // absent: the default stays
//       reader.Finish();                    // ConfigError for any other name
//       o.Validate();
//       return o;
//     }
//   };
//   class MyMethod final : public GradientMethod {
//    public:
//     MyMethod(const GradientOptions& options, MyOptions own = {});
//     ...
//   };
//   GradientRegistry().Add("my_method", [](const GradientOptions& o) {
//     return std::make_unique<MyMethod>(o, MyOptions::FromSettings(o.method_settings));
//   });
//
// after which `--gradient my_method --gradient-option damping=0.1` works in every app. Code that
// builds the method directly passes the struct (`MyMethod(options, {0.1})`) and leaves
// method_settings empty.

#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/registry.hpp"
#include "core/settings.hpp"
#include "integrators/integrator.hpp"

namespace snode {

// The options every gradient method shares.
struct GradientOptions {
  std::string integrator = "dopri5";     // forward integrator (registry name)
  IntegratorOptions integrator_options;  // its options
  // Integrator of the backward problem (adjoints); "" means the forward one.
  std::string backward_integrator;
  // Options of the backward integrator; nullopt means integrator_options.
  std::optional<IntegratorOptions> backward_options;
  // The method's own options as text, read by its registry factory (see the file comment).
  // Methods constructed directly take their options struct instead and ignore this.
  Settings method_settings;
  // Estimate the gradient's error by a second solve at a tenth of the tolerances and flag it when
  // it exceeds the documented bound (adjoint/tolerance_check.hpp). Honoured by
  // CreateGradientMethod, which the studies and apps use; off by default (training loops).
  bool tolerance_check = false;

  // Throws ConfigError naming the offending field.
  void Validate() const;
  // The options the backward problem uses.
  const IntegratorOptions& EffectiveBackwardOptions() const {
    return backward_options ? *backward_options : integrator_options;
  }
  const std::string& EffectiveBackwardIntegrator() const {
    return backward_integrator.empty() ? integrator : backward_integrator;
  }
};

struct GradientStats {
  long forward_rhs_evals = 0;   // f evaluations in the forward pass
  long backward_rhs_evals = 0;  // f evaluations in the backward pass (incl. recomputation)
  long vjp_evals = 0;           // vector-Jacobian products (state and/or params)
  long jvp_evals = 0;           // Jacobian-vector products
  long forward_steps = 0;
  long backward_steps = 0;
  long checkpoints = 0;  // cvodes_adjoint: checkpoints stored
  // cvodes_adjoint with a CVODES backward: backward solves started (CVodeReInitB calls): one per
  // segment between observations with "restart", 1 + the ill-conditioned observations with the
  // fundamental matrix (CvodesAdjointOptions::observations).
  long backward_restarts = 0;
  // Implicit solves (0 where a pass has none): Newton iterations, Krylov iterations of the
  // linear solves inside them, and preconditioner set-ups and solves, per pass. cvodes_adjoint
  // (CVODES forward; CVODES backward over all its restarts), bptt (implicit stages: forward
  // Newton corrections, backward transposed stage solves, one "Newton iteration" each) and
  // backsolve_adjoint (its backward integrator). Krylov iterations per Newton iteration =
  // *_linear_iters / *_nonlinear_iters.
  long forward_nonlinear_iters = 0;
  long backward_nonlinear_iters = 0;
  long forward_linear_iters = 0;
  long backward_linear_iters = 0;
  long forward_preconditioner_setups = 0;
  long forward_preconditioner_solves = 0;
  long backward_preconditioner_setups = 0;
  long backward_preconditioner_solves = 0;
  double stored_bytes = 0;  // trajectory memory held for the backward pass
  double wall_seconds = 0;
  // backsolve_adjoint: ‖z_rec(t0) − z0‖ / max(‖z0‖, tiny) (NaN if non-finite), and the flag.
  // With BacksolveOptions::checkpoints: the maximum of that and, over the observation times t_i <
  // t_N, ‖z_rec(t_i) − z(t_i)‖ / max(‖z(t_i)‖, tiny) just before the reset.
  double reconstruction_error = 0;
  bool reconstruction_failed = false;

  // Self-diagnosis, every method, computed at run time without a reference: `flagged` is set
  // when the method's own evidence says dL/dθ or dL/dz0 may be off by more than its documented
  // bound at the requested tolerance (docs/gradients.md, "When can I trust it"); `diagnosis`
  // says why, one sentence per cause. Studies and apps never report a flagged gradient as "ok".
  bool flagged = false;
  std::string diagnosis;
  // bptt: growth of the reverse pass, max over steps of ‖λ_n‖ / max_k ‖∂ℓ_k/∂z(t_k)‖ (0 when
  // not measured).
  double amplification = 0;
  // The method's own estimate of the relative error of [dL/dθ; dL/dz0] where it has one (bptt:
  // round-off amplified by the reverse pass; cvodes_adjoint: its quadrature estimate), NaN when
  // it has none.
  double error_estimate = std::numeric_limits<double>::quiet_NaN();

  // Sets flagged and appends reason to diagnosis.
  void Flag(const std::string& reason) {
    flagged = true;
    diagnosis += diagnosis.empty() ? reason : "; " + reason;
  }
};

struct LossAndGradient {
  double loss = 0;
  Vector dtheta;       // dL/dθ
  Vector dz0;          // dL/dz0
  Vector dreadout;     // dL/dφ (empty when the loss has none)
  Trajectory forward;  // the forward solve (states at output times)
  GradientStats stats;

  // g = [dL/dθ; dL/dz0], the vector studies and checks compare.
  Vector Joined() const {
    Vector g(dtheta.size() + dz0.size());
    g << dtheta, dz0;
    return g;
  }
};

class GradientMethod {
 public:
  virtual ~GradientMethod() = default;
  virtual std::string name() const = 0;
  virtual const GradientOptions& options() const = 0;
  // Computes L and its gradients. Throws as Integrator::Solve does, and ConfigError for an
  // unsupported integrator or loss.
  virtual LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) = 0;
};

using GradientRegistryType = Registry<GradientMethod, GradientOptions>;

// The registry of gradient methods; user code may Add() its own.
GradientRegistryType& GradientRegistry();

// Evaluates L alone by a forward solve (for finite differences and line searches). Includes the
// running cost when the loss has one (integrated by the trapezoidal rule on a fine sub-grid is not
// good enough for tests, so the running cost is appended to the state as a quadrature variable).
double EvaluateLoss(const OdeProblem& problem, const Loss& loss, Integrator& integrator,
                    Vector* readout_grad = nullptr, Trajectory* trajectory = nullptr);

}  // namespace snode
