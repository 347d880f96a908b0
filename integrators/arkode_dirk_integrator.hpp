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
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times; every
// output time is a stop time (fixed-step mode shortens the last step of an interval). SUNDIALS
// objects are created on the first Solve and re-initialised (ARKStepReInit) on later ones; a new
// state size recreates them. Neither copyable nor movable (SUNDIALS holds pointers into it).
//
// Throws ConfigError (bad options or problem; backward_euler without fixed_step), NumericalError
// (NaN/Inf), SundialsError (flag, t, remedy), or what the field threw.

#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

class ArkodeDirkIntegrator final : public Integrator {
 public:
  // name: "backward_euler" or "sdirk". Throws ConfigError for other names or bad options.
  ArkodeDirkIntegrator(std::string name, IntegratorOptions options);
  ArkodeDirkIntegrator(const ArkodeDirkIntegrator&) = delete;
  ArkodeDirkIntegrator& operator=(const ArkodeDirkIntegrator&) = delete;

  std::string name() const override { return name_; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override;
  void SolveInto(const OdeProblem& problem, Trajectory& trajectory) override;
  bool SupportsOutputJumps() const override { return true; }

 private:
  void Create(const OdeProblem& problem);

  std::string name_;
  std::string where_;  // "(integrator 'NAME')" for messages, built once
  IntegratorOptions options_;
  CallbackData callback_data_;
  detail::ErrorRecord error_record_;
  Index state_size_ = 0;
  Index error_test_size_ = 0;  // the problem's error_test_size the tolerances are set for
  // Declared in creation order so the context is destroyed last and the solver memory first.
  std::unique_ptr<Context> context_;
  NVectorPtr y_;
  SunMatrixPtr matrix_;
  SunLinearSolverPtr linear_solver_;
  detail::ArkStepMemPtr mem_;
};

}  // namespace snode
