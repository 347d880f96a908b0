#pragma once
// Diagonally implicit Runge–Kutta integrators on ARKODE's ARKStep (f treated fully implicitly),
// one per Butcher tableau. Built in:
//   "backward_euler" z_{n+1} = z_n + h f(t_{n+1}, z_{n+1}); order 1, L-stable; fixed step only
//                    (options.fixed_step > 0), custom 1-stage table, Lagrange interpolant;
//   "sdirk"          ARKODE_ESDIRK43I6L2SA_6_3_4 (Kennedy–Carpenter ESDIRK, 6 stages with an
//                    explicit first stage, order 4, embedded order 3, stage order 2), L-stable
//                    and stiffly accurate; adaptive (rtol/atol) or fixed. Its stage equations are
//                    solved to 1e-3 of the error tolerance (see the .cpp).
// The coefficients are those of ImplicitTableau(name) (integrators/butcher_tableau.hpp). Any other
// diagonally implicit tableau (lower triangular A with a nonzero diagonal entry; one read from a
// file, integrators/tableau_file.hpp) runs the same way: adaptive when it has an embedding
// (b_embedded; its stages are then solved to 1e-3 of the error tolerance like sdirk's), otherwise
// fixed step only. Dense output: ARKODE's Hermite interpolant of degree min(3, order − 1); none
// for a first-order tableau (Lagrange degree 0 returns the step value).
//
// Each stage is solved by Newton's method (at most options.max_nonlinear_iters iterations) with
// either a dense direct solver on J = ∂f/∂z from VectorField::DenseJacobian
// (options.linear_solver = "dense") or matrix-free GMRES using VectorField::Jvp ("gmres" or
// "fgmres", Krylov dimension ≤ options.krylov_max_dim, preconditioned as
// options.preconditioner says; integrators/krylov_solver.hpp).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times as the
// Integrator contract says (integrators/integrator.hpp); creation, re-initialisation, the output
// loop and the statistics are SundialsStepper's. Fixed-step mode shortens the last step of an
// interval. backward_euler (any first-order tableau) has no dense output (its degree-0 Lagrange
// "interpolant" is y_n), so interpolate_outputs and OdeProblem::after_step are ConfigErrors there.
//
// Throws ConfigError (bad options or problem; a method without embedding and no fixed_step; a
// tableau that is explicit or fails ValidateTableau), NumericalError
// (NaN/Inf), SundialsError (flag, t, remedy), or what the field threw.

#include <initializer_list>
#include <string>

#include "core/callbacks.hpp"
#include "integrators/butcher_tableau.hpp"
#include "integrators/sundials_stepper.hpp"

namespace snode {

class ArkodeDirkIntegrator final : public SundialsStepper {
 public:
  // A built-in: name "backward_euler" or "sdirk". Throws ConfigError for other names or bad
  // options.
  ArkodeDirkIntegrator(const std::string& name, IntegratorOptions options);
  // Any diagonally implicit tableau under any name. arkode_table_id: ARKODE's number of this very
  // table (ARKStepSetTableNum) or -1 to hand the coefficients over (ARKStepSetTables). Throws
  // ConfigError when the tableau is explicit or fails ValidateTableau
  // (integrators/tableau_file.hpp), or for bad options.
  ArkodeDirkIntegrator(const std::string& name, ButcherTableau tableau, IntegratorOptions options,
                       int arkode_table_id = -1);

  // Diagonally implicit, the tableau's order, an error estimate when it has an embedding, a dense
  // output above order 1 (detail::FillTableauCapabilities), output jumps, after_step and
  // interpolated outputs with a dense output (the latter when adaptive), recorded steps; the
  // tableau itself (bptt replays it).
  IntegratorCapabilities Capabilities() const override;

 private:
  ArkodeDirkIntegrator(const std::string& name, ButcherTableau tableau, IntegratorOptions options,
                       int arkode_table_id, std::initializer_list<const char*> known_names);

  CallbackData& callback_data() override { return callback_data_; }
  void* NewMemory(const OdeProblem& problem, N_Vector y) override;
  void ConfigureMethod(const OdeProblem& problem, N_Vector y) override;
  void ReInitMemory(const OdeProblem& problem, N_Vector y) override;
  bool HasDenseOutput() const override { return tableau_.order > 1; }
  void ReadMethodStats(IntegratorStats& stats) override;

  CallbackData callback_data_;
  ButcherTableau tableau_;    // the method, as declared
  int arkode_table_id_ = -1;  // ARKODE's number of the same table, or -1
};

}  // namespace snode
