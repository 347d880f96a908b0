#pragma once
// The verdict of a gradient study: the status words with their rules (defined once, here), an
// error cell that cannot contradict its status, and per problem × method where the method
// works and where and why it breaks — as records (ComputeVerdicts), in words (VerdictText) and as
// a terminal table bounded to 40 lines × 120 columns (PrintVerdictTable).
//
// Status words (Classify in studies/gradient_study.hpp applies them in this order):
//   failed      the method threw (a solver failure, a step budget, a bad combination); the
//               message is kept in full
//   non-finite  the loss or some gradient component is NaN or Inf
//   flagged     finite, but the method's own run-time diagnosis (GradientStats::flagged) says
//               its gradient cannot be trusted, whatever the comparison says
//   inaccurate  finite and not flagged, but some component g_i misses its criterion
//               |g_i − e_i| ≤ ok_tol·|e_i| + τ_i
//   ok          finite, not flagged, and every component meets its criterion
// τ_i = abs_tol (kGradientAbsTol) for every component on a problem judged absolutely
// (ProblemCapabilities::judge_absolute: exact values far below any solver tolerance) and for
// components whose exact value underflows (|e_i| < kUnderflow); otherwise τ_i = 0.
//
// Why a method breaks (BreakReason): the status word of the first record that is not ok, except
// "too much work" for a failed record whose message names a step-budget flag: every integrator
// reports an exhausted max_steps as a SundialsError whose flag name ends in "_TOO_MUCH_WORK"
// (CV_TOO_MUCH_WORK, ARK_TOO_MUCH_WORK, HEUN_TOO_MUCH_WORK, EPI2_TOO_MUCH_WORK, ...;
// integrators/integrator.hpp), and the message of a SundialsError contains its flag name.

#include <cstddef>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "studies/gradient_study.hpp"

namespace snode {

// ---------------------------------------------------------------- status words

struct StatusWord {
  std::string word;  // "ok", "inaccurate", "flagged", "non-finite", "failed"
  std::string rule;  // one sentence
};
// The five status words with their rules, in the order a report lists them (ok first).
const std::vector<StatusWord>& StatusWords();
// The rule of one status word; ConfigError naming the word when it is not one of the five.
const std::string& StatusRule(const std::string& word);
// "too much work" and its rule (a reason a method breaks, not a status).
const StatusWord& TooMuchWorkReason();

// How a problem's gradients are judged: the arguments of WithinTolerance.
struct Judging {
  double ok_tol = 1e-3;
  double abs_tol = kGradientAbsTol;
  bool absolute_for_all = false;  // ProblemCapabilities::judge_absolute, StudyProblem::abs_for_all
};

// ---------------------------------------------------------------- the error cell

// A record's error split by how its components are judged:
//   relative components (τ_i = 0): rel = max |g_i − e_i| / |e_i|, ok when rel ≤ ok_tol;
//   absolute components (τ_i > 0): the one with the largest |g_i − e_i| / (ok_tol·|e_i| + τ_i),
//     its abs = |g_i − e_i| and its allowed = ok_tol·|e_i| + τ_i.
// So a record is within tolerance exactly when every part present is ok.
struct ErrorMeasure {
  bool measured = false;  // finite gradient of the exact's length
  bool has_rel = false;
  double rel = std::numeric_limits<double>::quiet_NaN();
  bool has_abs = false;
  double abs = std::numeric_limits<double>::quiet_NaN();
  double allowed = std::numeric_limits<double>::quiet_NaN();
  bool RelOk(const Judging& judging) const { return !has_rel || rel <= judging.ok_tol; }
  bool AbsOk() const { return !has_abs || abs <= allowed; }
};
ErrorMeasure MeasureError(const GradientRecord& record, const Judging& judging);

// The error as a table cell: "rel 2.1e-06", "rel 5.0e-02 > 1e-3", "abs 3.0e-14 ≤ 1e-12",
// "abs 2.0e-09 > 1e-12", both joined by "; " when a record has both kinds of components,
// "non-finite", or "-" (the method threw; no gradient). Never a relative error for a component
// judged absolutely, so "rel 1e+35" cannot sit next to "ok".
std::string ErrorCell(const GradientRecord& record, const Judging& judging);

// ---------------------------------------------------------------- verdicts

// True when the record failed on a step budget (see the file comment).
bool TooMuchWork(const GradientRecord& record);
// The record's status word, or "too much work" (see the file comment).
std::string BreakReason(const GradientRecord& record);

// One problem × method over the λ it was run at.
struct Verdict {
  std::string problem;
  std::string method;           // MethodSpec::Label()
  std::string parameter = "λ";  // GradientRecord::parameter
  std::vector<double> lambdas;  // tested, ascending
  bool all_ok = false;          // ok at every λ tested
  // The contiguous ok range from the smallest λ ends at works_up_to (NaN when the smallest λ is
  // not ok); the first λ that is not ok is breaks_at, for the reason why (BreakReason).
  double works_up_to = std::numeric_limits<double>::quiet_NaN();
  double breaks_at = std::numeric_limits<double>::quiet_NaN();
  std::string why;
  std::string detail;     // the breaking record's message (failed) or diagnosis (flagged), full
  bool recovers = false;  // ok again at some λ above breaks_at
};
// One verdict per (problem, method label), problems and methods in order of first appearance.
std::vector<Verdict> ComputeVerdicts(const std::vector<GradientRecord>& records);

// "works at every λ tested (1 … 1e5)", "works up to λ = 100; breaks at λ = 1e3: inaccurate
// (ok again at a larger λ)", "breaks at the smallest λ = 1: failed"; for a problem run at one
// value "works (λ = 5)" or "not ok at λ = 5: flagged".
std::string VerdictText(const Verdict& verdict);
// The compact form: "ok ≤1e5", "≤100 ✗1e3 inacc", "✗1 fail", "*" appended when it recovers.
std::string VerdictCell(const Verdict& verdict);

// The terminal verdict: at most kVerdictMaxLines lines of at most kVerdictMaxColumns display
// columns, whatever the number of problems and methods. Methods as rows and problems as
// columns (blocks of columns when they do not fit side by side); when that needs more lines,
// numbered methods and one wrapped line per problem grouping the methods by verdict; lines
// beyond the bound are replaced by one line pointing to the report. Ends with a legend.
inline constexpr std::size_t kVerdictMaxLines = 40;
inline constexpr std::size_t kVerdictMaxColumns = 120;
void PrintVerdictTable(const std::vector<GradientRecord>& records, std::ostream& out);
// The same from computed verdicts.
void PrintVerdictTable(const std::vector<Verdict>& verdicts, std::ostream& out);

// Display width of UTF-8 text in code points (λ, ≤, ✗ are one column each).
std::size_t TextColumns(const std::string& text);

}  // namespace snode
