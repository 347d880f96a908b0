#pragma once
// Pieces shared by the apps that compare gradient methods (stiffness_study, exponential_decay):
// a method specification (gradient method × integrator × settings), one guarded gradient run
// that turns every solver failure into a status instead of an exception, the error measures
// against an exact or reference gradient, and the backsolve adjoint's backward reconstruction of
// z(t) re-solved on a grid of output times (for plots and for the reconstructed z(t0)); and the
// pieces the studies share around them: method-matrix helpers (WithBackward, MethodOverrides,
// SupportedOnly), sweep helpers (DecadesUpTo, SortedUnique), a problem as a study runs it
// (StudyProblem, built on problems/) and one judged run on it (GradientRecord, Evaluate).
//
// Gradient vectors are g = [dL/dθ; dL/dz0] throughout (length P + n).
//
// Error measures (CompareGradient): per component i with exact value e_i,
//   rel_i = |g_i − e_i| / |e_i|            when |e_i| ≥ kUnderflow (a normal double),
//   abs_i = |g_i − e_i|                    always;
// components whose exact value underflows (|e_i| < kUnderflow, e.g. e^{−1000} = 0 in double)
// get no relative error (see WithinTolerance for how they are judged). rel = max rel_i,
// abs = max abs_i (NaN when g has a non-finite entry).
//
// Status (Classify): "failed" (the method threw; message kept), "non-finite" (NaN/Inf in L or g),
// "flagged" (the method's own run-time diagnosis says the gradient cannot be trusted,
// GradientStats::flagged; whatever the comparison says), "inaccurate" (some component outside
// ok_tol·|e_i| + τ_i, see WithinTolerance), "ok".

#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"
#include "integrators/integrator.hpp"
#include "problems/problem.hpp"
#include "studies/report.hpp"

namespace snode {

// Smallest positive normal double: exact values below it are treated as underflowed.
inline constexpr double kUnderflow = 2.2250738585072014e-308;
// The absolute part τ of the studies' ok test (WithinTolerance): for every component where the
// exact value lies far below any solver tolerance (the seed's decay), elsewhere only for
// components whose exact value underflows.
inline constexpr double kGradientAbsTol = 1e-12;

struct MethodSpec {
  std::string gradient;    // gradient method registry name
  std::string integrator;  // forward integrator registry name
  std::string settings;    // short human description, e.g. "h=1e-3", "tol=1e-6"
  GradientOptions options;

  // "gradient/integrator settings"
  std::string Label() const;
};

// A spec with options.integrator = integrator and the given tolerances / fixed step (0:
// adaptive). settings: "" builds "h=1e-3", "tol=1e-6" (rtol = atol) or "tol=1e-10/1e-12"
// (rtol/atol) from the numbers. Adaptive specs have options.tolerance_check on: a study's
// gradients estimate their own error (adjoint/tolerance_check.hpp); training runs create their
// method without it.
MethodSpec MakeMethod(const std::string& gradient, const std::string& integrator, double rtol,
                      double atol, double fixed_step = 0.0, const std::string& settings = "");

struct GradientRun {
  MethodSpec spec;
  bool threw = false;  // Compute() threw; message holds what()
  std::string message;
  double loss = 0.0;
  Vector gradient;                     // [dθ; dz0], empty when threw
  std::vector<Vector> forward_states;  // forward z at the output times (empty when threw)
  GradientStats stats;
  double seconds = 0.0;      // wall time of create + Compute
  double cpu_seconds = 0.0;  // CPU time of the same, of the calling thread

