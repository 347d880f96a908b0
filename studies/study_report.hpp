#pragma once
// The study report: one self-contained report.html (CSS inline, figures inline as SVG rendered
// by gnuplot's svg terminal, no network and no external files; a small inline script checks the
// page in a browser) and report.md with the same structure (figures as links to the SVG files
// in figures/ next to it). Sections, in order:
//   1. What was run: command, preset, snode / SUNDIALS / compiler versions, machine (CPU model,
//      cores), UTC start time, wall and CPU seconds, threads, the ok criterion.
//   2. The verdict: per problem × method where it works and where and why it breaks
//      (studies/verdict.hpp), with the problems' descriptions and references.
//   3. The figures, per problem: gradient error vs λ (with the ok criterion), cost vs λ (f + VJP
//      + JVP evaluations, and seconds), the accuracy–cost Pareto front at the smallest and the
//      largest λ; then the backsolve reconstruction panels when present.
//   4. The full table: every record, errors (ErrorCell), costs, status and messages in full;
//      the neural training runs when present.
//   5. Notes and the status words with their rules (StatusWords).
// Without gnuplot the report is still written, with a line saying the figures are missing and
// why.
//
// The page's self-check (for tests/studies/report_browser_test.sh): the first script records
// window errors, failed loads and console.error calls; on load it lists every src/href that
// does not point into the page itself as an error, measures every figure's SVG
// (getBoundingClientRect) and checks the verdict table, then writes a JSON verdict
// {"errors": [...], "figures": N, "empty_figures": [...], "verdict_table": true, "ok": true}
// into <pre id="self-check"> and logs "snode report self-check: <json>" to the console.

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "problems/problem_registry.hpp"
#include "studies/gradient_study.hpp"
#include "studies/stiffness_study.hpp"
#include "studies/verdict.hpp"

namespace snode {

// What the report says about a problem (from problems::ProblemCapabilities and the reference).
struct ProblemInfo {
  std::string name;                 // as in GradientRecord::problem
  std::string description;          // one line
  std::string parameter = "λ";      // "λ", "μ", "T"
  std::string parameter_meaning;    // "the decay rate"
  std::string reference = "exact";  // "exact" or how the reference gradient was computed
  bool judge_absolute = false;      // ProblemCapabilities::judge_absolute
};

// A registry problem as the report describes it: description, parameter, its meaning and
// judge_absolute from the capabilities; reference "exact" when capabilities.exact_gradient,
// otherwise reference_description (how the study computed its reference).
ProblemInfo MakeProblemInfo(const std::string& name,
                            const problems::ProblemCapabilities& capabilities,
                            const std::string& reference_description);

// What was run, where and how long it took.
struct RunInfo {
  std::string command_line;
  std::string preset;
  std::string snode_version;
  std::string sundials_version;
  std::string compiler;
  std::string cpu_model;  // /proc/cpuinfo "model name"
  int cores = 0;          // logical processors in /proc/cpuinfo
  int threads = 1;        // the study's worker threads
  std::string start_utc;  // ISO 8601
  double wall_seconds = std::numeric_limits<double>::quiet_NaN();
  double cpu_seconds = std::numeric_limits<double>::quiet_NaN();  // process CPU time
  double ok_tol = 1e-3;
  double abs_tol = kGradientAbsTol;
  // Set by StartRunInfo, read by FinishRunInfo.
  std::chrono::steady_clock::time_point started{};
  double cpu_at_start = 0.0;
};

// The versions, compiler, machine, the command line (argv joined, shell-quoted where needed)
// and the start time (now). The caller sets preset, threads and ok_tol.
RunInfo StartRunInfo(int argc, const char* const* argv);
// Sets wall_seconds and cpu_seconds since StartRunInfo.
void FinishRunInfo(RunInfo& info);
// The process's CPU seconds so far (user + system, every thread); bench::ProcessCpuSeconds.
double ProcessCpuSeconds();
// CPU model and logical processor count from a /proc/cpuinfo text ("unknown", 0 when absent).
void ParseCpuInfo(const std::string& cpuinfo, std::string* model, int* cores);

struct StudyReportInput {
  RunInfo run;
  std::vector<ProblemInfo> problems;  // one per problem in records (missing ones are described
                                      // by name only)
  std::vector<GradientRecord> records;
  std::vector<BacksolvePanel> panels;  // backsolve reconstructions of the decay (optional)
  std::string panels_problem = "w1";   // the problem the panels reconstruct
  std::vector<NeuralRecord> neural;    // optional
  std::vector<std::string> findings;   // summary lines in words (optional)
  std::vector<std::string> notes;      // skipped pairs, missing plots, ...
  bool figures = true;                 // false: no figures (stiffness_study --no-plots)
};

// The backsolve adjoint's backward reconstruction of the decay (DecayStudyProblem(lambda)) by
// spec on 101 output times after a forward solve by spec's integrator; a failure of the forward
// solve is kept in the reconstruction's message. Never throws.
BacksolvePanel DecayBacksolvePanel(const MethodSpec& spec, double lambda);

// How the records of `problem` are judged: run.ok_tol, run.abs_tol and the problem's
// judge_absolute.
Judging JudgingOf(const StudyReportInput& input, const std::string& problem);

struct StudyReportFiles {
  std::string html;                  // <dir>/report.html
  std::string markdown;              // <dir>/report.md
  std::vector<std::string> figures;  // the SVG files written (in <dir>/figures)
  std::string figures_note;          // why figures are missing ("" when all rendered)
};

// Writes report.html, report.md and figures/ into dir (created if missing). Throws only for an
// unwritable dir (the io error names the path).
StudyReportFiles WriteStudyReport(const std::string& dir, const StudyReportInput& input);

// Text escaped for HTML element content and attribute values (& < > " ').
std::string HtmlEscape(const std::string& text);
// Text escaped for a Markdown table cell (| and newlines) .
std::string MarkdownCell(const std::string& text);
// An SVG document as inline HTML: the XML prolog, DOCTYPE and comments before <svg> dropped,
// every id (and every reference to it: href="#…", url(#…)) prefixed with id_prefix so that
// several figures can share one page, and the fixed width/height replaced by CSS sizing (the
// viewBox keeps the aspect ratio). Empty when the text holds no <svg element.
std::string InlineSvg(const std::string& svg, const std::string& id_prefix);

}  // namespace snode
