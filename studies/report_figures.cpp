#include "studies/report_figures.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/files.hpp"
#include "studies/report.hpp"

namespace snode {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One method's points of one figure, with its style index among all methods.
struct FigureSeries {
  std::string label;
  std::size_t style = 0;
  std::vector<std::pair<double, double>> points;
};

std::vector<std::string> AllMethods(const std::vector<GradientRecord>& records) {
  std::vector<std::string> labels;
  for (const GradientRecord& r : records) {
    const std::string label = r.run.spec.Label();
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
  }
  return labels;
}

// (λ, value(record)) per method of one problem, sorted by λ.
template <class Value>
std::vector<FigureSeries> SeriesOf(const StudyReportInput& input, const std::string& problem,
                                   Value value) {
  const std::vector<std::string> methods = AllMethods(input.records);
  std::vector<FigureSeries> series;
  for (const GradientRecord& r : input.records) {
    if (r.problem != problem) continue;
    const std::string label = r.run.spec.Label();
    auto it = std::find_if(series.begin(), series.end(),
                           [&](const FigureSeries& s) { return s.label == label; });
    if (it == series.end()) {
      const auto style = std::find(methods.begin(), methods.end(), label) - methods.begin();
      it = series.insert(series.end(), FigureSeries{label, static_cast<std::size_t>(style), {}});
    }
    it->points.emplace_back(r.lambda, value(r));
  }
  for (FigureSeries& s : series) std::sort(s.points.begin(), s.points.end());
  return series;
}

// The range of the finite positive values: [floor, ceiling] one decade beyond each end.
struct LogRange {
  double floor = 0.1;
  double ceiling = 10.0;
};
LogRange RangeOf(const std::vector<FigureSeries>& series, double extra = kNaN) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  auto take = [&](double y) {
    if (std::isfinite(y) && y > 0) lo = std::min(lo, y), hi = std::max(hi, y);
  };
  for (const FigureSeries& s : series) {
    for (const auto& point : s.points) take(point.second);
  }
  take(extra);
  if (hi == 0.0) return {};
  return {std::pow(10.0, std::floor(std::log10(lo)) - 1.0),
          std::pow(10.0, std::ceil(std::log10(hi)) + 1.0)};
}

// Data blocks, one per series; non-finite values at the range's ceiling, zeros at its floor
// (when clamp), otherwise NaN (a gap).
std::string DataBlocks(const std::vector<FigureSeries>& series, const LogRange& range, bool clamp,
                       bool* clamped) {
  std::ostringstream data;
  for (const FigureSeries& s : series) {
    data << "# " << s.label << "\n";
    for (const auto& [x, y] : s.points) {
      double v = y;
      if (!std::isfinite(v) || v <= 0.0) {
        v = !clamp ? kNaN : (std::isfinite(v) ? range.floor : range.ceiling);
        *clamped = *clamped || clamp;
      }
      data << FormatNumber(x, 10) << " " << FormatNumber(v, 10) << "\n";
    }
    data << "\n\n";
  }
  return data.str();
}

// Whether some value is finite and positive (gnuplot cannot draw a log axis otherwise).
bool AnyPositive(const std::vector<FigureSeries>& series) {
  for (const FigureSeries& s : series) {
    for (const auto& point : s.points) {
      if (std::isfinite(point.second) && point.second > 0.0) return true;
    }
  }
  return false;
}

std::string Title(const std::string& text) { return GnuplotQuote(GnuplotEscape(text)); }

// "plot" clauses of the series (data file blocks 0..n-1).
std::string SeriesClauses(const std::string& file, const std::vector<FigureSeries>& series,
                          const std::string& with, bool titled) {
  std::ostringstream clauses;
  for (std::size_t i = 0; i < series.size(); ++i) {
    clauses << (i ? ", \\\n     " : "") << "'" << file << "' index " << i << " using 1:2 with "
            << with << " " << GnuplotSeriesStyle(series[i].style) << " "
            << (titled ? "title " + Title(series[i].label) : std::string("notitle"));
  }
  return clauses.str();
}

std::string LogAxes(const std::string& xlabel, const std::string& ylabel) {
  return "set logscale xy\nset grid\nset format x '10^{%L}'\nset format y '10^{%L}'\n"
         "set xlabel " +
         GnuplotQuote(xlabel) + "\nset ylabel " + GnuplotQuote(ylabel) + "\n";
}

std::string ParameterSymbol(const std::string& parameter) { return GnuplotEscape(parameter); }

