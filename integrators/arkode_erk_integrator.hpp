#pragma once
// Explicit Runge–Kutta integrators on ARKODE's ERKStep:
//   "euler"  forward Euler, order 1, fixed step only (options.fixed_step > 0);
//   "rk4"    classic Runge–Kutta, order 4, fixed step only;
//   "dopri5" Dormand–Prince 5(4) (ARKODE_DORMAND_PRINCE_7_4_5), adaptive (rtol/atol) or fixed.
// The coefficients are those of ExplicitTableau(name) (integrators/butcher_tableau.hpp).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times
// (length-n states, n = field->state_size()) as the Integrator contract says
// (integrators/integrator.hpp); creation, re-initialisation, the output loop and the statistics
// are SundialsStepper's. In fixed-step mode the last step of an interval is shortened to land on
// the output time, and the next interval starts again with fixed_step. dopri5 with
// initial_step_estimate "hairer" computes its own first step every solve; the f(t0, z0) of that
// estimate is handed to ERKStep as its first stage (FirstStageRhs), so it is evaluated once.
//
// Throws ConfigError (bad options or problem; euler/rk4 without fixed_step), NumericalError
// (NaN/Inf in f or in the state), SundialsError (flag, t, remedy), or what the field threw.

#include <string>

#include "core/callbacks.hpp"
#include "core/types.hpp"
#include "integrators/sundials_stepper.hpp"

namespace snode {

namespace detail {

// ERKStep's user data: CallbackData plus one f already evaluated by the caller (the first-step
// estimate's f(t0, z0)). Not owned.
struct FirstStageRhsData : CallbackData {
  const Vector* known_f = nullptr;
  const Vector* known_z = nullptr;
  double known_t = 0.0;
  // The solver's next f call takes f when it is at exactly (t, z), bit for bit. A non-finite f is
  // not remembered.
  void Remember(double t, const Vector& z, const Vector& f);
  void Forget() { known_f = nullptr; }
};

// RhsTrampoline for FirstStageRhsData: the remembered f, neither evaluated nor counted, when the
// call matches it; otherwise RhsTrampoline. Either way the remembered f is forgotten.
int FirstStageRhs(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data);

}  // namespace detail

class ArkodeErkIntegrator final : public SundialsStepper {
 public:
  // name: "euler", "rk4" or "dopri5". Throws ConfigError for other names or bad options.
  ArkodeErkIntegrator(std::string name, IntegratorOptions options);

  // Explicit, the method's tableau; dopri5 adapts (embedding, cubic Hermite dense output),
  // euler and rk4 need a fixed step.
  IntegratorCapabilities Capabilities() const override;

 private:
  CallbackData& callback_data() override { return rhs_data_; }
  void* NewMemory(const OdeProblem& problem, N_Vector y) override;
  void ConfigureMethod(const OdeProblem& problem, N_Vector y) override;
  void ReInitMemory(const OdeProblem& problem, N_Vector y) override;
  void BeforeOutputLoop(const OdeProblem& problem) override;
  void ReadMethodStats(IntegratorStats& stats) override;
  // Signed first step by IntegratorOptions::initial_step_estimate "hairer" (two f evaluations,
  // counted in the stats); 0 (ARKODE's estimate) if the span is empty or f is not finite.
  double EstimateInitialStep(const OdeProblem& problem);

  bool hairer_first_step_ = false;  // dopri5, adaptive, no initial_step, estimate "hairer"
  detail::FirstStageRhsData rhs_data_;
  Vector start_f_, start_y_, start_f_next_;  // EstimateInitialStep's workspace (reused)
};

}  // namespace snode
