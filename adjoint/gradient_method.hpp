#pragma once
// GradientMethod: L = Loss(z(t_1..t_N)) and its gradients dL/dθ, dL/dz0 and dL/dφ (the loss's
// read-out parameters) through an ODE solve. Built-ins (gradient_registry.cpp):
//   "bptt"              exact discrete adjoint of the integrator's accepted steps
//   "backsolve_adjoint" Chen et al. eq. (13): augmented [z, a, dL/dθ] solved backward in time
//   "cvodes_adjoint"    CVODES checkpointed adjoint (CVodeF/CVodeB + backward quadrature)
// A method rejects an integrator it cannot use with a ConfigError naming both.

#include <memory>
#include <string>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/registry.hpp"
#include "integrators/integrator.hpp"

namespace snode {

struct GradientOptions {
  std::string integrator = "dopri5";     // forward integrator (registry name)
  IntegratorOptions integrator_options;  // its options
  // Backward problem (adjoints): integrator name and options; "" means the same as forward.
  std::string backward_integrator;
  IntegratorOptions backward_options;
  bool backward_options_set = false;      // false: backward_options = integrator_options
  long checkpoint_interval = 100;         // cvodes_adjoint: steps between checkpoints (Nd)
  std::string interpolation = "hermite";  // cvodes_adjoint: "hermite" or "polynomial"
  double reconstruction_tolerance =
      1e-2;  // backsolve: relative reconstruction error that raises the flag (W2 at rtol 1e-6
             // reconstructs to ≤ 2e-4 with checkpoints, up to 0.33 without; a failing
             // reconstruction is off by orders of magnitude)
  double max_trajectory_bytes = 4.0e9;  // bptt: refuse before storing more than this
  // backsolve_adjoint (augmented system): leave the parameter-gradient components (an integral
  // that feeds back into nothing) out of the backward local error test, the "seminorm" of Kidger,
  // Chen & Lyons (2021). cvodes_adjoint keeps its quadrature under error control: without it,
  // dL/dk on Robertson is off by 3% (tests/adjoint/cvodes_adjoint_test.cpp).
  bool seminorm = true;
  // backsolve_adjoint with an explicit backward integrator (dopri5, rk4, euler): the backward ODE
  // carries [z; a] only and dL/dθ = ∫ (∂f/∂θ)ᵀ a dt is summed by 3-point Gauss–Legendre over each
  // accepted backward step from the solver's dense output (the "quadrature adjoint"), instead of
  // carrying the P-long integral in the ODE state. false: the augmented system of the seed.
  bool backsolve_quadrature = true;
  // cvodes_adjoint with a CVODES backward integrator: how dL/dθ = ∫ (∂f/∂θ)ᵀ a dt is summed.
  // "gauss": 3-point Gauss–Legendre over each backward step (split at the forward steps) from
  // CVODES' dense output of a and of the forward z, outside the backward error test;
  // "cvodes": a P-long CVODES backward quadrature under error control; "auto": gauss when
  // P > 8·n (neural fields), else cvodes (small stiff models, where the error control matters).
  std::string cvodes_quadrature = "auto";
  // cvodes_adjoint with a CVODES backward integrator: integrate the stiff transient of the
  // adjoint after each jump (observation time) by exponentials (adjoint/jump_layer.hpp) and
  // restart the backward BDF after it. "on": always (ConfigError for a non-CVODES backward;
  // ConfigError in Compute when n + p (+ 1 with a running cost) > 64); the forward step
  // polynomials are recorded then (memory grows with the forward steps). "off": never. "auto":
  // on when the Gauss quadrature is used (it records them anyway) with a "cvodes_bdf" backward
  // and n + p ≤ 63 and cvodes_observations is not "fundamental", off otherwise (so Robertson
  // with cvodes_quadrature "auto" keeps it off).
  std::string cvodes_jump_layer = "auto";
  // cvodes_adjoint with a CVODES backward and the Gauss quadrature: how the adjoint's jumps at
  // the observation times enter the backward solve. "restart": a ← a + ∂ℓ_i/∂z and
  // CVodeReInitB at every observation (each restart begins again at order 1 with a tiny step).
  // "fundamental": one backward solve, without restarts, of the n × n fundamental matrix U
  // (dU/dt = −(∂f/∂z)ᵀ U, U(T) = I; plus one column for a running cost), with a = U c and
  // c ← c + U(t_i)⁻¹ ∂ℓ_i/∂z at each observation; n columns per fB call instead of one, and a
  // restart only where U(t_i) becomes ill-conditioned (stiff decay). "auto": fundamental when
  // the Gauss quadrature is used without the jump layer, n ≤ 8 and at least n output times lie
  // strictly inside (t0, T); restart otherwise.
  std::string cvodes_observations = "auto";
  // backsolve_adjoint: at every observation time t_i < t_N where the backward solve already jumps
  // the adjoint, also reset the reconstructed z to the stored forward state z(t_i) (DiffEqFlux's
  // BacksolveAdjoint(checkpointing=true)), so the reconstruction error can only grow within one
  // observation interval. The stored states are kept anyway (the jumps need them): no extra
  // memory. false: z is carried through from z(t_N) to t0 (torchdiffeq, the seed).
  bool backsolve_checkpoints = true;

  // Throws ConfigError naming the offending field.
  void Validate() const;
  // The options the backward problem uses.
  const IntegratorOptions& EffectiveBackwardOptions() const {
    return backward_options_set ? backward_options : integrator_options;
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
  // fundamental matrix (GradientOptions::cvodes_observations).
  long backward_restarts = 0;
  double stored_bytes = 0;  // trajectory memory held for the backward pass
  double wall_seconds = 0;
  // backsolve_adjoint: ‖z_rec(t0) − z0‖ / max(‖z0‖, tiny) (NaN if non-finite), and the flag.
  // With backsolve_checkpoints: the maximum of that and, over the observation times t_i < t_N,
  // ‖z_rec(t_i) − z(t_i)‖ / max(‖z(t_i)‖, tiny) just before the reset.
  double reconstruction_error = 0;
  bool reconstruction_failed = false;
};

struct LossAndGradient {
  double loss = 0;
  Vector dtheta;       // dL/dθ
  Vector dz0;          // dL/dz0
  Vector dreadout;     // dL/dφ (empty when the loss has none)
  Trajectory forward;  // the forward solve (states at output times)
  GradientStats stats;
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