// Rewrites the SVG files of a plot with SymbolFontToUnicode.
void FixSvgFiles(const PlotResult& plot) {
  for (const std::string& file : plot.files) {
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".svg") == 0) {
      AtomicWriteFile(file, SymbolFontToUnicode(ReadTextFile(file)));
    }
  }
}

ReportFigure Render(const std::string& report_dir, const std::string& name, const std::string& body,
                    int width, int height, ReportFigure figure) {
  const PlotResult plot =
      RenderGnuplot(report_dir + "/figures", name, "set encoding utf8\n" + body, width, height);
  FixSvgFiles(plot);
  const bool has_svg =
      std::any_of(plot.files.begin(), plot.files.end(), [](const std::string& file) {
        return file.size() > 4 && file.compare(file.size() - 4, 4, ".svg") == 0;
      });
  if (has_svg) figure.svg = "figures/" + name + ".svg";
  figure.note = plot.note;
  return figure;
}

// A file-name-safe form of a problem name.
std::string FileStem(const std::string& name) {
  std::string stem;
  for (const char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    stem += safe ? c : '_';
  }
  return stem;
}

// Whether the problem's error is shown as an absolute error (see the file comment).
bool AbsoluteErrorPlot(const StudyReportInput& input, const ProblemInfo& problem) {
  if (problem.judge_absolute) return true;
  const Judging judging = JudgingOf(input, problem.name);
  for (const GradientRecord& r : input.records) {
    if (r.problem == problem.name && MeasureError(r, judging).has_rel) return false;
  }
  return true;
}

ReportFigure ErrorFigure(const std::string& report_dir, const StudyReportInput& input,
                         const ProblemInfo& problem) {
  const Judging judging = JudgingOf(input, problem.name);
  const bool absolute = AbsoluteErrorPlot(input, problem);
  const auto series = SeriesOf(input, problem.name, [&](const GradientRecord& r) {
    if (!r.run.Finite()) return kNaN;
    return absolute ? r.error.abs : r.error.rel;
  });
  // The criterion: ok_tol, or per λ the smallest allowance ok_tol·|e_i| + τ over components.
  std::vector<std::pair<double, double>> criterion;
  for (const GradientRecord& r : input.records) {
    if (r.problem != problem.name || r.exact.size() == 0) continue;
    const double allowed = absolute
                               ? judging.ok_tol * r.exact.cwiseAbs().minCoeff() + judging.abs_tol
                               : judging.ok_tol;
    criterion.emplace_back(r.lambda, allowed);
  }
  std::sort(criterion.begin(), criterion.end());
  criterion.erase(std::unique(criterion.begin(), criterion.end()), criterion.end());
  const LogRange range = RangeOf(series, judging.ok_tol);
  const std::string name = FileStem(problem.name) + "_error";
  bool clamped = false;
  std::string data = DataBlocks(series, range, true, &clamped);
  data += "# criterion\n";
  for (const auto& [x, y] : criterion)
    data += FormatNumber(x, 10) + " " + FormatNumber(y, 10) + "\n";
  AtomicWriteFile(report_dir + "/figures/" + name + ".dat", data);
  const std::string p = ParameterSymbol(problem.parameter);
  std::ostringstream body;
  body << LogAxes("stiffness " + p, absolute ? "absolute gradient error (max over components)"
                                             : "relative gradient error (max over components)")
       << "set key outside right top reverse Left spacing 1.1 font ',9'\n"
       << "set yrange [" << range.floor / 3.0 << ":" << range.ceiling * 3.0 << "]\n"
       << "set offsets graph 0.03, graph 0.03, 0, 0\n"
       << "plot " << SeriesClauses(name + ".dat", series, "linespoints", true) << ", \\\n     '"
       << name << ".dat' index " << series.size()
       << " using 1:2 with lines lw 2 dt 2 lc rgb '#000000' title "
       << GnuplotQuote(absolute ? "ok below: ok\\_tol·|e| + τ"
                                : "ok below: ok\\_tol = " + FormatCompact(judging.ok_tol));
  if (clamped) {
    body << ", \\\n     " << range.ceiling << " with lines lc rgb '#bbbbbb' dt 3 title "
         << GnuplotQuote("failed / non-finite: drawn at " + FormatNumber(range.ceiling, 2));
  }
  body << "\n";
  ReportFigure figure;
  figure.title = problem.name + ": gradient error vs " + problem.parameter;
  figure.caption =
      std::string(absolute ? "Absolute error max_i |g_i − e_i|; the dashed line is the "
                             "criterion ok_tol·|e_i| + τ (smallest over the components). "
                           : "Relative error max_i |g_i − e_i| / |e_i| over the components "
                             "whose exact value is representable; the dashed line is ok_tol. ") +
      "Runs that failed or went non-finite are drawn at the top; a point below the line can "
      "still be 'flagged' by its method (see the table).";
  return Render(report_dir, name, body.str(), 1100, 560, figure);
}

