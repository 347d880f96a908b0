#pragma once
// Linear multistep integrators on CVODES (variable order, variable step, adaptive only):
//   "cvodes_bdf"   BDF orders 1–5 with Newton iteration; linear systems by a dense direct solver
//                  on J = ∂f/∂z (options.linear_solver = "dense", VectorField::DenseJacobian) or by
//                  matrix-free GMRES on VectorField::Jvp ("gmres", "fgmres"; preconditioned as
//                  options.preconditioner says). For stiff problems.
//   "cvodes_adams" Adams–Moulton orders 1–12 with fixed-point (functional) iteration: no Jacobian
//                  and no JVP at all, the usual choice for non-stiff problems (on a stiff problem
//                  the fixed-point iteration forces tiny steps; use cvodes_bdf there).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times as the
// Integrator contract says (integrators/integrator.hpp); creation, re-initialisation (CVODES
// 6.4.1 cannot resize: a new state size recreates the memory), the output loop and the statistics
// are SundialsStepper's. CVODES has no fixed-step mode: options.fixed_step > 0 is a ConfigError.
// options.max_nonlinear_iters bounds the Newton / fixed-point iterations per step. A jump at an
// output time (OdeProblem::at_output) restarts CVODES there (CVodeReInit: order 1, a new first
// step), unlike ARKODE's reset, which keeps the step size.
//
// Throws ConfigError (bad options or problem), NumericalError (NaN/Inf), SundialsError (flag, t,
// remedy), or what the field threw.

#include <string>

#include "core/callbacks.hpp"
#include "integrators/sundials_stepper.hpp"

namespace snode {

class CvodesIntegrator final : public SundialsStepper {
 public:
  // name: "cvodes_bdf" or "cvodes_adams". Throws ConfigError for other names or bad options.
  CvodesIntegrator(std::string name, IntegratorOptions options);

  // Linear multistep (cvodes_method kBdf, order 5, or kAdams, order 12), adaptive only, with the
  // Nordsieck polynomial as dense output.
  IntegratorCapabilities Capabilities() const override;

 private:
  CallbackData& callback_data() override { return callback_data_; }
  void* NewMemory(const OdeProblem& problem, N_Vector y) override;
  void ConfigureMethod(const OdeProblem& problem, N_Vector y) override;
  void ReInitMemory(const OdeProblem& problem, N_Vector y) override;
  void ReadMethodStats(IntegratorStats& stats) override;

  CallbackData callback_data_;
};

}  // namespace snode
