#pragma once
// The figures of the study report (studies/study_report.hpp), rendered by gnuplot into
// <report dir>/figures (<name>.svg with its .gp script, .dat data and a .png):
//   <problem>_error   gradient error vs λ, the ok criterion drawn as a dashed line; relative
//                     error, or absolute error on problems judged absolutely (and where every
//                     exact component underflows); failed / non-finite runs at a ceiling
//   <problem>_cost    f + VJP + JVP evaluations vs λ and seconds vs λ, side by side
//   <problem>_pareto  error vs evaluations per method at the smallest and the largest λ, the
//                     accuracy–cost Pareto front (no other run both cheaper and more accurate)
//                     as a thick grey line
//   backsolve_reconstruction  the backsolve adjoint's backward reconstruction panels
// A method keeps its colour and marker in every figure (its index among all methods).

#include <string>
#include <vector>

#include "studies/study_report.hpp"

namespace snode {

struct ReportFigure {
  std::string title;    // plain text
  std::string caption;  // plain text: what is drawn and how to read it
  std::string svg;      // path relative to the report dir ("figures/w1b_error.svg"), "" if none
  std::string note;     // why it was not rendered
};

// A run as a point of the accuracy–cost plane.
struct CostPoint {
  double cost = 0.0;
  double error = 0.0;
};
// The indices of the Pareto-optimal points (finite cost and error; no other point has cost ≤
// and error ≤ with one of them <), sorted by cost ascending.
std::vector<std::size_t> ParetoFront(const std::vector<CostPoint>& points);

// f + VJP + JVP evaluations of a run (forward and backward f), NaN when it threw.
double EvaluationCost(const GradientRecord& record);

// The whole text of a file ("" when it cannot be read).
std::string ReadTextFile(const std::string& path);

// gnuplot's enhanced text {/Symbol l} becomes <tspan font-family="Symbol">l</tspan> in SVG, which
// a browser draws as a Latin l: the letters (and the Symbol font's dot, octal 327) of such spans
// replaced by their Unicode Greek letters (λ, μ, τ, ·), so that the figures read the same
// everywhere.
std::string SymbolFontToUnicode(const std::string& svg);

// The three figures of one problem (figures with no data are left out).
std::vector<ReportFigure> ProblemFigures(const std::string& report_dir,
                                         const StudyReportInput& input, const ProblemInfo& problem);
// The backsolve reconstruction figure (input.panels must not be empty).
ReportFigure ReconstructionFigure(const std::string& report_dir, const StudyReportInput& input);

}  // namespace snode