// Two side-by-side log–log panels sharing one key at the right: only one of them titles its
// curves, and that one draws the key.
std::string TwoPanels(const std::string& left, const std::string& right) {
  return "set multiplot\nset key at screen 0.72, screen 0.93 left top reverse Left spacing 1.1 "
         "font ',9'\n"
         "set lmargin at screen 0.07\nset rmargin at screen 0.34\n" +
         left + "set lmargin at screen 0.43\nset rmargin at screen 0.70\n" + right +
         "unset multiplot\n";
}

ReportFigure CostFigure(const std::string& report_dir, const StudyReportInput& input,
                        const ProblemInfo& problem) {
  const auto evaluations = SeriesOf(input, problem.name, EvaluationCost);
  const auto seconds = SeriesOf(input, problem.name, [](const GradientRecord& r) {
    return r.run.threw ? kNaN : r.run.seconds;
  });
  if (!AnyPositive(evaluations) || !AnyPositive(seconds)) return {};  // every run failed
  const std::string name = FileStem(problem.name) + "_cost";
  bool ignored = false;
  AtomicWriteFile(report_dir + "/figures/" + name + ".dat",
                  DataBlocks(evaluations, RangeOf(evaluations), false, &ignored) +
                      DataBlocks(seconds, RangeOf(seconds), false, &ignored));
  const std::string p = ParameterSymbol(problem.parameter);
  std::ostringstream left, right;
  left << LogAxes("stiffness " + p, "f + VJP + JVP evaluations") << "plot "
       << SeriesClauses(name + ".dat", evaluations, "linespoints", true) << "\n";
  right << LogAxes("stiffness " + p, "seconds per gradient") << "plot ";
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    right << (i ? ", \\\n     " : "") << "'" << name << ".dat' index " << evaluations.size() + i
          << " using 1:2 with linespoints " << GnuplotSeriesStyle(seconds[i].style) << " notitle";
  }
  right << "\n";
  ReportFigure figure;
  figure.title = problem.name + ": cost vs " + problem.parameter;
  figure.caption =
      "Left: evaluations of f in the forward and backward passes plus VJPs and "
      "JVPs; right: wall seconds per gradient. Failed runs are left out.";
  return Render(report_dir, name, TwoPanels(left.str(), right.str()), 1100, 520, figure);
}

// The methods run on a problem, in order of first appearance.
std::vector<std::string> MethodsOf(const StudyReportInput& input, const std::string& problem) {
  std::vector<GradientRecord> mine;
  for (const GradientRecord& r : input.records) {
    if (r.problem == problem) mine.push_back(r);
  }
  return AllMethods(mine);
}

// The cost point of `method` on the problem at λ; false when it has none (no finite run).
// (errors exactly 0 at zero_at, so that they stay on the log axis).
bool PointOf(const StudyReportInput& input, const ProblemInfo& problem, double lambda,
             const std::string& method, bool absolute, double zero_at, CostPoint* point) {
  for (const GradientRecord& r : input.records) {
    if (r.problem != problem.name || r.lambda != lambda || !r.run.Finite() ||
        r.run.spec.Label() != method) {
      continue;
    }
    const double error = absolute ? r.error.abs : r.error.rel;
    *point = {EvaluationCost(r), error > 0.0 ? error : zero_at};
    return std::isfinite(point->cost) && point->cost > 0.0 && std::isfinite(point->error);
  }
  return false;
}

