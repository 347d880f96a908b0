#include "studies/decay_report.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>

#include "integrators/integrator.hpp"
#include "io/files.hpp"
#include "problems/decay.hpp"

namespace snode {

std::string DecayErrorCell(double value, double exact) {
  if (!std::isfinite(value)) return "-";
  if (std::abs(exact) < kUnderflow) return "abs " + FormatScientific(std::abs(value - exact), 1);
  return FormatScientific(std::abs(value - exact) / std::abs(exact), 1);
}

namespace {

// dL/dλ and dL/dy0 of a row (NaN without a gradient).
std::pair<double, double> Gradient(const DecayRow& r) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (r.run.gradient.size() != 2) return {nan, nan};
  return {r.run.gradient(0), r.run.gradient(1)};
}

std::vector<std::string> TableRow(const DecayRow& r) {
  const double decay = std::exp(-r.lambda);
  const bool has = r.run.gradient.size() == 2;
  const auto [dl, dy] = Gradient(r);
  std::string rec = "-";
  if (r.has_reconstruction) {
    rec = std::isfinite(r.y0_rec) ? FormatScientific(r.y0_rec, 2) : "non-finite";
  }
  std::string verdict = r.verdict;
  if (r.run.threw) verdict += ": " + Shorten(r.run.message, 60);
  return {FormatCompact(r.lambda),
          r.run.spec.gradient,
          r.run.spec.integrator,
          r.run.spec.settings,
          FormatScientific(r.forward, 3),
          DecayErrorCell(r.forward, decay),
          has ? FormatScientific(dl, 3) : "-",
          DecayErrorCell(dl, -decay),
          has ? FormatScientific(dy, 3) : "-",
          DecayErrorCell(dy, decay),
          rec,
          r.run.threw ? "-" : std::to_string(r.run.stats.forward_rhs_evals),
          r.run.threw ? "-" : std::to_string(r.run.stats.backward_rhs_evals),
          FormatSeconds(r.run.seconds),
          verdict};
}

}  // namespace

void PrintDecayTable(const std::vector<DecayRow>& rows, std::ostream& out) {
  out << "Seed experiment: dy/dt = -λy, y(0) = 1, t in (0, 1), L = y(1); exact y(1) = "
         "dL/dy0 = e^{-λ}, dL/dλ = -e^{-λ}\n"
      << "errors are relative, or absolute (\"abs\") where e^{-λ} underflows to 0 in "
         "double; y0 rec: the backsolve adjoint's y(0) reconstructed backward (exact 1)\n\n";
  Table table({"λ", "gradient", "integrator", "settings", "y(1)", "y(1) err", "dL/dλ", "err",
               "dL/dy0", "err", "y0 rec", "NFE fwd", "NFE bwd", "time", "verdict"});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0 && rows[i].lambda != rows[i - 1].lambda) table.AddSeparator();
    table.AddRow(TableRow(rows[i]));
  }
  table.Print(out);
}

void PrintDecayFindings(const DecayResults& results, std::ostream& out) {
  out << "\n";
  for (const std::string& line : results.findings) out << "- " << line << "\n";
  for (const std::string& note : results.notes) out << "  note: " << note << "\n";
}

const std::vector<std::string>& DecayCsvHeader() {
  static const std::vector<std::string> header = {
      "lambda",           "gradient",    "integrator",   "settings", "y1",
      "dL_dlambda",       "dL_dy0",      "exact_y1",     "rel_err",  "abs_err",
      "y0_reconstructed", "nfe_forward", "nfe_backward", "vjp",      "wall_seconds",
      "verdict",          "message"};
  return header;
}

std::vector<std::string> DecayCsvRow(const DecayRow& r) {
  const auto [dl, dy] = Gradient(r);
  auto num = [](double x) { return FormatNumber(x, 12); };
  return {num(r.lambda),
          r.run.spec.gradient,
          r.run.spec.integrator,
          r.run.spec.settings,
          num(r.forward),
          num(dl),
          num(dy),
          num(std::exp(-r.lambda)),
          num(r.error.rel),
          num(r.error.abs),
          r.has_reconstruction ? num(r.y0_rec) : "",
          std::to_string(r.run.stats.forward_rhs_evals),
          std::to_string(r.run.stats.backward_rhs_evals),
          std::to_string(r.run.stats.vjp_evals),
          num(r.run.seconds),
          r.verdict,
          r.run.message};
}

