#pragma once
// Explicit Runge–Kutta integrators on ARKODE's ERKStep, one per Butcher tableau. Built in:
//   "euler"  forward Euler, order 1, fixed step only (options.fixed_step > 0);
//   "rk4"    classic Runge–Kutta, order 4, fixed step only;
//   "dopri5" Dormand–Prince 5(4) (ARKODE_DORMAND_PRINCE_7_4_5), adaptive (rtol/atol) or fixed;
// with the coefficients of ExplicitTableau(name) (integrators/butcher_tableau.hpp). Any other
// explicit tableau (one read from a file, integrators/tableau_file.hpp) runs the same way: adaptive
// when it has an embedding (b_embedded), otherwise fixed step only.
//
// Dense output: ARKODE's Hermite interpolant of degree min(3, order − 1), which needs no f beyond
// the step's end points (order 1: Lagrange degree 0, i.e. the step value itself).
//
// Solve(problem) integrates z' = f(t, z; θ) from problem.t0 through problem.output_times
// (length-n states, n = field->state_size()) as the Integrator contract says
// (integrators/integrator.hpp); creation, re-initialisation, the output loop and the statistics
// are SundialsStepper's. In fixed-step mode the last step of an interval is shortened to land on
// the output time, and the next interval starts again with fixed_step. An adaptive method with
// initial_step_estimate "hairer" computes its own first step every solve (for the tableau's
// order); the f(t0, z0) of that estimate is handed to ERKStep as its first stage (FirstStageRhs),
// so it is evaluated once.
//
// Step control (IntegratorOptions::step_controller, adaptive only): "i" (default) sets ERKStep's
// I controller with exponent 1/q (ARK_ADAPT_I on the method order q), safety 0.9, error bias 1,
// growth ≤ 10 (the first step too), reduction ≥ 0.2 after a rejection and none after an accepted
// step (ARKODE's no-change band [1, 1.5] exists to keep an implicit method's Jacobian), for
// dopri5 the tableau with Shampine's embedded weights (detail::ShampineDopri5Embedding), and a
// first-step estimate with exponent 1/(p̂ + 1), p̂ the embedding order (as Hairer's DOPRI5 code,
// scipy and torchdiffeq): torchdiffeq's dopri5 step control. For a tableau whose last two stages
// are both at t_n + h (dopri5) it adds a stability cap: Hairer's stiffness estimate
// ρ = ‖f(Y_s) − f(Y_{s−1})‖ / ‖Y_s − Y_{s−1}‖ from those two stages, and once two accepted steps in
// a row propose more than 0.95·(stability interval)/ρ, the step is held there (ERKStep's stability
// function), so the steps bptt replays do not sit past the stability limit. "arkode" leaves
// ERKStep's defaults and ARKODE's table.
//
// Throws ConfigError (bad options or problem; a method without embedding and no fixed_step; a
// tableau that is not explicit or fails ValidateTableau), NumericalError
// (NaN/Inf in f or in the state), SundialsError (flag, t, remedy), or what the field threw.

#include <initializer_list>
#include <string>

#include "core/callbacks.hpp"
#include "core/types.hpp"
#include "integrators/butcher_tableau.hpp"
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

  // Stiffness estimate for the "i" controller's stability cap (tableaus whose last two stages
  // are both at t_n + h, as Dormand–Prince): when two calls in a row are at the same t,
  // ρ ≈ ‖f(Y_s) − f(Y_{s−1})‖ / ‖Y_s − Y_{s−1}‖ (Hairer's DOPRI5 stiffness test). Y_s − Y_{s−1} is
  // dominated by the fastest decaying mode once the steps approach the stability limit.
  bool estimate_stiffness = false;
  double spectral_estimate = 0.0;  // the latest ρ, 0 while none was measured
  double last_t = 0.0;
  bool last_valid = false;
  Vector last_y;
  N_Vector last_f = nullptr;  // the solver's stage vector of the last call (not owned)
  void ResetStiffness() {
    spectral_estimate = 0.0;
    last_valid = false;
    last_f = nullptr;
  }
  // Called with every successful f (y, ydot) the solver asked for.
  void TrackStiffness(double t, N_Vector y, N_Vector ydot);
};

// Shampine's 4th-order embedded weights for the Dormand–Prince 5(4) stages ("Some practical
// Runge–Kutta formulas", Math. Comp. 46, 1986; torchdiffeq's dopri5 error estimate), 7 entries
// with the FSAL stage: b̂ = (1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300, 1/60).
Vector ShampineDopri5Embedding();

// RhsTrampoline for FirstStageRhsData: the remembered f, neither evaluated nor counted, when the
// call matches it; otherwise RhsTrampoline. Either way the remembered f is forgotten.
int FirstStageRhs(sunrealtype t, N_Vector y, N_Vector ydot, void* user_data);