// One panel of the Pareto figure: the front (a data block) and one block per method with a
// point; with `key`, every method of the problem gets a key entry (NaN when it has no point).
// Empty when no method has a point at λ.
std::string ParetoPanel(const StudyReportInput& input, const ProblemInfo& problem, double lambda,
                        bool key, double zero_at, const std::string& file, std::ostream& data,
                        std::size_t* block) {
  const bool absolute = AbsoluteErrorPlot(input, problem);
  const std::vector<std::string> all = AllMethods(input.records);
  const std::vector<std::string> methods = MethodsOf(input, problem.name);
  std::vector<CostPoint> points(methods.size());
  std::vector<bool> has(methods.size());
  for (std::size_t m = 0; m < methods.size(); ++m) {
    has[m] = PointOf(input, problem, lambda, methods[m], absolute, zero_at, &points[m]);
    if (!has[m]) points[m] = {kNaN, kNaN};
  }
  if (std::none_of(has.begin(), has.end(), [](bool b) { return b; })) return "";
  std::ostringstream panel;
  panel << LogAxes("f + VJP + JVP evaluations",
                   absolute ? "absolute gradient error" : "relative gradient error")
        << "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n"
        << "set title "
        << GnuplotQuote(ParameterSymbol(problem.parameter) + " = " + FormatCompact(lambda)) << "\n";
  data << "# Pareto front at " << FormatNumber(lambda, 10) << "\n";
  for (const std::size_t i : ParetoFront(points)) {
    data << FormatNumber(points[i].cost, 10) << " " << FormatNumber(points[i].error, 10) << "\n";
  }
  data << "\n\n";
  panel << "plot '" << file << "' index " << (*block)++
        << " using 1:2 with linespoints lw 7 pt 7 ps 2.4 lc rgb '#cccccc' "
        << (key ? "title 'Pareto front'" : "notitle");
  for (std::size_t m = 0; m < methods.size(); ++m) {
    const auto style =
        static_cast<std::size_t>(std::find(all.begin(), all.end(), methods[m]) - all.begin());
    const std::string title = key ? "title " + Title(methods[m]) : std::string("notitle");
    if (!has[m]) {
      if (key) panel << ", \\\n     NaN with points " << GnuplotSeriesStyle(style) << " " << title;
      continue;
    }
    data << "# " << methods[m] << "\n"
         << FormatNumber(points[m].cost, 10) << " " << FormatNumber(points[m].error, 10)
         << "\n\n\n";
    panel << ", \\\n     '" << file << "' index " << (*block)++ << " using 1:2 with points "
          << GnuplotSeriesStyle(style) << " " << title;
  }
  return panel.str() + "\n";
}

// Where errors exactly 0 are drawn: a decade below the smallest positive error of the problem.
double ZeroAt(const StudyReportInput& input, const ProblemInfo& problem, bool absolute) {
  double smallest = std::numeric_limits<double>::infinity();
  for (const GradientRecord& r : input.records) {
    const double error = absolute ? r.error.abs : r.error.rel;
    if (r.problem == problem.name && std::isfinite(error) && error > 0.0) {
      smallest = std::min(smallest, error);
    }
  }
  return std::isfinite(smallest) ? std::pow(10.0, std::floor(std::log10(smallest)) - 1.0) : 1e-16;
}

ReportFigure ParetoFigure(const std::string& report_dir, const StudyReportInput& input,
                          const ProblemInfo& problem, const std::vector<double>& lambdas) {
  const std::string name = FileStem(problem.name) + "_pareto";
  const double zero_at = ZeroAt(input, problem, AbsoluteErrorPlot(input, problem));
  std::ostringstream data;
  std::vector<std::string> panels;
  std::size_t block = 0;
  for (std::size_t k = lambdas.size(); k-- > 0;) {  // the last panel (drawn first) has the key
    const std::string panel = ParetoPanel(input, problem, lambdas[k], panels.empty(), zero_at,
                                          name + ".dat", data, &block);
    if (!panel.empty()) panels.insert(panels.begin(), panel);
  }
  if (panels.empty()) return {};  // no run with a finite gradient
  AtomicWriteFile(report_dir + "/figures/" + name + ".dat", data.str());
  ReportFigure figure;
  figure.title = problem.name + ": accuracy vs cost";
  figure.caption =
      "Each point is one method's run (error against evaluations); the grey line "
      "joins the Pareto front: the runs no other run beats in both cost and "
      "accuracy. Failed and non-finite runs are left out; errors exactly 0 are "
      "drawn at " +
      FormatCompact(zero_at) + ".";
  const std::string body =
      panels.size() == 1
          ? "set key outside right top reverse Left spacing 1.1 font ',9'\n" + panels[0]
          : TwoPanels(panels[0], panels[1]);
  return Render(report_dir, name, body, 1100, 520, figure);
}

}  // namespace