  bool Finite() const;  // loss and every gradient entry finite (false when threw)
};

// Creates spec's gradient method and computes L and g on problem. Catches std::exception (solver
// failures, bad combinations) into threw/message; never throws.
GradientRun RunGradient(const MethodSpec& spec, const OdeProblem& problem, const Loss& loss);

// True when the registry knows both names and the method accepts the integrator, judged by a
// tiny probe problem (dy/dt = −y on [0, 1]): a ConfigError from construction or Compute means
// "not supported"; reason receives its message.
bool SupportsCombination(const MethodSpec& spec, std::string* reason);

struct GradientError {
  double rel = 0.0;            // max componentwise relative error over representable components
  double abs = 0.0;            // max componentwise absolute error
  bool underflow = false;      // some exact component underflows
  double underflow_abs = 0.0;  // max absolute error over the underflowing components
};

// See the file comment. exact and g must have the same length (ConfigError otherwise) unless g
// is empty (then everything is NaN).
GradientError CompareGradient(const Vector& g, const Vector& exact);

// True when every component satisfies |g_i − e_i| ≤ ok_tol·|e_i| + τ_i, with τ_i = abs_tol for
// all components (abs_for_all, used where e^{−λ} lies far below any solver tolerance, W1) or only
// for components whose exact value underflows (otherwise τ_i = 0: a purely relative test).
bool WithinTolerance(const Vector& g, const Vector& exact, double ok_tol, double abs_tol,
                     bool abs_for_all);

// "failed" (threw), "non-finite", "flagged" (run.stats.flagged), "inaccurate" (not
// WithinTolerance) or "ok".
std::string Classify(const GradientRun& run, const Vector& exact, double ok_tol, double abs_tol,
                     bool abs_for_all);

// The backsolve adjoint's backward pass re-solved with output at a grid, for showing z_rec(t):
// the augmented system [z; a; G] (detail::BacksolveAugmentedField) is integrated in s = −t from
// the forward z(T) (forward_states.back()), a(T) = ∂ℓ_N/∂z, G = 0, with the jumps of a at earlier
// observation times, by spec's backward integrator and options, one grid interval at a time so
// the part before a failure is kept.
struct Reconstruction {
  std::vector<double> times;   // t, decreasing from T to t0 (only the points reached)
  std::vector<Vector> states;  // z_rec(t)
  bool complete = false;       // reached t0 with a finite state
  std::string message;         // why it stopped early
};
Reconstruction ReconstructBacksolve(const MethodSpec& spec, const OdeProblem& problem,
                                    const Loss& loss, const std::vector<Vector>& forward_states,
                                    int grid_points);

// z_rec(t0) from one uninterrupted backward pass over the observation segments (what the
// backsolve adjoint itself does). Returns false (message set) if the solve failed or went
// non-finite.
bool ReconstructInitialState(const MethodSpec& spec, const OdeProblem& problem, const Loss& loss,
                             const std::vector<Vector>& forward_states, Vector* z0_rec,
                             std::string* message);

// Joins numbers with ';' in %.17g (for CSV cells).
std::string JoinNumbers(const Vector& v);

// ---------------------------------------------------------------- method matrices

// spec with a separate backward integrator ("bwd=<name>" appended to its settings).
MethodSpec WithBackward(MethodSpec spec, const std::string& backward);

// What the command line asks of a method matrix: filters (--gradient, --integrator) and
// explicit settings (--rtol, --atol, --step, --max-steps, --linear-solver, --outputs,
// --backward-integrator). Every one given is honoured by SelectMethods.
struct MethodOverrides {
  std::string gradient;    // --gradient
  std::string integrator;  // --integrator
  bool gradient_set = false, integrator_set = false;
  bool rtol_set = false, atol_set = false, step_set = false, max_steps_set = false,
       linear_solver_set = false, preconditioner_set = false, step_controller_set = false,
       outputs_set = false, backward_integrator_set = false;
  IntegratorOptions given;  // rtol, atol, fixed_step, max_steps, linear_solver, preconditioner,
                            // step_controller
  std::string outputs;      // --outputs: "stop", "interpolate" or "auto"
  std::string backward_integrator;  // --backward-integrator ("" = the forward one)
};

// Applies the filters of overrides to a method matrix (a gradient/integrator pair outside the
// matrix is run alone with the given settings), then the explicit settings to every selected
// method: tolerances and --outputs to the adaptive ones, the step to the fixed-step ones,
// --max-steps, --linear-solver and --backward-integrator to all (--outputs auto: interpolated
// where the integrator declares interpolated outputs). A changed tolerance or step
// rewrites the first word of the settings text ("tol=…", "h=…"); the method's other options
// (method settings, backward options) are kept.
std::vector<MethodSpec> SelectMethods(std::vector<MethodSpec> specs,
                                      const MethodOverrides& overrides);

// Drops the combinations the registries do not know or the method rejects
// (SupportsCombination); appends "skipped <label>: <reason>" to notes (once per label).
std::vector<MethodSpec> SupportedOnly(const std::vector<MethodSpec>& specs,
                                      std::vector<std::string>* notes);

// ---------------------------------------------------------------- sweeps

// λ = 1, 10, 100, … up to lambda_max, plus lambda_max itself when it is not a decade.
std::vector<double> DecadesUpTo(double lambda_max);
// values sorted ascending without repeats.
std::vector<double> SortedUnique(std::vector<double> values);

// A problem as the gradient studies run it: the problem, the name and stiffness shown in the
// tables, the exact (or reference) gradient and how it is judged (see WithinTolerance).
struct StudyProblem {
  std::string name;     // as shown in tables and files: "W1", "W1b", "W5 T=40"
  double lambda = 0.0;  // stiffness shown in the tables
  problems::ProblemSetup setup;
  Vector exact;              // [dL/dθ; dL/dz0], exact or reference
  bool abs_for_all = false;  // judge every component with the absolute part too
};

// The seed's decay dy/dt = −λy (problems::MakeDecay) as "W1": e^{−λ} lies far below any solver
// tolerance for λ ≳ 30, so every component is judged with the absolute part too.
StudyProblem DecayStudyProblem(double lambda);
// The two-rate decay z' = diag(−1, −λ) z (problems::MakeTwoRateDecay) as "W1b", judged
// relatively.
StudyProblem TwoRateStudyProblem(double lambda);

// One gradient run on a study problem, judged.
struct GradientRecord {
  std::string problem;  // StudyProblem::name
  double lambda = 0.0;
  std::string parameter =
      "λ";  // what lambda is called (ProblemCapabilities::parameter: "λ", "μ", "T")
  GradientRun run;
  Vector exact;
  GradientError error;
  std::string status;  // ok / inaccurate / flagged / non-finite / failed (Classify)
  std::string reference = "exact";
};

// Runs spec on problem and classifies the result with ok_tol and abs_tol.
GradientRecord Evaluate(const StudyProblem& problem, const MethodSpec& spec, double ok_tol,
                        double abs_tol);

// A reconstruction as a plot panel (report.hpp) of the exact decay e^{−λt}.
ReconstructionPanel PanelOf(double lambda, const Reconstruction& reconstruction);

}  // namespace snode
