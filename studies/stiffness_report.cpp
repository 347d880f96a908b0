#include "studies/stiffness_report.hpp"

#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>

#include "io/files.hpp"

namespace snode {

void PrintStudyHeader(const StiffnessOptions& options, const StiffnessResults& results,
                      std::size_t runs, std::ostream& out) {
  std::size_t methods = 0;
  for (const StudiedProblem& p : results.problems) methods = std::max(methods, p.methods.size());
  out << "snode stiffness study, preset " << results.preset << ": " << results.problems.size()
      << " problem" << (results.problems.size() == 1 ? "" : "s") << ", up to " << methods
      << " methods each, " << runs << " gradient runs on " << results.threads << " thread"
      << (results.threads == 1 ? "" : "s") << "\n"
      << "a run is ok when every gradient component is within " << FormatCompact(options.ok_tol)
      << " relative of the exact or reference value (see the report for the full rule)\n"
      << std::flush;
}

namespace {
// text on one line (table cells): line breaks become spaces; nothing is cut.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Whether the method measured a reconstruction of z(t0) (the backsolve adjoint does).
bool HasReconstruction(const GradientStats& s) {
  return s.reconstruction_error != 0.0 || s.reconstruction_failed;
}
}  // namespace

std::string StatusCell(const GradientRecord& r) {
  std::string cell = r.status;
  if (r.run.threw) return cell + ": " + OneLine(r.run.message);
  const GradientStats& s = r.run.stats;
  if (s.flagged) {
    cell += " (" + OneLine(s.diagnosis.empty() ? "flagged by the method" : s.diagnosis) + ")";
  } else if (s.reconstruction_failed) {
    cell += " (reconstruction flagged)";
  }
  return cell;
}

std::string ReconCell(const GradientRecord& r) {
  if (r.run.threw || !HasReconstruction(r.run.stats)) return "-";
  return FormatScientific(r.run.stats.reconstruction_error, 1);
}

std::string EstimateCell(const GradientRecord& r) {
  const double estimate = r.run.stats.error_estimate;
  if (r.run.threw || std::isnan(estimate)) return "-";
  return FormatScientific(estimate, 1);
}

std::string RelCell(const GradientRecord& r) {
  if (r.run.threw || !r.run.Finite()) return "-";
  if (r.error.underflow && r.error.rel == 0.0 && r.exact.size() > 0 &&
      (r.exact.array().abs() < kUnderflow).all()) {
    return "underflow";
  }
  return FormatScientific(r.error.rel, 1) + (r.error.underflow ? "*" : "");
}

void PrintProblemTable(const std::string& title, const std::vector<GradientRecord>& records,
                       std::ostream& out) {
  if (records.empty()) return;
  out << "\n== " << title << " ==\n";
  Table table({"λ", "gradient", "integrator", "settings", "rel err", "abs err", "recon err",
               "est err", "NFE fwd", "NFE bwd", "VJP", "JVP", "time", "stored", "status"});
  double last_lambda = records.front().lambda;
  for (const GradientRecord& r : records) {
    if (r.lambda != last_lambda) table.AddSeparator();
    last_lambda = r.lambda;
    const GradientStats& s = r.run.stats;
    const bool has_stats = !r.run.threw;
    table.AddRow({FormatCompact(r.lambda), r.run.spec.gradient, r.run.spec.integrator,
                  r.run.spec.settings, RelCell(r),
                  r.run.Finite() ? FormatScientific(r.error.abs, 1) : "-", ReconCell(r),
                  EstimateCell(r), has_stats ? std::to_string(s.forward_rhs_evals) : "-",
                  has_stats ? std::to_string(s.backward_rhs_evals) : "-",
                  has_stats ? std::to_string(s.vjp_evals) : "-",
                  has_stats ? std::to_string(s.jvp_evals) : "-", FormatSeconds(r.run.seconds),
                  has_stats ? FormatBytes(s.stored_bytes) : "-", StatusCell(r)});
  }
  table.Print(out);
}

void PrintNeuralTable(const StiffnessOptions& options, const std::vector<NeuralRecord>& neural,
                      std::ostream& out) {
  out << "\n== Training on the trainable problems: " << options.neural_iterations
      << " Adam steps (lr " << FormatNumber(options.neural_lr) << ") ==\n";
  Table table({"gradient", "integrator", "settings", "loss start", "loss end", "end, tight solve",
               "NFE fwd", "NFE bwd", "VJP", "time", "status"});
  for (const NeuralRecord& n : neural) {
    const bool any = !n.losses.empty();
    table.AddRow({n.spec.gradient, n.spec.integrator, n.spec.settings,
                  any ? FormatScientific(n.losses.front(), 3) : "-",
                  any ? FormatScientific(n.losses.back(), 3) : "-", FormatScientific(n.rescored, 3),
                  std::to_string(n.forward_nfe), std::to_string(n.backward_nfe),
                  std::to_string(n.vjp), FormatSeconds(n.seconds),
                  n.status + (n.message.empty() ? "" : ": " + n.message)});
  }
  table.Print(out);
}

void PrintSummary(const StiffnessResults& results, std::ostream& out) {
  out << "\n== Summary ==\n";
  for (const std::string& line : results.summary) out << "- " << line << "\n";
  for (const BacksolvePanel& panel : results.panels) out << PanelSummary(panel) << "\n";
  for (const std::string& note : results.notes) out << "  note: " << note << "\n";
}

// ---------------------------------------------------------------- files

const std::vector<std::string>& StiffnessCsvHeader() {
  static const std::vector<std::string> header = {
      "schema_version", "problem",          "parameter",     "lambda",
      "gradient",       "integrator",       "settings",      "loss",
      "gradient_value", "reference_value",  "reference",     "rel_err",
      "abs_err",        "exact_underflows", "recon_err",     "recon_flagged",
      "nfe_forward",    "nfe_backward",     "vjp",           "jvp",
      "steps_forward",  "steps_backward",   "checkpoints",   "stored_bytes",
      "wall_seconds",   "status",           "message",       "flagged",
      "diagnosis",      "amplification",    "error_estimate"};
  return header;
}

std::vector<std::string> StiffnessCsvRow(const GradientRecord& r) {
  const GradientStats& s = r.run.stats;
  auto num = [](double x) { return FormatNumber(x, 10); };
  return {std::to_string(kStiffnessSchemaVersion),
          r.problem,
          r.parameter,
          num(r.lambda),
          r.run.spec.gradient,
          r.run.spec.integrator,
          r.run.spec.settings,
          num(r.run.loss),
          JoinNumbers(r.run.gradient),
          JoinNumbers(r.exact),
          r.reference,
          num(r.error.rel),
          num(r.error.abs),
          r.error.underflow ? "1" : "0",
          HasReconstruction(s) ? num(s.reconstruction_error) : "",
          s.reconstruction_failed ? "1" : "0",
          std::to_string(s.forward_rhs_evals),
          std::to_string(s.backward_rhs_evals),
          std::to_string(s.vjp_evals),
          std::to_string(s.jvp_evals),
          std::to_string(s.forward_steps),
          std::to_string(s.backward_steps),
          std::to_string(s.checkpoints),
          num(s.stored_bytes),
          num(r.run.seconds),
          r.status,
          r.run.message,
          s.flagged ? "1" : "0",
          s.diagnosis,
          num(s.amplification),
          std::isnan(s.error_estimate) ? "" : num(s.error_estimate)};
}

namespace {

nlohmann::json VectorJson(const Vector& v) {
  nlohmann::json array = nlohmann::json::array();
  for (Index i = 0; i < v.size(); ++i) array.push_back(JsonNumber(v(i)));
  return array;
}

}  // namespace

nlohmann::json RecordJson(const GradientRecord& r) {
  const GradientStats& s = r.run.stats;
  const IntegratorOptions& io = r.run.spec.options.integrator_options;
  return {{"problem", r.problem},
          {"parameter", r.parameter},
          {"lambda", r.lambda},
          {"gradient_method", r.run.spec.gradient},
          {"integrator", r.run.spec.integrator},
          {"settings", r.run.spec.settings},
          {"rtol", io.rtol},
          {"atol", io.atol},
          {"fixed_step", io.fixed_step},
          {"backward_integrator", r.run.spec.options.EffectiveBackwardIntegrator()},
          {"loss", JsonNumber(r.run.loss)},
          {"gradient", VectorJson(r.run.gradient)},
          {"reference_gradient", VectorJson(r.exact)},
          {"reference", r.reference},
          {"rel_err", JsonNumber(r.error.rel)},
          {"abs_err", JsonNumber(r.error.abs)},
          {"exact_underflows", r.error.underflow},
          {"reconstruction_error",
           HasReconstruction(s) ? JsonNumber(s.reconstruction_error) : nlohmann::json()},
          {"reconstruction_flagged", s.reconstruction_failed},
          {"nfe_forward", s.forward_rhs_evals},
          {"nfe_backward", s.backward_rhs_evals},
          {"vjp", s.vjp_evals},
          {"jvp", s.jvp_evals},
          {"steps_forward", s.forward_steps},
          {"steps_backward", s.backward_steps},
          {"checkpoints", s.checkpoints},
          {"stored_bytes", s.stored_bytes},
          {"wall_seconds", r.run.seconds},
          {"status", r.status},
          {"message", r.run.message},
          {"flagged", s.flagged},
          {"diagnosis", s.diagnosis},
          {"amplification", JsonNumber(s.amplification)},
          {"error_estimate", JsonNumber(s.error_estimate)}};
}

nlohmann::json NeuralJson(const NeuralRecord& n) {
  nlohmann::json losses = nlohmann::json::array();
  for (const double loss : n.losses) losses.push_back(JsonNumber(loss));
  return {{"gradient_method", n.spec.gradient},
          {"integrator", n.spec.integrator},
          {"settings", n.spec.settings},
          {"losses", losses},
          {"rescored_loss", JsonNumber(n.rescored)},
          {"nfe_forward", n.forward_nfe},
          {"nfe_backward", n.backward_nfe},
          {"vjp", n.vjp},
          {"wall_seconds", n.seconds},
          {"status", n.status},
          {"message", n.message}};
}

// ---------------------------------------------------------------- plots

PlotResult PlotSeries(const std::string& dir, const std::string& name, const std::string& title,
                      const std::string& ylabel, const std::vector<Series>& series,
                      bool clamp_note) {
  double max_finite = 0.0, min_positive = std::numeric_limits<double>::infinity();
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(y) && y > 0) {
        max_finite = std::max(max_finite, y);
        min_positive = std::min(min_positive, y);
      }
    }
  }
  if (max_finite == 0.0) max_finite = 1.0;
  if (!std::isfinite(min_positive)) min_positive = 1.0;
  const double ceiling = std::pow(10.0, std::ceil(std::log10(max_finite)) + 1.0);
  const double floor = std::pow(10.0, std::floor(std::log10(min_positive)) - 1.0);
  bool any_ceiling = false, any_floor = false;
  std::ostringstream data;
  data << "# lambda value (non-finite -> " << ceiling << ", zero -> " << floor << ")\n";
  for (const Series& s : series) {
    data << "# " << s.label << "\n";
    for (const auto& [x, y] : s.points) {
      double v = y;
      if (!std::isfinite(v))
        v = ceiling, any_ceiling = true;
      else if (v <= 0.0)
        v = floor, any_floor = true;
      data << FormatNumber(x, 10) << " " << FormatNumber(v, 10) << "\n";
    }
    data << "\n\n";
  }
  AtomicWriteFile(dir + "/" + name + ".dat", data.str());
  std::ostringstream body;
  body << "set title " << GnuplotQuote(title) << "\n"
       << "set logscale xy\nset grid\nset format x '10^{%L}'\nset format y '10^{%L}'\n"
       << "set xlabel 'stiffness {/Symbol l}'\nset ylabel " << GnuplotQuote(ylabel) << "\n"
       << "set key outside right top spacing 1.1 font ',9'\n"
       << "set yrange [" << floor / 3.0 << ":" << ceiling * 3.0 << "]\n"
       << "set offsets graph 0.03, graph 0.03, 0, 0\n";
  body << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    body << (i ? ", \\\n     " : "") << "'" << name << ".dat' index " << i
         << " using 1:2 with linespoints " << GnuplotSeriesStyle(i) << " title "
         << GnuplotQuote(GnuplotEscape(series[i].label));
  }
  if (clamp_note && any_ceiling) {
    body << ", \\\n     " << ceiling << " with lines lc rgb '#bbbbbb' dt 2 title "
         << GnuplotQuote("non-finite / failed: drawn at " + FormatNumber(ceiling, 2));
  }
  if (clamp_note && any_floor) {
    body << ", \\\n     " << floor << " with lines lc rgb '#dddddd' dt 3 title "
         << GnuplotQuote("error exactly 0: drawn at " + FormatNumber(floor, 2));
  }
  body << "\n";
  return RenderGnuplot(dir, name, body.str(), 1100, 600);
}