inline constexpr double kIControllerSafety = 0.9;  // Hairer's and torchdiffeq's
// The cap: ERKStep's CFL fraction of the stable step, and how many accepted steps in a row must
// propose more than the cap before it applies (a single large step amplifies little; a run of them
// is what bptt's reverse pass would amplify).
inline constexpr double kStabilityCapSafety = 0.95;
inline constexpr int kStabilityConfirmSteps = 2;

// The "i" controller's state between ERKStep's two callbacks of one step adaptation.
struct StabilityCap {
  const FirstStageRhsData* data = nullptr;
  double interval = 0.0;  // RealStabilityInterval of the tableau
  double proposal = 0.0;  // the accuracy-based next step (after the safety factor)
  bool accepted = false;  // the step just attempted passed the error test
  int limited_run = 0;    // accepted steps in a row whose proposal exceeded the cap
  void Reset() { limited_run = 0; }
};

// The step the "i" controller proposes (ARKODE's custom adaptivity function, before ERKStep's
// safety factor): ARK_ADAPT_I on the method order q, h·max(e, 10⁻¹⁰)^(−1/q), and after an accepted
// step (e ≤ 1) never below h (torchdiffeq's rule). With ERKStep's safety kIControllerSafety and
// fixed-step bounds [1, 1] this is bit for bit ERKStep's own I controller with the bounds [0, 1],
// but the never-shrink rule comes before ERKStep's stability cap, so the cap can shrink a step.
// user_data: the StabilityCap (the proposal is recorded there).
int IControllerStep(N_Vector y, sunrealtype t, sunrealtype h1, sunrealtype h2, sunrealtype h3,
                    sunrealtype e1, sunrealtype e2, sunrealtype e3, int q, int p, sunrealtype* hnew,
                    void* user_data);

// |R(−x)| ≤ 1 on [0, x] for the tableau's stability function R(z) = 1 + z bᵀ(I − zA)⁻¹1: the
// length of its stability interval on the negative real axis (3.31 for Dormand–Prince 5(4)).
double RealStabilityInterval(const ButcherTableau& tableau);

// ERKStep's stability function: the largest stable step by the stiffness estimate, interval / ρ
// (ERKStep takes kStabilityCapSafety of it), once kStabilityConfirmSteps accepted steps in a row
// proposed more; otherwise, or while ρ is unknown, 0 (no limit). user_data: the StabilityCap.
int StabilityLimitedStep(N_Vector y, sunrealtype t, sunrealtype* hstab, void* user_data);

}  // namespace detail

class ArkodeErkIntegrator final : public SundialsStepper {
 public:
  // A built-in: name "euler", "rk4" or "dopri5". Throws ConfigError for other names or bad options.
  ArkodeErkIntegrator(const std::string& name, IntegratorOptions options);
  // Any explicit tableau under any name. arkode_table_id: ARKODE's number of this very table
  // (ERKStepSetTableNum) or -1 to hand the coefficients over (ERKStepSetTable). Throws
  // ConfigError when the tableau is not explicit or fails ValidateTableau
  // (integrators/tableau_file.hpp), or for bad options.
  ArkodeErkIntegrator(const std::string& name, ButcherTableau tableau, IntegratorOptions options,
                      int arkode_table_id = -1);

  // Explicit, the tableau's order, an error estimate when it has an embedding, a dense output
  // (detail::FillTableauCapabilities), output jumps, after_step, interpolated outputs when
  // adaptive, and recorded steps; the tableau itself (bptt replays it).
  IntegratorCapabilities Capabilities() const override;

 private:
  ArkodeErkIntegrator(const std::string& name, ButcherTableau tableau, IntegratorOptions options,
                      int arkode_table_id, std::initializer_list<const char*> known_names);

  CallbackData& callback_data() override { return rhs_data_; }
  void* NewMemory(const OdeProblem& problem, N_Vector y) override;
  void ConfigureMethod(const OdeProblem& problem, N_Vector y) override;
  void ReInitMemory(const OdeProblem& problem, N_Vector y) override;
  void BeforeOutputLoop(const OdeProblem& problem) override;
  void ReadMethodStats(IntegratorStats& stats) override;
  // The table ERKStep runs (ARKODE's by number, or the coefficients handed over).
  void SetTable();
  // step_controller "i" (see the file comment).
  void SetIController();
  // Signed first step by IntegratorOptions::initial_step_estimate "hairer" (two f evaluations,
  // counted in the stats); 0 (ARKODE's estimate) if the span is empty or f is not finite.
  double EstimateInitialStep(const OdeProblem& problem);

  ButcherTableau tableau_;          // the method, as declared
  int arkode_table_id_ = -1;        // ARKODE's number of the same table, or -1
  bool hairer_first_step_ = false;  // adaptive, no initial_step, estimate "hairer"
  bool i_controller_ = false;       // adaptive with step_controller "i"
  detail::FirstStageRhsData rhs_data_;
  detail::StabilityCap stability_cap_;       // "i" with two final stages at t_n + h
  Vector start_f_, start_y_, start_f_next_;  // EstimateInitialStep's workspace (reused)
};

}  // namespace snode