nlohmann::json DecayRowJson(const DecayRow& r) {
  const auto [dl, dy] = Gradient(r);
  return {{"lambda", r.lambda},
          {"gradient_method", r.run.spec.gradient},
          {"integrator", r.run.spec.integrator},
          {"settings", r.run.spec.settings},
          {"y1", JsonNumber(r.forward)},
          {"dL_dlambda", JsonNumber(dl)},
          {"dL_dy0", JsonNumber(dy)},
          {"exact_y1", std::exp(-r.lambda)},
          {"rel_err", JsonNumber(r.error.rel)},
          {"abs_err", JsonNumber(r.error.abs)},
          {"y0_reconstructed", r.has_reconstruction ? JsonNumber(r.y0_rec) : nlohmann::json()},
          {"nfe_forward", r.run.stats.forward_rhs_evals},
          {"nfe_backward", r.run.stats.backward_rhs_evals},
          {"vjp", r.run.stats.vjp_evals},
          {"wall_seconds", r.run.seconds},
          {"verdict", r.verdict},
          {"message", r.run.message}};
}

namespace {

// |y_rec(t)| of backsolve (the first backsolve method), one panel per λ.
PlotResult PlotDecayBacksolve(const std::string& dir, const MethodSpec& backsolve,
                              const std::vector<double>& lambdas) {
  std::vector<ReconstructionPanel> panels;
  for (const double lambda : lambdas) {
    const problems::ProblemSetup problem = problems::MakeDecay(lambda);
    Reconstruction rec;
    try {
      auto integrator =
          IntegratorRegistry().Create(backsolve.integrator, backsolve.options.integrator_options);
      rec = ReconstructBacksolve(backsolve, problem.ode, *problem.loss,
                                 integrator->Solve(problem.ode).states, 101);
    } catch (const std::exception& e) {
      rec.message = e.what();
    }
    ReconstructionPanel panel = PanelOf(lambda, rec);
    std::ostringstream exact;
    exact << "exact, lambda = " << lambda;
    panel.exact_comment = exact.str();
    panel.reconstructed_comment = "reconstructed";
    panel.label = "backsolve y_{rec}(t), dopri5 " + backsolve.settings;
    panels.push_back(std::move(panel));
  }
  return PlotReconstructionPanels(
      dir, "decay_backsolve",
      "Backsolve adjoint: y(t) reconstructed backward from the forward y(1)", "|y(t)|", panels,
      static_cast<int>(550 * std::max<std::size_t>(1, lambdas.size()) + 100), 460);
}

}  // namespace

void WriteDecayOutputs(const DecayOptions& options, const DecayResults& results,
                       std::chrono::steady_clock::time_point start, std::ostream& out) {
  std::vector<std::vector<std::string>> csv;
  nlohmann::json runs = nlohmann::json::array();
  for (const DecayRow& r : results.rows) {
    csv.push_back(DecayCsvRow(r));
    runs.push_back(DecayRowJson(r));
  }
  WriteCsv(options.out_dir + "/decay_results.csv", DecayCsvHeader(), csv);
  WriteJson(options.out_dir + "/decay_results.json",
            {{"runs", runs},
             {"findings", nlohmann::json(results.findings)},
             {"notes", nlohmann::json(results.notes)}});
  std::vector<std::string> written = {"decay_results.csv", "decay_results.json"};
  const auto backsolve =
      std::find_if(results.methods.begin(), results.methods.end(),
                   [](const MethodSpec& spec) { return spec.gradient == "backsolve_adjoint"; });
  if (options.plots && backsolve != results.methods.end()) {
    const PlotResult plot = PlotDecayBacksolve(options.out_dir, *backsolve, options.lambdas);
    for (const std::string& file : plot.files) {
      written.push_back(file.substr(file.find_last_of('/') + 1));
    }
    if (!plot.note.empty()) out << "  note: " << plot.note << "\n";
  }
  out << "\nwrote " << options.out_dir << "/";
  for (std::size_t i = 0; i < written.size(); ++i) out << (i ? ", " : "") << written[i];
  out << "\ntotal time "
      << FormatSeconds(
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count())
      << "\n";
}

// ---------------------------------------------------------------- bench

