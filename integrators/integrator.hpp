#pragma once
// Integrator: solves z' = f(t, z; θ), z(t0) = z0 (an OdeProblem) and returns the states at the
// problem's output times. Implementations are plug-ins, created by name from IntegratorRegistry()
// with IntegratorOptions; apps and gradient methods only ever use this interface. An Integrator
// knows nothing about gradients: the adjoint methods drive it through the OdeProblem hooks below.
//
// Outputs. Solve(problem) integrates from problem.t0 through every time of problem.output_times
// (strictly increasing, the first ≥ t0) and fills a Trajectory: times = output_times, states = z at
// each output time (after the jump there, if any), stats, and with options.record_steps
// step_times. A first output time equal to t0 returns z0.
//  - Stop times (the default): every output time is a step boundary. An adaptive method stops
//    exactly on it; a fixed-step method (options.fixed_step > 0) takes the steps of
//    integrators/fixed_steps.hpp: FixedStepCount(a, b, h) steps per output interval [a, b],
//    decided before the first, of h each but the last, which ends exactly on b (shortened, or
//    stretched by round-off: an interval that is a whole number of steps up to round-off takes
//    exactly that many, never an extra sliver step), and the next interval starts with
//    fixed_step again. A loss sees no interpolation error and a discrete adjoint can replay the
//    steps (AppendFixedStepTimes).
//  - Interpolated outputs (options.interpolate_outputs, adaptive methods with a dense output,
//    those declaring Capabilities().interpolated_outputs: dopri5, sdirk, heun, cvodes_bdf,
//    cvodes_adams, adaptive tableau and step-level methods): only the last output time is a stop
//    time; the others are read off the dense output over the step that contains them (cubic
//    Hermite for dopri5 and the step-level methods, ARKODE's Hermite interpolant for tableau
//    methods, the Nordsieck polynomial for CVODES). Far fewer steps with many observations, at the
//    cost of an interpolation error of the order of the local error. A ConfigError with
//    fixed_step > 0 (Validate; so on euler, rk4 and backward_euler, which need a fixed step), on
//    epi2 (no dense output), and together with at_output or after_step, which need stop times.
//
// Hooks of the problem (what the adjoint methods rely on):
//  - OdeProblem::at_output(index, t, state): called at every output time in stop-time mode (also
//    at a first output time equal to t0), once the state there is known to be finite. It may change
//    the state (an adjoint's observation jump) and returns true if it did; the solver then
//    continues from the changed state (ARKODE: *Reset, which keeps the step size; CVODES:
//    CVodeReInit) and the trajectory stores the state after the jump. Honoured when
//    Capabilities().output_jumps (the SUNDIALS, tableau and step-level integrators); the others
//    (epi2) throw ConfigError when it is set.
//  - OdeProblem::after_step(t_prev, t_new, dense): called after every accepted step with the
//    step's interval and the solver's dense output over it, before any jump at t_new (backsolve's
//    parameter quadrature). `dense` is valid only during the call, for t in [t_prev, t_new]
//    (DenseOutput::Evaluate throws SundialsError if the solver refuses t). Setting it makes the
//    SUNDIALS steppers run one step per evolve call. Needs stop times and a dense output
//    (Capabilities().step_hook: every SUNDIALS, tableau and step-level integrator but
//    backward_euler); ConfigError on backward_euler and epi2.
//  - OdeProblem::error_test_size = k in (0, n): only the first k components enter the local error
//    test (error weights 1/(rtol|z_i| + atol) for i < k, 0 after: a seminorm for an adjoint's
//    parameter integral); the Hairer first-step estimate uses the same k components. Honoured by
//    the SUNDIALS and step-level integrators (not meaningful with linear_solver "gmres", whose
//    Krylov problem SUNDIALS scales by the error weights); epi2 tests every component.
//  - OdeProblem::store_all_states = false: states keeps only the state at the last output time
//    (the SUNDIALS and step-level integrators; epi2 keeps all). states.back() is that state
//    either way.
//
// Steps and limits. With options.record_steps, step_times gets t0 and the end of every accepted
// step, in order; every output time is among them in stop-time mode. options.max_steps bounds
// the steps per output interval: an interval that needs exactly max_steps steps succeeds, one
// that needs more throws SundialsError (*_TOO_MUCH_WORK of the SUNDIALS call,
// <NAME>_TOO_MUCH_WORK of a step-level method such as HEUN_TOO_MUCH_WORK, or EPI2_TOO_MUCH_WORK);
// with fixed steps it throws at the start of the interval, before any of its work, naming the
// steps the interval needs. Once a step reaches the output time, max_steps can no longer fail.
//
// Statistics (Trajectory::stats, for this solve only, not accumulated across solves): steps
// (accepted), rejected_steps (error-test and convergence failures), rhs_evals (every f evaluation,
// including the two of the Hairer first-step estimate, whose f(t0, z0) also serves as the first
// stage and is counted once; epi2 counts a non-autonomous field's ∂f/∂t as two), jvp_evals,
// jacobian_evals, linear_iters, nonlinear_iters, krylov_dim_max/mean (epi2), wall_seconds and
// first_step (adaptive SUNDIALS integrators; signed). Counters a method does not use stay 0.
//
// Exceptions. ConfigError for bad options (from the constructor and again on every Solve) or a
// bad problem (OdeProblem::Validate) before any work, and for a hook or mode the integrator does
// not support; NumericalError naming the integrator and the time when the field produced NaN/Inf
// that a smaller step could not avoid, or when a state at an output time is not finite (an
// unstable explicit method); SundialsError on solver failure (the message names the call, the
// flag, t, the integrator and a remedy); whatever the field (or a hook) threw, rethrown unchanged
// (same type, same message). After an exception the object is usable again: the next Solve starts
// afresh. The trajectory given to SolveInto is unspecified after an exception.
//
// Determinism and reuse. Integrators are created once and reused for many Solve() calls: SUNDIALS
// objects are re-initialised, not re-created, while the state size stays the same, and a reused
// object returns bit for bit what a fresh one returns for the same problem (counters, step
// history and dopri5's first step are reset or recomputed every solve). θ is read from the
// problem on every solve. No integrator allocates per step (a solve's heap allocations do not
// grow with its number of steps), and SolveInto() reuses the storage of a trajectory of the same
// shape (SUNDIALS integrators).
//
// Capabilities. Capabilities() declares what the method is and which of the above it honours
// (IntegratorCapabilities); the contract test checks every promise, and gradient methods and apps
// decide from it, never from name(), so a plug-in that declares the same is treated like a
// built-in. Each field promises:
//  - kind, order: the method family and its order (variable order: the highest); informative
//    except as used below.
//  - error_estimate: adaptive steps when fixed_step = 0; needs_fixed_step: the constructor
//    refuses fixed_step = 0.
//  - dense_output_order > 0: a dense output over every step (DenseOutput in after_step).
//  - output_jumps: at_output honoured; step_hook: after_step honoured; interpolated_outputs:
//    options.interpolate_outputs honoured; records_steps: step_times filled under record_steps.
//  - tableau: the method is exactly this Runge–Kutta tableau (explicit or diagonally implicit),
//    stage for stage, with steps ending on every output time (stop-time mode).
//  - cvodes_method: the integrator is CVODES with that linear multistep method.
// How the gradient methods use them:
//  - bptt replays the steps with `tableau` (none: ConfigError), implicit iff kind is
//    kDiagonallyImplicit; with fixed_step = 0 it needs error_estimate, not needs_fixed_step, and
//    records_steps (it replays the recorded step sequence).
//  - backsolve_adjoint's quadrature adjoint needs a kExplicit backward with a dense output, a
//    step hook and output jumps; without output_jumps the backward pass solves one observation
//    interval at a time and applies the jumps between the solves.
//  - cvodes_adjoint's forward must declare a cvodes_method (the CVODES memory is created with
//    it); its backward runs CVODES' own backward integration when it declares one, the reversed
//    linear system [a, q] segment by segment when it is kExponential or has no step hook, and
//    otherwise the interpolating adjoint (with output_jumps one solve, without one solve per
//    observation interval).
//  - apps' `--outputs auto` interpolates when interpolated_outputs (and no fixed step).
//
// Thread-safety. An Integrator object holds solver memory and workspace: use one object per
// thread (and one field per thread: VectorField::Clone). Objects on different threads are
// independent (each SUNDIALS integrator has its own SUNContext). Register plug-ins before starting
// threads (the registry is not locked).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ode_problem.hpp"
#include "core/registry.hpp"
#include "core/types.hpp"
#include "integrators/butcher_tableau.hpp"