std::string ReadTextFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string SymbolFontToUnicode(const std::string& svg) {
  static const char* const kLower[26] = {"α", "β", "χ", "δ", "ε", "φ", "γ", "η", "ι",
                                         "ϕ", "κ", "λ", "μ", "ν", "ο", "π", "θ", "ρ",
                                         "σ", "τ", "υ", "ϖ", "ω", "ξ", "ψ", "ζ"};
  static const char* const kUpper[26] = {"Α", "Β", "Χ", "Δ", "Ε", "Φ", "Γ", "Η", "Ι",
                                         "ϑ", "Κ", "Λ", "Μ", "Ν", "Ο", "Π", "Θ", "Ρ",
                                         "Σ", "Τ", "Υ", "ς", "Ω", "Ξ", "Ψ", "Ζ"};
  const std::string marker = "font-family=\"Symbol\"";
  std::string out;
  std::size_t done = 0;
  for (std::size_t pos = svg.find(marker); pos != std::string::npos; pos = svg.find(marker, done)) {
    const std::size_t open = svg.find('>', pos);
    const std::size_t close = open == std::string::npos ? open : svg.find('<', open);
    if (close == std::string::npos) break;
    out += svg.substr(done, open + 1 - done);
    for (std::size_t i = open + 1; i < close; ++i) {
      const unsigned char c = static_cast<unsigned char>(svg[i]);
      if (c >= 'a' && c <= 'z') {
        out += kLower[c - 'a'];
      } else if (c >= 'A' && c <= 'Z') {
        out += kUpper[c - 'A'];
      } else if (c == 0327) {
        out += "·";
      } else {
        out += static_cast<char>(c);
      }
    }
    done = close;
  }
  return out + svg.substr(done);
}

std::vector<std::size_t> ParetoFront(const std::vector<CostPoint>& points) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (std::isfinite(points[i].cost) && std::isfinite(points[i].error)) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (points[a].cost != points[b].cost) return points[a].cost < points[b].cost;
    return points[a].error < points[b].error;
  });
  std::vector<std::size_t> front;
  double best = std::numeric_limits<double>::infinity();
  for (const std::size_t i : order) {
    if (points[i].error < best) {  // cheaper ones all had a larger error
      front.push_back(i);
      best = points[i].error;
    }
  }
  return front;
}

double EvaluationCost(const GradientRecord& record) {
  if (record.run.threw) return kNaN;
  const GradientStats& s = record.run.stats;
  return static_cast<double>(s.forward_rhs_evals + s.backward_rhs_evals + s.vjp_evals +
                             s.jvp_evals);
}

std::vector<ReportFigure> ProblemFigures(const std::string& report_dir,
                                         const StudyReportInput& input,
                                         const ProblemInfo& problem) {
  std::vector<double> lambdas;
  for (const GradientRecord& r : input.records) {
    if (r.problem == problem.name) lambdas.push_back(r.lambda);
  }
  if (lambdas.empty()) return {};
  lambdas = SortedUnique(lambdas);
  std::vector<double> ends = {lambdas.front()};
  if (lambdas.size() > 1) ends.push_back(lambdas.back());
  std::vector<ReportFigure> figures;
  for (ReportFigure figure :
       {ErrorFigure(report_dir, input, problem), CostFigure(report_dir, input, problem),
        ParetoFigure(report_dir, input, problem, ends)}) {
    if (!figure.title.empty()) figures.push_back(std::move(figure));
  }
  return figures;
}

ReportFigure ReconstructionFigure(const std::string& report_dir, const StudyReportInput& input) {
  std::vector<ReconstructionPanel> panels;
  for (const BacksolvePanel& p : input.panels) {
    ReconstructionPanel panel = PanelOf(p.lambda, p.reconstruction);
    panel.exact_comment = "lambda = " + FormatNumber(p.lambda, 10) + ": exact e^{-lambda t}";
    panel.reconstructed_comment = "reconstructed by " + p.method;
    panel.label = "backsolve z_{rec}(t), " + GnuplotEscape(p.method);
    panels.push_back(std::move(panel));
  }
  const int width = std::max(700, std::min(1400, 360 * static_cast<int>(panels.size())));
  const PlotResult plot = PlotReconstructionPanels(
      report_dir + "/figures", "backsolve_reconstruction", "", "|z(t)|", panels, width, 460);
  FixSvgFiles(plot);
  ReportFigure figure;
  figure.title = input.panels_problem + ": the backsolve adjoint's reconstruction of z(t)";
  figure.caption =
      "The backward pass integrates the state backward from the forward z(T) "
      "together with the adjoint; for a stiff decay that reverse solve is "
      "unstable. Green: exact e^{−λt}; orange: the reconstructed |z(t)| (points "
      "where it is finite and positive).";
  for (const std::string& file : plot.files) {
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".svg") == 0) {
      figure.svg = "figures/backsolve_reconstruction.svg";
    }
  }
  figure.note = plot.note;
  return figure;
}

}  // namespace snode
