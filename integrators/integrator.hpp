#pragma once
// Integrator: solves z' = f(t, z; θ) from problem.t0 through problem.output_times. By default every
// output time is a stop time, so it is a step boundary (no interpolation error enters a loss).
// With IntegratorOptions::interpolate_outputs only the last output time stops the solver and the
// others are read off the solver's dense output (cubic Hermite for ARKODE, the Nordsieck
// polynomial for CVODES), as torchdiffeq and diffrax do: far fewer steps with many observations.
//
// Implementations are created once (IntegratorRegistry().Create(name, options)) and reused for
// many Solve() calls: SUNDIALS objects are re-initialised, not re-created, when the state size
// is unchanged. An Integrator knows nothing about gradients.
//
// Errors: ConfigError for bad options or a bad problem (Validate()), NumericalError when the field
// produced NaN/Inf that a smaller step could not avoid, SundialsError on solver failure (the
// message names the flag, t, the integrator and a remedy), and whatever the field itself threw.

#include <memory>
#include <string>
#include <vector>

#include "core/ode_problem.hpp"
#include "core/registry.hpp"
#include "core/types.hpp"

namespace snode {

struct IntegratorOptions {
  double rtol = 1e-6;         // relative tolerance (adaptive methods, Newton and Krylov tests)
  double atol = 1e-8;         // absolute tolerance
  double fixed_step = 0.0;    // > 0: take steps of this size (shortened to hit output times)
  double initial_step = 0.0;  // 0: let the method choose (see initial_step_estimate)
  // How an adaptive explicit method (dopri5) chooses its first step when initial_step = 0:
  // "hairer" (default) — the starting-step algorithm of Hairer, Nørsett & Wanner (Solving ODEs I,
  // II.4), the one of scipy, torchdiffeq and diffrax, at the cost of two f evaluations; "sundials"
  // — ARKODE's own estimate, which can be orders of magnitude smaller (3e-6 instead of ~0.1 on W4's
  // ODE block, so 6 steps where 2 suffice). The implicit and CVODES integrators use their own.
  std::string initial_step_estimate = "hairer";
  double max_step = 0.0;                // 0: unlimited
  long max_steps = 100000;              // per output interval; exceeding it throws SundialsError
  std::string linear_solver = "dense";  // implicit methods: "dense" (Jacobian) or "gmres" (JVPs)
  int max_nonlinear_iters = 10;         // Newton iterations per stage (implicit methods)
  int krylov_max_dim = 40;              // GMRES max Krylov dimension; epi2 Arnoldi max dimension
  bool record_steps = false;            // fill Trajectory::step_times (used by BPTT replay)
  // Adaptive SUNDIALS integrators only (dopri5, sdirk, cvodes_*): outputs before the last one are
  // interpolated instead of being stop times. ConfigError with fixed_step > 0 or on an integrator
  // without dense output (euler, rk4, heun, backward_euler, epi2 are fixed-step or own code).
  bool interpolate_outputs = false;

  // Throws ConfigError naming the offending field (non-positive or NaN tolerances or step, ...).
  void Validate() const;
};

struct IntegratorStats {
  long steps = 0;              // accepted steps
  long rejected_steps = 0;     // error-test and convergence failures
  long rhs_evals = 0;          // f evaluations
  long jvp_evals = 0;          // Jacobian-vector products
  long jacobian_evals = 0;     // dense Jacobian evaluations
  long linear_iters = 0;       // Krylov (GMRES/Arnoldi) iterations
  long nonlinear_iters = 0;    // Newton iterations
  long krylov_dim_max = 0;     // epi2: largest Krylov dimension used
  double krylov_dim_mean = 0;  // epi2: mean Krylov dimension per φ-evaluation
  double wall_seconds = 0;     // time spent in Solve
  double first_step = 0;       // first step attempted (adaptive SUNDIALS integrators; signed)

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
  // Solves the problem; see the file comment for what it throws.
  virtual Trajectory Solve(const OdeProblem& problem) = 0;
  // The same into a caller-owned trajectory whose storage is reused (a training loop solving the
  // same problem shape again allocates nothing per solve). The default calls Solve().
  virtual void SolveInto(const OdeProblem& problem, Trajectory& trajectory) {
    trajectory = Solve(problem);
  }
  // Whether Solve() honours OdeProblem::at_output (jumps at output times, step size kept).
  virtual bool SupportsOutputJumps() const { return false; }
};

using IntegratorRegistryType = Registry<Integrator, IntegratorOptions>;

// The registry of integrators. Built-ins are listed in integrator_registry.cpp; user code may
// Add() its own, which every app and gradient method can then use by name.
IntegratorRegistryType& IntegratorRegistry();

}  // namespace snode