namespace snode {

// What kind of method an integrator is (IntegratorCapabilities::kind).
enum class IntegratorKind {
  kExplicit,            // explicit one-step (Runge–Kutta and the like)
  kDiagonallyImplicit,  // one-step with implicit stages solved one at a time (DIRK, backward Euler)
  kMultistep,           // linear multistep (Adams, BDF)
  kExponential,         // exponential integrator (φ-functions of the Jacobian)
  kOther,
};

// The linear multistep method when the integrator is CVODES itself: cvodes_adjoint can then
// checkpoint it as its forward solve and run CVODES' own backward integration.
enum class CvodesMethod { kNone, kAdams, kBdf };

// What an integrator is and can do. Gradient methods and apps decide from these declared
// capabilities, never from the integrator's name, so a plug-in that declares them is treated
// exactly like a built-in. A capability declared true is a promise the contract test checks.
struct IntegratorCapabilities {
  IntegratorKind kind = IntegratorKind::kOther;
  int order = 0;                  // order of the solution (variable-order: the highest); 0 unknown
  bool error_estimate = false;    // embedded error estimate: adaptive steps when fixed_step = 0
  bool needs_fixed_step = false;  // refuses fixed_step = 0 (no error estimate to adapt with)
  int dense_output_order = 0;     // order of the dense output over a step; 0 = none
  bool output_jumps = false;      // honours OdeProblem::at_output
  bool step_hook = false;         // honours OdeProblem::after_step (with a dense output)
  bool interpolated_outputs = false;  // honours IntegratorOptions::interpolate_outputs
  bool records_steps = false;  // fills Trajectory::step_times under IntegratorOptions::record_steps
  // The method is this Runge–Kutta tableau, step for step (explicit or diagonally implicit):
  // bptt replays the recorded steps with it, so it must be the exact method Solve() runs.
  std::optional<ButcherTableau> tableau;
  CvodesMethod cvodes_method = CvodesMethod::kNone;
};

struct IntegratorOptions {
  double rtol = 1e-6;         // relative tolerance (adaptive methods, Newton and Krylov tests)
  double atol = 1e-8;         // absolute tolerance
  double fixed_step = 0.0;    // > 0: take steps of this size (shortened to hit output times)
  double initial_step = 0.0;  // 0: let the method choose (see initial_step_estimate)
  // How an adaptive explicit method (dopri5) chooses its first step when initial_step = 0:
  // "hairer" (default) — the starting-step algorithm of Hairer, Nørsett & Wanner (Solving ODEs I,
  // II.4), the one of scipy, torchdiffeq and diffrax, at the cost of two f evaluations; "sundials"
  // — ARKODE's own estimate, which can be orders of magnitude smaller (3e-6 instead of ~0.1 on the
  // ODE block of the MNIST ODE-Net, so 6 steps where 2 suffice). The implicit and CVODES
  // integrators use their own.
  std::string initial_step_estimate = "hairer";
  // Step-size control of the adaptive explicit Runge–Kutta integrators on ERKStep (dopri5 and
  // explicit tableaus with an embedding): "i" (default) — torchdiffeq's dopri5 control:
  // h_new = h·min(10, max(0.2, 0.9·err^(−1/q))), no shrinking after an accepted step, Shampine's
  // embedded weights for dopri5 and the first-step exponent 1/(p̂ + 1), plus a stability cap for
  // tableaus whose last two stages are at t_n + h (dopri5): once two accepted steps in a row
  // propose more than 0.95 of the stable step interval/ρ (ρ Hairer's stiffness estimate from those
  // two stages), the step is capped there, so bptt's frozen-step reverse pass stays stable;
  // "arkode" — ERKStep 6.4.1's defaults (PI controller, error bias 1.2, safety 0.99, no change
  // while the proposed growth is in [1, 1.5]): ~25% more f at the same tolerance
  // (docs/methods/explicit.md). Other integrators ignore it.
  std::string step_controller = "i";
  double max_step = 0.0;    // 0: unlimited
  long max_steps = 100000;  // per output interval; exceeding it throws SundialsError
  // Implicit methods: "dense" (Jacobian, direct LU; at most kMaxDenseNewtonStates states),
  // "gmres" (SPGMR with JVPs) or "fgmres" (flexible GMRES, SPFGMR, for preconditioners that vary
  // between Krylov iterations).
  std::string linear_solver = "dense";
  // Preconditioner of the Krylov linear solvers (ignored with "dense"), M ≈ I − γ ∂f/∂z:
  // "auto" — the field's (VectorField::MakePreconditioner) when it offers one, else none;
  // "none"; "field" — the field's, ConfigError when it offers none; "band" — SUNDIALS' banded
  // difference-quotient preconditioner with the field's JacobianHalfBandwidth() (ConfigError
  // when the field declares none). Left preconditioning (docs/methods/implicit.md).
  std::string preconditioner = "auto";
  int max_nonlinear_iters = 10;  // Newton iterations per stage (implicit methods)
  int krylov_max_dim = 40;       // GMRES max Krylov dimension; epi2 Arnoldi max dimension
  bool record_steps = false;     // fill Trajectory::step_times (used by BPTT replay)
  // Adaptive SUNDIALS integrators only (dopri5, sdirk, cvodes_*): outputs before the last one are
  // interpolated instead of being stop times (see the file comment). ConfigError with
  // fixed_step > 0 or on an integrator without dense output.
  bool interpolate_outputs = false;

