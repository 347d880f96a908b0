#pragma once
// The stiff gradient validation grid (issue "trustworthy gradients"): every registered gradient
// method × every adaptive integrator it accepts × three tolerance levels × a list of stiff
// problems, each result judged against an exact or independent reference gradient.
//
// Bound (the documented convention of docs/gradients.md): with e the reference [dL/dθ; dL/dz0],
//   BoundError(g, e) = max_i |g_i − e_i| / max(|e_i|, 1e-3·‖e‖_∞),
// and a run at tolerance rtol is "within" when BoundError ≤ C_method·rtol (DocumentedConstant).
// Verdicts:
//   "within"  — the gradient is within its bound (whatever the method's flag says; a flagged run
//               that is within counts as a false alarm, reported separately);
//   "flagged" — not within, and loud: the method flagged it (GradientStats::flagged), threw a
//               clear error (step budget, solver failure, unsupported use), or returned NaN/Inf;
//   "silent"  — not within and none of those: a wrong gradient that says nothing. The bar is zero.
//
// Reference: the problem's exact_gradient when it has one, otherwise ForwardSensitivityGradient
// (adjoint/forward_sensitivity.hpp, independent of every method judged) at reference_rtol; its
// own error is estimated as the BoundError between that and a solve at 10·reference_rtol, and
// reported next to the grid. The reference loss always comes from ForwardSensitivityGradient.
//
// Problems are factories, so a new one is one line in DefaultValidationProblems().

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/settings.hpp"
#include "core/types.hpp"
#include "problems/problem.hpp"

namespace snode {

struct ToleranceLevel {
  std::string name;  // "loose", "default", "tight"
  double rtol = 0.0;
  double atol = 0.0;  // before the problem's atol_scale
};
// loose rtol 1e-4 atol 1e-6, default 1e-6/1e-8, tight 1e-10/1e-12.
std::vector<ToleranceLevel> ValidationLevels();

struct ValidationProblem {
  std::string name;
  std::function<problems::ProblemSetup()> make;
  double atol_scale = 1.0;  // multiplies every level's atol and the reference's
};
// The stiff problems of the suite: van_der_pol (μ = 1e3), oregonator, stiff_mlp, boundary_layer.
std::vector<ValidationProblem> DefaultValidationProblems();

// C_method of the documented bound (measured by this suite, see gradient_validation.cpp);
// methods without an entry get the target C = 100.
double DocumentedConstant(const std::string& method);

// max_i |g_i − e_i| / max(|e_i|, 1e-3·‖e‖_∞); NaN when g is empty or not finite. ConfigError
// when the lengths differ or e is all zeros.
double BoundError(const Vector& g, const Vector& e);

struct ValidationOptions {
  std::vector<std::string> methods;      // empty: every registered gradient method
  std::vector<std::string> integrators;  // empty: every registered adaptive integrator
  std::vector<ToleranceLevel> levels = ValidationLevels();
  // Step budget per output interval of every run: a non-stiff method on these problems fails
  // loudly (TOO_MUCH_WORK) within a second; every stiff method that is within bound at 20000 steps
  // still is at 10000 (measured).
  long max_steps = 10000;
  double reference_rtol = 1e-14;
  // Per method name, its own settings (GradientOptions::method_settings), e.g.
  // {"cvodes_adjoint", {{"quadrature", "gauss"}}}; methods not listed run with their defaults.
  std::map<std::string, Settings> method_settings;
  // Every run with GradientOptions::tolerance_check (adjoint/tolerance_check.hpp); off measures
  // what the methods' own one-solve diagnostics catch.
  bool tolerance_check = true;
};

struct ValidationRecord {
  std::string problem, method, integrator, level;
  double rtol = 0.0, atol = 0.0;
  double error = 0.0;  // BoundError against the reference (NaN when it threw or is not finite)
  double bound = 0.0;  // DocumentedConstant(method)·rtol
  // |L − L_ref| / |L_ref|: the forward solve's own error, to tell a gradient method's failure
  // from a forward solve whose global error is already far above rtol (NaN when it threw).
  double loss_error = 0.0;
  std::string verdict;   // "within", "flagged", "silent"
  std::string detail;    // the exception message, or the method's diagnosis
  bool threw = false;    // the method threw
  bool flagged = false;  // GradientStats::flagged
  double seconds = 0.0;
};

struct ValidationReference {
  std::string problem;
  std::string source;  // "exact" or "forward_sensitivity rtol=…"
  Vector gradient;
  double loss = 0.0;             // L by ForwardSensitivityGradient at reference_rtol
  double estimated_error = 0.0;  // 0 for an exact gradient
};

struct ValidationSummary {
  int runs = 0, within = 0, flagged = 0, silent = 0;
  int false_alarms = 0;  // within but flagged by the method
  // Per method, max error/rtol over its within runs, and over every run that returned a finite
  // unflagged gradient (the C that would make all of those within).
  std::map<std::string, double> within_c, needed_c;
};

struct ValidationResult {
  std::vector<ValidationRecord> records;
  std::vector<ValidationReference> references;
  std::vector<std::string> notes;  // combinations skipped, with the reason
  ValidationSummary summary;
};

// Runs the grid. Throws ConfigError for an unknown method, integrator or empty level list, and
// whatever the reference computation throws; never throws for a method's failure (a record).
ValidationResult RunGradientValidation(const std::vector<ValidationProblem>& problems,
                                       const ValidationOptions& options);

// Adaptive integrators of the registry (error estimate, no fixed step required), sorted.
std::vector<std::string> AdaptiveIntegrators();

ValidationSummary Summarize(const std::vector<ValidationRecord>& records);
// "gradient validation: N runs, M within bound, K flagged, S silent"
std::string SummaryLine(const ValidationSummary& summary);
// One line for a record: verdict, problem, method/integrator, level, error, bound, detail.
std::string FormatRecord(const ValidationRecord& record);

}  // namespace snode
