#pragma once
// Diagonally implicit Runge–Kutta integrators on ARKODE's ARKStep (f treated fully implicitly):
//   "backward_euler" z_{n+1} = z_n + h f(t_{n+1}, z_{n+1}); order 1, L-stable; fixed step only
//                    (options.fixed_step > 0), custom 1-stage table, Lagrange interpolant;
//   "sdirk"          ARKODE_ESDIRK43I6L2SA_6_3_4 (Kennedy–Carpenter ESDIRK, 6 stages with an
//                    explicit first stage, order 4, embedded order 3, stage order 2), L-stable
//                    and stiffly accurate; adaptive (rtol/atol) or fixed. Its stage equations are
//                    solved to 1e-3 of the error tolerance (see the .cpp).
// The coefficients are those of ImplicitTableau(name) (integrators/butcher_tableau.hpp).
//
// Each stage is solved by Newton's method (at most options.max_nonlinear_iters iterations) with
// either a dense direct solver on J = ∂f/∂z from VectorField::DenseJacobian
// (options.linear_solver = "dense") or matrix-free GMRES using VectorField::Jvp ("gmres", Krylov
// dimension ≤ options.krylov_max_dim).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times as the
// Integrator contract says (integrators/integrator.hpp); creation, re-initialisation, the output
// loop and the statistics are SundialsStepper's. Fixed-step mode shortens the last step of an
// interval. backward_euler has no dense output (its degree-0 Lagrange "interpolant" is y_n), so
// interpolate_outputs and OdeProblem::after_step are ConfigErrors there.
//
// Throws ConfigError (bad options or problem; backward_euler without fixed_step), NumericalError
// (NaN/Inf), SundialsError (flag, t, remedy), or what the field threw.

#include <string>

#include "core/callbacks.hpp"
#include "integrators/sundials_stepper.hpp"

namespace snode {

class ArkodeDirkIntegrator final : public SundialsStepper {
 public:
  // name: "backward_euler" or "sdirk". Throws ConfigError for other names or bad options.
  ArkodeDirkIntegrator(std::string name, IntegratorOptions options);

  // Diagonally implicit, the method's tableau; sdirk adapts (embedding, Hermite dense output),
  // backward_euler needs a fixed step and has no dense output.
  IntegratorCapabilities Capabilities() const override;

 private:
  CallbackData& callback_data() override { return callback_data_; }
  void* NewMemory(const OdeProblem& problem, N_Vector y) override;
  void ConfigureMethod(const OdeProblem& problem, N_Vector y) override;
  void ReInitMemory(const OdeProblem& problem, N_Vector y) override;
  bool HasDenseOutput() const override { return name() == "sdirk"; }
  void ReadMethodStats(IntegratorStats& stats) override;

  CallbackData callback_data_;
};

}  // namespace snode
