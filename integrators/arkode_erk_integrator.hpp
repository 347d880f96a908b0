#pragma once
// Explicit Runge–Kutta integrators on ARKODE's ERKStep:
//   "euler"  forward Euler, order 1, fixed step only (options.fixed_step > 0);
//   "rk4"    classic Runge–Kutta, order 4, fixed step only;
//   "dopri5" Dormand–Prince 5(4) (ARKODE_DORMAND_PRINCE_7_4_5), adaptive (rtol/atol) or fixed.
// The coefficients are those of ExplicitTableau(name) (integrators/butcher_tableau.hpp).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times
// (length-n states, n = field->state_size()). Every output time is a stop time; in fixed-step mode
// the last step of an interval is shortened to land on the output time, and the next interval
// starts again with fixed_step. The ERKStep memory, its SUNContext and vectors are created on the
// first Solve and re-initialised (ERKStepReInit) on later ones; a new state size recreates them.
// The object holds raw pointers to itself inside SUNDIALS, so it is neither copyable nor movable.
//
// Throws ConfigError (bad options or problem; euler/rk4 without fixed_step), NumericalError
// (NaN/Inf in f or in the state), SundialsError (flag, t, remedy), or what the field threw.

#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "integrators/sundials_check.hpp"

namespace snode {

class ArkodeErkIntegrator final : public Integrator {
 public:
  // name: "euler", "rk4" or "dopri5". Throws ConfigError for other names or bad options.
  ArkodeErkIntegrator(std::string name, IntegratorOptions options);
  ArkodeErkIntegrator(const ArkodeErkIntegrator&) = delete;
  ArkodeErkIntegrator& operator=(const ArkodeErkIntegrator&) = delete;

  std::string name() const override { return name_; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override;
  void SolveInto(const OdeProblem& problem, Trajectory& trajectory) override;
  bool SupportsOutputJumps() const override { return true; }

 private:
  void Create(const OdeProblem& problem);
  // Signed first step by IntegratorOptions::initial_step_estimate "hairer" (two f evaluations,
  // counted in the stats); 0 (ARKODE's estimate) if the span is empty or f is not finite.
  double EstimateInitialStep(const OdeProblem& problem);

  std::string name_;
  std::string where_;  // "(integrator 'NAME')" for messages, built once
  IntegratorOptions options_;
  CallbackData callback_data_;
  detail::ErrorRecord error_record_;
  Index state_size_ = 0;
  Index error_test_size_ = 0;  // the problem's error_test_size the tolerances are set for
  Vector start_f_, start_y_, start_f_next_;  // EstimateInitialStep's workspace (reused)
  // Declared in creation order so the context is destroyed last.
  std::unique_ptr<Context> context_;
  NVectorPtr y_;
  detail::ErkStepMemPtr mem_;
};

}  // namespace snode
