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
      << "ok: every gradient component within " << FormatCompact(options.ok_tol)
      << " relative of the exact or reference value (the report has the full rule)\n"
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

void PrintProblemTable(const std::string& title, const std::vector<GradientRecord>& records,
                       const Judging& judging, std::ostream& out) {
  if (records.empty()) return;
  out << "\n== " << title << " ==\n";
  Table table({"λ", "gradient", "integrator", "settings", "error", "recon err", "est err",
               "NFE fwd", "NFE bwd", "VJP", "JVP", "time", "stored", "status"});
  double last_lambda = records.front().lambda;
  for (const GradientRecord& r : records) {
    if (r.lambda != last_lambda) table.AddSeparator();
    last_lambda = r.lambda;
    const GradientStats& s = r.run.stats;
    const bool has_stats = !r.run.threw;
    table.AddRow({FormatCompact(r.lambda), r.run.spec.gradient, r.run.spec.integrator,
                  r.run.spec.settings, ErrorCell(r, judging), ReconCell(r), EstimateCell(r),
                  has_stats ? std::to_string(s.forward_rhs_evals) : "-",
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

// ---------------------------------------------------------------- files

const std::vector<std::string>& StiffnessCsvHeader() {
  static const std::vector<std::string> header = {"schema_version",
                                                  "problem",
                                                  "parameter",
                                                  "lambda",
                                                  "gradient",
                                                  "integrator",
                                                  "settings",
                                                  "loss",
                                                  "gradient_value",
                                                  "reference_value",
                                                  "reference",
                                                  "rel_err",
                                                  "abs_err",
                                                  "exact_underflows",
                                                  "recon_err",
                                                  "recon_flagged",
                                                  "nfe_forward",
                                                  "nfe_backward",
                                                  "vjp",
                                                  "jvp",
                                                  "steps_forward",
                                                  "steps_backward",
                                                  "checkpoints",
                                                  "stored_bytes",
                                                  "wall_seconds",
                                                  "status",
                                                  "message",
                                                  "flagged",
                                                  "diagnosis",
                                                  "amplification",
                                                  "error_estimate",
                                                  "rtol",
                                                  "atol",
                                                  "fixed_step"};
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
          std::isnan(s.error_estimate) ? "" : num(s.error_estimate),
          num(r.run.spec.options.integrator_options.rtol),
          num(r.run.spec.options.integrator_options.atol),
          num(r.run.spec.options.integrator_options.fixed_step)};
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

namespace {

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
                                              {"wall_seconds", seconds}});
  out << "wrote " << dir << "/stiffness_results.csv, stiffness_results.json"
      << (results.neural.empty() ? "" : ", neural_training.csv") << " (total time "
      << FormatSeconds(seconds) << ")\n";
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
    bench::SetCpu(rows.back(), bench::Summarize(cell.cpu_seconds));
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

std::string ReferenceSummary(const StudiedProblem& problem) {
  std::vector<std::string> distinct;
  for (const std::string& reference : problem.references) {
    if (std::find(distinct.begin(), distinct.end(), reference) == distinct.end()) {
      distinct.push_back(reference);
    }
  }
  if (distinct.size() == 1) return distinct.front();
  std::string text;
  for (std::size_t i = 0; i < problem.references.size() && i < problem.lambdas.size(); ++i) {
    text += (text.empty() ? "" : "; ") + problem.capabilities.parameter + " = " +
            FormatCompact(problem.lambdas[i]) + ": " + problem.references[i];
  }
  return text;
}

StudyReportFiles WriteStiffnessReport(const StiffnessOptions& options,
                                      const StiffnessResults& results, RunInfo run) {
  StudyReportInput input;
  input.run = std::move(run);
  input.run.preset = results.preset;
  input.run.threads = results.threads;
  input.run.ok_tol = options.ok_tol;
  for (const StudiedProblem& problem : results.problems) {
    input.problems.push_back(
        MakeProblemInfo(problem.name, problem.capabilities, ReferenceSummary(problem)));
  }
  input.records = results.records;
  input.panels = results.panels;
  input.neural = results.neural;
  input.findings = results.summary;
  input.notes = results.notes;
  input.figures = options.plots;
  FinishRunInfo(input.run);
  return WriteStudyReport(options.out_dir, input);
}

}  // namespace snode