void PrintDecayBenchTable(const DecayBench& bench, const std::vector<TimeSpread>& spreads,
                          int repetitions, double ok_tol, std::ostream& out) {
  out << "W1 / W1b bench: " << repetitions << " repetitions; ok = every gradient component "
      << "within " << FormatCompact(ok_tol) << " relative (W1: + 1e-12 absolute)\n";
  Table table({"workload", "λ", "gradient", "integrator", "settings", "time/gradient", "min", "max",
               "NFE fwd", "NFE bwd", "rel err", "abs err", "recon err", "status"});
  for (std::size_t i = 0; i < bench.cells.size(); ++i) {
    const DecayBenchCell& cell = bench.cells[i];
    if (i > 0 && cell.problem != bench.cells[i - 1].problem) table.AddSeparator();
    const StudyProblem& problem = bench.problems[cell.problem];
    const GradientRun& r = cell.last.run;
    const bool backsolve = cell.spec.gradient == "backsolve_adjoint" && !r.threw;
    std::string status = cell.last.status;
    if (r.threw) status += ": " + r.message.substr(0, std::min<std::size_t>(50, r.message.size()));
    const std::vector<std::string> times = TimeCells(spreads[i]);
    table.AddRow({problem.name, FormatCompact(problem.lambda), cell.spec.gradient,
                  cell.spec.integrator, cell.spec.settings, times[0], times[1], times[2],
                  r.threw ? "-" : std::to_string(r.stats.forward_rhs_evals),
                  r.threw ? "-" : std::to_string(r.stats.backward_rhs_evals),
                  r.Finite() ? FormatScientific(cell.last.error.rel, 1) : "-",
                  r.Finite() ? FormatScientific(cell.last.error.abs, 1) : "-",
                  backsolve ? FormatScientific(r.stats.reconstruction_error, 1) : "-", status});
  }
  table.Print(out);
  for (const std::string& note : bench.notes) out << "  note: " << note << "\n";
}

nlohmann::json DecayBenchDetail(const DecayBench& bench, const DecayBenchCell& cell) {
  const StudyProblem& problem = bench.problems[cell.problem];
  const GradientRun& r = cell.last.run;
  const bool backsolve = cell.spec.gradient == "backsolve_adjoint" && !r.threw;
  nlohmann::json gradient = nlohmann::json::array(), exact = nlohmann::json::array();
  for (Index k = 0; k < r.gradient.size(); ++k) gradient.push_back(JsonNumber(r.gradient(k)));
  for (Index k = 0; k < problem.exact.size(); ++k) exact.push_back(JsonNumber(problem.exact(k)));
  return {{"workload", problem.name},
          {"lambda", problem.lambda},
          {"gradient_method", cell.spec.gradient},
          {"integrator", cell.spec.integrator},
          {"settings", cell.spec.settings},
          {"loss", JsonNumber(r.loss)},
          {"gradient", gradient},
          {"exact_gradient", exact},
          {"rel_err", JsonNumber(cell.last.error.rel)},
          {"abs_err", JsonNumber(cell.last.error.abs)},
          {"nfe_forward", r.stats.forward_rhs_evals},
          {"nfe_backward", r.stats.backward_rhs_evals},
          {"vjp", r.stats.vjp_evals},
          {"reconstruction_error",
           backsolve ? JsonNumber(r.stats.reconstruction_error) : nlohmann::json()},
          {"status", cell.last.status},
          {"message", r.message}};
}

std::vector<bench::BenchRow> DecayBenchRows(const DecayBench& result, std::size_t lambda_count) {
  std::vector<bench::BenchRow> rows;
  for (const std::string workload : {"W1", "W1b"}) {
    for (const MethodSpec& spec : result.methods) {
      bench::BenchRow row = bench::MakeRow(
          workload, spec.Label(),
          "time of the λ sweep (" + std::to_string(lambda_count) + " gradients)", "s",
          bench::Summarize(result.sweep_seconds.at(workload + "|" + spec.Label())));
      row.target_text = "every λ finishes";
      bool finished = true;
      row.note = SweepNote(result, workload, spec.Label(), &finished);
      row.met_override = finished ? 1 : 0;
      rows.push_back(row);
    }
  }
  return rows;
}

void ReportDecayBench(const DecayOptions& options, const DecayBench& result, int repetitions) {
  const bench::CellTimes times = bench::SummarizeCellTimes(
      result.cells, [&](const DecayBenchCell& cell) { return DecayBenchDetail(result, cell); });
  PrintDecayBenchTable(result, times.spreads, repetitions, options.ok_tol, std::cout);
  bench::WriteBenchReport(
      options.out_dir, "exponential_decay", "W1, W1b", repetitions,
      DecayBenchRows(result, options.lambdas.size()),
      {{"runs", times.details}, {"notes", result.notes}, {"ok_tol", options.ok_tol}});
}

}  // namespace snode
