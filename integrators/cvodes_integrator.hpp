#pragma once
// Linear multistep integrators on CVODES (variable order, variable step, adaptive only):
//   "cvodes_bdf"   BDF orders 1–5 with Newton iteration; linear systems by a dense direct solver
//                  on J = ∂f/∂z (options.linear_solver = "dense", VectorField::DenseJacobian) or by
//                  matrix-free GMRES on VectorField::Jvp ("gmres"). For stiff problems.
//   "cvodes_adams" Adams–Moulton orders 1–12 with fixed-point (functional) iteration: no Jacobian
//                  and no JVP at all, the usual choice for non-stiff problems (on a stiff problem
//                  the fixed-point iteration forces tiny steps; use cvodes_bdf there).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times; every
// output time is a stop time. CVODES has no fixed-step mode: options.fixed_step > 0 is a
// ConfigError. options.max_nonlinear_iters bounds the Newton / fixed-point iterations per step.
// The CVODES memory is created on the first Solve and re-initialised (CVodeReInit) on later ones;
// a new state size recreates it (CVODES 6.4.1 cannot resize). Neither copyable nor movable.
//
// Throws ConfigError (bad options or problem), NumericalError (NaN/Inf), SundialsError (flag, t,
// remedy), or what the field threw.

#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

class CvodesIntegrator final : public Integrator {
 public:
  // name: "cvodes_bdf" or "cvodes_adams". Throws ConfigError for other names or bad options.
  CvodesIntegrator(std::string name, IntegratorOptions options);
  CvodesIntegrator(const CvodesIntegrator&) = delete;
  CvodesIntegrator& operator=(const CvodesIntegrator&) = delete;

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
  SunNonlinearSolverPtr nonlinear_solver_;
  detail::CvodeMemPtr mem_;
};

}  // namespace snode