  // Throws ConfigError naming the offending field (non-positive or NaN tolerances or step, ...).
  void Validate() const;
  // linear_solver is "dense" (otherwise "gmres" or "fgmres", once validated).
  bool DenseLinearSolver() const { return linear_solver == "dense"; }
};

// The largest state a dense Newton solve accepts: an n × n matrix of 4096² doubles is 128 MiB.
constexpr Index kMaxDenseNewtonStates = 4096;
// Throws ConfigError naming `where`, the size n, the limit and the remedy (linear_solver gmres
// or fgmres with a preconditioner) when a dense Newton matrix of n × n would exceed
// kMaxDenseNewtonStates states. Every dense Newton path calls it before allocating.
void CheckDenseNewtonSize(Index n, const std::string& where);

struct IntegratorStats {
  long steps = 0;                  // accepted steps
  long rejected_steps = 0;         // error-test and convergence failures
  long rhs_evals = 0;              // f evaluations
  long jvp_evals = 0;              // Jacobian-vector products
  long jacobian_evals = 0;         // dense Jacobian evaluations
  long linear_iters = 0;           // Krylov (GMRES/Arnoldi) iterations
  long nonlinear_iters = 0;        // Newton iterations
  long preconditioner_setups = 0;  // Preconditioner::Setup calls (or the band preconditioner's)
  long preconditioner_solves = 0;  // Preconditioner::Solve calls (or the band preconditioner's)
  long krylov_dim_max = 0;         // epi2: largest Krylov dimension used
  double krylov_dim_mean = 0;      // epi2: mean Krylov dimension per φ-evaluation
  double wall_seconds = 0;         // time spent in Solve
  double first_step = 0;           // first step attempted (adaptive SUNDIALS integrators; signed)