namespace {

PlotResult PlotBacksolvePanels(const std::string& dir, const std::vector<BacksolvePanel>& panels) {
  std::vector<ReconstructionPanel> plotted;
  for (const BacksolvePanel& p : panels) {
    ReconstructionPanel panel = PanelOf(p.lambda, p.reconstruction);
    std::ostringstream exact;
    exact << "lambda = " << p.lambda << ": exact |z(t)| = e^{-lambda t}";
    panel.exact_comment = exact.str();
    panel.reconstructed_comment =
        "reconstructed |z_rec(t)| (" + p.method + ")" +
        (p.reconstruction.complete ? "" : ", stopped: " + p.reconstruction.message);
    panel.label = "backsolve z_{rec}(t), " + GnuplotEscape(p.method);
    plotted.push_back(std::move(panel));
  }
  return PlotReconstructionPanels(
      dir, "backsolve_reconstruction",
      "Backsolve adjoint: state reconstructed backward from the forward z(1), W1", "|z(t)|",
      plotted, 1100, 480);
}

std::vector<PlotResult> StiffnessPlots(const std::string& dir, const StiffnessResults& results) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto& records = results.records;
  std::vector<PlotResult> plots;
  for (const StudiedProblem& problem : results.problems) {
    if (problem.lambdas.size() < 2) continue;
    const bool absolute = problem.capabilities.judge_absolute;
    const auto error = SeriesFor(records, problem.name, [&](const GradientRecord& r) {
      return r.run.Finite() ? (absolute ? r.error.abs : r.error.rel) : nan;
    });
    if (error.empty()) continue;
    const std::string kind = absolute ? "absolute" : "relative";
    plots.push_back(PlotSeries(
        dir, "gradient_error_" + problem.name,
        problem.name + ": " + kind + " gradient error vs " + problem.capabilities.parameter,
        kind + " gradient error", error, true));
    const auto cost = SeriesFor(records, problem.name, [&](const GradientRecord& r) {
      const GradientStats& s = r.run.stats;
      return r.run.threw ? nan
                         : static_cast<double>(s.forward_rhs_evals + s.backward_rhs_evals +
                                               s.vjp_evals + s.jvp_evals);
    });
    plots.push_back(PlotSeries(
        dir, "cost_" + problem.name,
        problem.name + ": cost (f evaluations, VJPs and JVPs) vs " + problem.capabilities.parameter,
        "evaluations of f, VJP, JVP", cost, true));
  }
  if (!results.panels.empty()) plots.push_back(PlotBacksolvePanels(dir, results.panels));
  return plots;
}

void WriteNeuralCsv(const std::string& dir, const std::vector<NeuralRecord>& neural) {
  std::vector<std::vector<std::string>> rows;
  for (const NeuralRecord& n : neural) {
    for (std::size_t i = 0; i < n.losses.size(); ++i) {
      rows.push_back({n.spec.gradient, n.spec.integrator, n.spec.settings, std::to_string(i + 1),
                      FormatNumber(n.losses[i], 12)});
    }
  }
  WriteCsv(dir + "/neural_training.csv",
           {"gradient", "integrator", "settings", "iteration", "loss"}, rows);
}

}  // namespace

void WriteStiffnessOutputs(const StiffnessOptions& options, const StiffnessResults& results,
                           std::chrono::steady_clock::time_point start, std::ostream& out) {
  const std::string& dir = options.out_dir;
  std::vector<std::vector<std::string>> rows;
  nlohmann::json runs = nlohmann::json::array(), neural = nlohmann::json::array();
  for (const GradientRecord& r : results.records) {
    rows.push_back(StiffnessCsvRow(r));
    runs.push_back(RecordJson(r));
  }
  WriteCsv(dir + "/stiffness_results.csv", StiffnessCsvHeader(), rows);
  for (const NeuralRecord& n : results.neural) neural.push_back(NeuralJson(n));
  if (!results.neural.empty()) WriteNeuralCsv(dir, results.neural);
  std::vector<std::string> plot_files;
  if (options.plots) {
    for (const PlotResult& plot : StiffnessPlots(dir, results)) {
      plot_files.insert(plot_files.end(), plot.files.begin(), plot.files.end());
      if (!plot.note.empty()) out << "  note: " << plot.note << "\n";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json problems = nlohmann::json::array();
  for (const StudiedProblem& p : results.problems) {
    problems.push_back({{"name", p.name},
                        {"description", p.capabilities.description},
                        {"parameter", p.capabilities.parameter},
                        {"lambdas", nlohmann::json(p.lambdas)},
                        {"exact_gradient", p.capabilities.exact_gradient},
                        {"references", nlohmann::json(p.references)},
                        {"methods", nlohmann::json(p.methods)}});
  }
  WriteJson(dir + "/stiffness_results.json", {{"schema", kStiffnessSchemaName},
                                              {"schema_version", kStiffnessSchemaVersion},
                                              {"preset", results.preset},
                                              {"threads", results.threads},
                                              {"problems", problems},
                                              {"ok_tol", options.ok_tol},
                                              {"abs_tol", kGradientAbsTol},
                                              {"runs", runs},
                                              {"neural", neural},
                                              {"summary", nlohmann::json(results.summary)},
                                              {"notes", nlohmann::json(results.notes)},
                                              {"plots", nlohmann::json(plot_files)},
                                              {"wall_seconds", seconds}});
  out << "\nwrote " << dir << "/stiffness_results.csv, stiffness_results.json"
      << (results.neural.empty() ? "" : ", neural_training.csv");
  for (const std::string& file : plot_files) out << ", " << file.substr(file.find_last_of('/') + 1);
  out << "\ntotal time " << FormatSeconds(seconds) << "\n";
}

// ---------------------------------------------------------------- bench

void PrintRobertsonBenchTable(const RobertsonBench& bench, const std::vector<TimeSpread>& spreads,
                              int repetitions, std::ostream& out) {
  out << "W5 bench (Robertson, k = (0.04, 3e7, 1e4)): " << repetitions
      << " repetitions; error: max relative error of dL/dk against the reference\n";
  Table table({"problem", "gradient", "integrator", "settings", "time/gradient", "min", "max",
               "NFE fwd", "NFE bwd", "dL/dk rel err", "status"});
  for (std::size_t i = 0; i < bench.cells.size(); ++i) {
    const RobertsonBenchCell& cell = bench.cells[i];
    if (i > 0 && cell.problem != bench.cells[i - 1].problem) table.AddSeparator();
    const GradientRun& r = cell.last.run;
    const std::vector<std::string> times = TimeCells(spreads[i]);
    table.AddRow({bench.problems[cell.problem].name, cell.spec.gradient, cell.spec.integrator,
                  cell.spec.settings, times[0], times[1], times[2],
                  r.threw ? "-" : std::to_string(r.stats.forward_rhs_evals),
                  r.threw ? "-" : std::to_string(r.stats.backward_rhs_evals),
                  std::isfinite(cell.dk_rel) ? FormatScientific(cell.dk_rel, 1) : "-",
                  StatusCell(cell.last)});
  }
  table.Print(out);
  for (const std::string& line : bench.references) out << "  " << line << "\n";
  for (const std::string& note : bench.notes) out << "  note: " << note << "\n";
}

nlohmann::json RobertsonBenchDetail(const RobertsonBench& bench, const RobertsonBenchCell& cell) {
  const StudyProblem& problem = bench.problems[cell.problem];
  const GradientRun& r = cell.last.run;
  nlohmann::json dk = nlohmann::json::array(), ref = nlohmann::json::array();
  for (Index k = 0; k < problem.setup.ode.theta.size(); ++k) {
    dk.push_back(r.gradient.size() > k ? JsonNumber(r.gradient(k)) : nlohmann::json());
    ref.push_back(JsonNumber(problem.exact(k)));
  }
  return {{"problem", problem.name},
          {"horizon", problem.lambda},
          {"gradient_method", cell.spec.gradient},
          {"integrator", cell.spec.integrator},
          {"settings", cell.spec.settings},
          {"dL_dk", dk},
          {"reference_dL_dk", ref},
          {"dk_rel_err", JsonNumber(cell.dk_rel)},
          {"nfe_forward", r.stats.forward_rhs_evals},
          {"nfe_backward", r.stats.backward_rhs_evals},
          {"status", cell.last.status},
          {"message", r.message}};
}

std::string RobertsonBenchNote(const RobertsonBenchCell& cell) {
  return "dL/dk rel err " +
         (std::isfinite(cell.dk_rel) ? FormatScientific(cell.dk_rel, 1) : std::string("-")) + ", " +
         cell.last.status;
}

std::vector<bench::BenchRow> RobertsonBenchRows(const RobertsonBench& result) {
  std::vector<bench::BenchRow> rows;
  std::vector<double> medians;
  for (const RobertsonBenchCell& cell : result.cells) {
    const std::string configuration =
        result.problems[cell.problem].name.substr(3) + ": " + cell.spec.Label();
    rows.push_back(bench::MakeRow("W5", configuration, "time per gradient", "s",
                                  bench::Summarize(cell.seconds)));
    rows.back().note = RobertsonBenchNote(cell);
    medians.push_back(rows.back().spread.median);
  }
  for (const std::size_t i : TargetRungs(result, medians)) {
    bench::SetTarget(rows[i], 0.01, "<= 10 ms, dL/dk to 1e-6");
    rows[i].met_override = result.cells[i].dk_rel <= 1e-6 && rows[i].spread.median <= 0.01;
  }
  return rows;
}

void ReportRobertsonBench(const RobertsonBench& result, int repetitions,
                          const std::string& out_dir) {
  const bench::CellTimes times = bench::SummarizeCellTimes(
      result.cells,
      [&](const RobertsonBenchCell& cell) { return RobertsonBenchDetail(result, cell); });
  PrintRobertsonBenchTable(result, times.spreads, repetitions, std::cout);
  bench::WriteBenchReport(
      out_dir, "stiffness_study", "W5", repetitions, RobertsonBenchRows(result),
      {{"runs", times.details}, {"references", result.references}, {"notes", result.notes}});
}

}  // namespace snode