  IntegratorStats& operator+=(const IntegratorStats& other);
};

struct Trajectory {
  std::vector<double> times;       // = problem.output_times
  std::vector<Vector> states;      // z at each output time
  std::vector<double> step_times;  // with record_steps: t0, then the end of every accepted step
  IntegratorStats stats;
};

class Integrator {
 public:
  virtual ~Integrator() = default;
  // The registry name ("dopri5").
  virtual std::string name() const = 0;
  virtual const IntegratorOptions& options() const = 0;
  // Solves the problem as the file comment says (outputs, hooks, statistics, exceptions).
  virtual Trajectory Solve(const OdeProblem& problem) = 0;
  // The same into a caller-owned trajectory whose storage is reused (a training loop solving the
  // same problem shape again allocates nothing per solve). The default calls Solve().
  virtual void SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
    trajectory = Solve(problem);
  }
  // What the method is and which parts of the contract it honours (see IntegratorCapabilities
  // and "Capabilities" in the file comment). The default is the conservative kOther with nothing
  // declared: gradient methods then use only Solve() at stop times.
  virtual IntegratorCapabilities Capabilities() const { return {}; }
  // Whether Solve() honours OdeProblem::at_output (jumps at output times): Capabilities().
  // output_jumps. When false, a problem with at_output is a ConfigError.
  bool SupportsOutputJumps() const { return Capabilities().output_jumps; }
};

using IntegratorRegistryType = Registry<Integrator, IntegratorOptions>;

// The registry of integrators. Built-ins are listed in integrator_registry.cpp; user code may
// Add() its own, which every app and gradient method can then use by name.
IntegratorRegistryType& IntegratorRegistry();

}  // namespace snode
