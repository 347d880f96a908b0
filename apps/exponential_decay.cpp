// exponential_decay: the seed's adjoint-failure experiment, verbatim.
//
//   dy/dt = −λ y,  t ∈ (0, 1),  y(0) = 1,  L = y(1);   exact y(1) = e^{−λ},
//   dL/dλ = −e^{−λ},  dL/dy0 = e^{−λ}      (λ = 100 and 10 000 by default)
//
// Per λ and method (gradient method × integrator): the forward value y(1) and its error, both
// gradients and their errors, the backsolve adjoint's reconstructed y(0) (exact: 1), f
// evaluations forward/backward, time and a verdict:
//   ok          every gradient component within --ok-tol relative of the exact value (where
//               e^{−λ} underflows to 0 in double: |error| ≤ 1e-12)
//   reasonable  finite and within --usable-abs absolute (fine on the scale of y0 = 1 for a
//               gradient step, even if not relatively accurate)
//   inaccurate / non-finite / failed: message
// The closing lines state, from the numbers, whether "λ = 100 works reasonably, λ = 10 000
// fails" holds for the backsolve adjoint and which methods are correct at the largest λ.
// Files in --out: decay_results.csv, decay_results.json and (unless --no-plots) decay_backsolve
// (|y_rec(t)| reconstructed backward vs e^{−λt}) as PNG and SVG.
//
// --bench N: workloads W1 and W1b of ../shared/docs/workloads.md, N repetitions of every
// (method, integrator) pair of the workload over λ = 1, 10, 100, 1e3, 1e4 (or --lambdas); time
// per gradient (median, min, max), NFE, errors and status (ok / inaccurate / non-finite /
// failed) per pair and λ, as a table and <out>/bench.json (apps/common/bench_util.hpp).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "apps/common/app_common.hpp"
#include "apps/common/bench_util.hpp"
#include "studies/gradient_study.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode::app {
namespace {

constexpr double kAbsTol = 1e-12;
const char* const kUsage =
    "exponential_decay: the seed's experiment dy/dt = -λy, y(0) = 1, t in (0, 1): forward error,\n"
    "gradients dL/dλ and dL/dy0 of L = y(1), and the backsolve adjoint's reconstructed y(0).\n"
    "usage: exponential_decay [options]      e.g. exponential_decay --lambdas 100,1e4";

struct Row {
  double lambda = 0.0;
  GradientRun run;
  double forward = std::numeric_limits<double>::quiet_NaN();  // y(1)
  GradientError error;
  std::string verdict;
  bool has_reconstruction = false;
  double y0_rec = std::numeric_limits<double>::quiet_NaN();
  std::string reconstruction_message;
};

// The methods: the seed's backsolve adjoint (dopri5 at a torchdiffeq-like tolerance and at a
// purely relative one, which is the best double precision can do), BPTT with explicit, adaptive
// and implicit steps, and the remedies (checkpointed CVODES adjoint, exponential backward).
std::vector<MethodSpec> DefaultMethods() {
  std::vector<MethodSpec> specs = {
      MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-8, 1e-60),
      MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3),
      MakeMethod("bptt", "dopri5", 1e-8, 1e-60),
      MakeMethod("bptt", "backward_euler", 1e-6, 1e-8, 1e-3),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-60),
  };
  MethodSpec exponential = MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-60);
  exponential.options.backward_integrator = "epi2";
  exponential.settings += " bwd=epi2";
  specs.push_back(exponential);
  return specs;
}

std::string Verdict(const Row& row, double ok_tol, double usable_abs, const Vector& exact) {
  const std::string status = Classify(row.run, exact, ok_tol, kAbsTol, false);
  if (status != "inaccurate") return status;
  return row.error.abs <= usable_abs ? "reasonable" : "inaccurate";
}

std::string ErrorCell(double value, double exact) {
  if (!std::isfinite(value)) return "-";
  if (std::abs(exact) < kUnderflow) return "abs " + FormatScientific(std::abs(value - exact), 1);
  return FormatScientific(std::abs(value - exact) / std::abs(exact), 1);
}

// ------------------------------------------------------------------ --bench (W1, W1b)

// workloads.md W1's methods: BPTT and the backsolve adjoint with dopri5 at rtol = atol = 1e-6
// and 1e-9; rk4 and backward Euler (BPTT) at h = 1e-3; the checkpointed CVODES adjoint with BDF
// (at the same two tolerances).
std::vector<MethodSpec> BenchMethods() {
  return {
      MakeMethod("bptt", "dopri5", 1e-6, 1e-6),
      MakeMethod("bptt", "dopri5", 1e-9, 1e-9),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-9, 1e-9),
      MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3),
      MakeMethod("bptt", "backward_euler", 1e-6, 1e-8, 1e-3),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-6),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-9, 1e-9),
  };
}

struct DecayCase {
  std::string workload;  // "W1" or "W1b"
  double lambda = 0.0;
  OdeProblem problem;
  std::shared_ptr<LinearFunctionalLoss> loss;
  Vector exact;  // [dL/dθ; dL/dz0]
};

// W1: y' = −λy, y(0) = 1, L = y(1). W1b: z' = diag(−1, −λ) z, z(0) = (1, 1),
// L = Σ_{t ∈ {1e-3, 1e-2, 1e-1, 1}} z1(t) + z2(t).
DecayCase MakeDecayCase(const std::string& workload, double lambda) {
  DecayCase c;
  c.workload = workload;
  c.lambda = lambda;
  if (workload == "W1") {
    c.problem.field = std::make_shared<DecayField>(1);
    c.problem.z0 = Vector::Ones(1);
    c.problem.theta = Vector::Constant(1, lambda);
    c.problem.output_times = {1.0};
    c.loss = std::make_shared<LinearFunctionalLoss>(
        LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1));
    c.exact.resize(2);
    c.exact << -std::exp(-lambda), std::exp(-lambda);
    return c;
  }
  const std::vector<double> times = {1e-3, 1e-2, 1e-1, 1.0};
  c.problem.field = std::make_shared<DecayField>(2);
  c.problem.z0 = Vector::Ones(2);
  c.problem.theta = (Vector(2) << 1.0, lambda).finished();
  c.problem.output_times = times;
  c.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), times.size()));
  double d1 = 0, d2 = 0, s1 = 0, s2 = 0;
  for (const double t : times) {
    d1 -= t * std::exp(-t);
    d2 -= t * std::exp(-lambda * t);
    s1 += std::exp(-t);
    s2 += std::exp(-lambda * t);
  }
  c.exact.resize(4);
  c.exact << d1, d2, s1, s2;
  return c;
}

int RunBench(int repetitions, const std::vector<double>& lambdas, double ok_tol,
             const std::string& out_dir) {
  std::vector<MethodSpec> methods;
  std::vector<std::string> notes;
  for (const MethodSpec& spec : BenchMethods()) {
    std::string reason;
    if (SupportsCombination(spec, &reason)) {
      methods.push_back(spec);
    } else {
      notes.push_back("skipped " + spec.Label() + ": " + reason);
    }
  }
  struct Cell {
    const DecayCase* problem = nullptr;
    MethodSpec spec;
    std::vector<double> seconds;
    GradientRun last;
    std::string status;
    GradientError error;
  };
  std::vector<DecayCase> cases;
  for (const std::string workload : {"W1", "W1b"}) {
    for (const double lambda : lambdas) cases.push_back(MakeDecayCase(workload, lambda));
  }
  std::vector<Cell> cells;
  for (const DecayCase& c : cases) {
    for (const MethodSpec& spec : methods) {
      Cell cell;
      cell.problem = &c;
      cell.spec = spec;
      cells.push_back(std::move(cell));
    }
  }
  // Each repetition runs the whole sweep, so the per-pair sweep totals are repetitions too.
  std::map<std::string, std::vector<double>> sweep_seconds;  // "W1|label" → per repetition
  for (int rep = 0; rep < repetitions; ++rep) {
    std::map<std::string, double> total;
    for (Cell& cell : cells) {
      const DecayCase& c = *cell.problem;
      cell.last = RunGradient(cell.spec, c.problem, *c.loss);
      cell.seconds.push_back(cell.last.seconds);
      total[c.workload + "|" + cell.spec.Label()] += cell.last.seconds;
      cell.error = CompareGradient(cell.last.gradient, c.exact);
      // W1: e^{−λ} lies far below any solver tolerance for λ ≳ 30, so every component is also
      // judged by an absolute 1e-12 (as in stiffness_study); W1b: relative only.
      cell.status = Classify(cell.last, c.exact, ok_tol, kAbsTol, c.workload == "W1");
      // A solve stopped by the NaN/Inf check has a non-finite result, not a crash.
      if (cell.last.threw && cell.last.message.find("NaN/Inf") != std::string::npos) {
        cell.status = "non-finite";
      }
    }
    for (const auto& [key, seconds] : total) sweep_seconds[key].push_back(seconds);
  }

  std::cout << "W1 / W1b bench: " << repetitions << " repetitions; ok = every gradient component "
            << "within " << FormatCompact(ok_tol) << " relative (W1: + 1e-12 absolute)\n";
  Table table({"workload", "λ", "gradient", "integrator", "settings", "time/gradient", "min", "max",
               "NFE fwd", "NFE bwd", "rel err", "abs err", "recon err", "status"});
  nlohmann::json details = nlohmann::json::array();
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const Cell& cell = cells[i];
    if (i > 0 && cell.problem != cells[i - 1].problem) table.AddSeparator();
    const bench::Spread t = bench::Summarize(cell.seconds);
    const GradientRun& r = cell.last;
    const bool backsolve = cell.spec.gradient == "backsolve_adjoint" && !r.threw;
    std::string status = cell.status;
    if (r.threw) status += ": " + r.message.substr(0, std::min<std::size_t>(50, r.message.size()));
    table.AddRow({cell.problem->workload, FormatCompact(cell.problem->lambda), cell.spec.gradient,
                  cell.spec.integrator, cell.spec.settings, FormatSeconds(t.median),
                  FormatSeconds(t.min), FormatSeconds(t.max),
                  r.threw ? "-" : std::to_string(r.stats.forward_rhs_evals),
                  r.threw ? "-" : std::to_string(r.stats.backward_rhs_evals),
                  r.Finite() ? FormatScientific(cell.error.rel, 1) : "-",
                  r.Finite() ? FormatScientific(cell.error.abs, 1) : "-",
                  backsolve ? FormatScientific(r.stats.reconstruction_error, 1) : "-", status});
    nlohmann::json gradient = nlohmann::json::array();
    for (Index k = 0; k < r.gradient.size(); ++k) gradient.push_back(JsonNumber(r.gradient(k)));
    nlohmann::json exact = nlohmann::json::array();
    for (Index k = 0; k < cell.problem->exact.size(); ++k) {
      exact.push_back(JsonNumber(cell.problem->exact(k)));
    }
    details.push_back({{"workload", cell.problem->workload},
                       {"lambda", cell.problem->lambda},
                       {"gradient_method", cell.spec.gradient},
                       {"integrator", cell.spec.integrator},
                       {"settings", cell.spec.settings},
                       {"seconds_per_gradient", bench::SpreadJson(t)},
                       {"loss", JsonNumber(r.loss)},
                       {"gradient", gradient},
                       {"exact_gradient", exact},
                       {"rel_err", JsonNumber(cell.error.rel)},
                       {"abs_err", JsonNumber(cell.error.abs)},
                       {"nfe_forward", r.stats.forward_rhs_evals},
                       {"nfe_backward", r.stats.backward_rhs_evals},
                       {"vjp", r.stats.vjp_evals},
                       {"reconstruction_error",
                        backsolve ? JsonNumber(r.stats.reconstruction_error) : nlohmann::json()},
                       {"status", cell.status},
                       {"message", r.message}});
  }
  table.Print(std::cout);
  for (const std::string& note : notes) std::cout << "  note: " << note << "\n";

  // Summary: one row per workload and pair, the time of the whole λ sweep per repetition; the
  // target is that every λ finishes with a status (ok, inaccurate or non-finite; "failed" is any
  // other exception).
  std::vector<bench::BenchRow> rows;
  for (const std::string workload : {"W1", "W1b"}) {
    for (const MethodSpec& spec : methods) {
      bench::BenchRow row;
      row.workload = workload;
      row.configuration = spec.Label();
      row.metric = "time of the λ sweep (" + std::to_string(lambdas.size()) + " gradients)";
      row.unit = "s";
      row.spread = bench::Summarize(sweep_seconds[workload + "|" + spec.Label()]);
      row.target_text = "every λ finishes";
      bool finished = true;
      for (const Cell& cell : cells) {
        if (cell.problem->workload != workload || cell.spec.Label() != spec.Label()) continue;
        finished = finished && cell.status != "failed";
        row.note += (row.note.empty() ? "" : ", ") + std::string("λ=") +
                    FormatCompact(cell.problem->lambda) + " " + cell.status;
      }
      row.met_override = finished ? 1 : 0;
      rows.push_back(row);
    }
  }
  bench::WriteBenchReport(out_dir, "exponential_decay", "W1, W1b", repetitions, rows,
                          {{"runs", details}, {"notes", notes}, {"ok_tol", ok_tol}});
  return 0;
}

int Run(int argc, char** argv) {
  po::options_description desc("Options");
  CommonDefaults defaults;
  defaults.out = "results/decay";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("lambdas", po::value<std::string>()->default_value("100,1e4"),
       "comma-separated decay rates λ > 0")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run is ok")
      ("usable-abs", po::value<double>()->default_value(1e-6),
       "absolute gradient error up to which an inaccurate run still counts as reasonable")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workloads W1 and W1b N times (λ = 1..1e4 unless --lambdas): medians of the time per "
       "gradient, NFE, errors, status; writes <out>/bench.json");
  // clang-format on
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  const CommonOptions common = ReadCommonOptions(vm);
  std::vector<double> lambdas = ParseDoubleList(vm["lambdas"].as<std::string>(), "--lambdas");
  for (const double lambda : lambdas) {
    Require(lambda > 0.0, "--lambdas: λ must be positive, got " + FormatNumber(lambda));
  }
  std::sort(lambdas.begin(), lambdas.end());
  lambdas.erase(std::unique(lambdas.begin(), lambdas.end()), lambdas.end());
  const double ok_tol = vm["ok-tol"].as<double>();
  Require(std::isfinite(ok_tol) && ok_tol > 0.0, "--ok-tol must be positive");
  const double usable_abs = vm["usable-abs"].as<double>();
  Require(std::isfinite(usable_abs) && usable_abs > 0.0, "--usable-abs must be positive");
  const bool plots = !vm["no-plots"].as<bool>();
  EnsureDirectory(common.out_dir);
  if (vm.count("bench")) {
    if (vm["lambdas"].defaulted()) lambdas = {1.0, 10.0, 100.0, 1e3, 1e4};
    return RunBench(bench::CheckRepetitions(vm["bench"].as<long>()), lambdas, ok_tol,
                    common.out_dir);
  }
  const auto start = std::chrono::steady_clock::now();

  // Methods: the default list, or the one pair named by --gradient/--integrator.
  std::vector<MethodSpec> methods;
  if (common.gradient_set || common.integrator_set) {
    for (const MethodSpec& spec : DefaultMethods()) {
      if ((!common.gradient_set || spec.gradient == common.gradient) &&
          (!common.integrator_set || spec.integrator == common.integrator)) {
        methods.push_back(spec);
      }
    }
    if (methods.empty() || common.rtol_set || common.atol_set || common.step_set) {
      const IntegratorOptions& io = common.integrator_options;
      methods = {MakeMethod(common.gradient, common.integrator, io.rtol, io.atol, io.fixed_step)};
      methods.back().options.integrator_options = io;
    }
  } else {
    methods = DefaultMethods();
  }
  std::vector<std::string> notes;
  std::vector<MethodSpec> supported;
  for (const MethodSpec& spec : methods) {
    std::string reason;
    if (SupportsCombination(spec, &reason)) {
      supported.push_back(spec);
    } else {
      notes.push_back("skipped " + spec.Label() + ": " + reason);
    }
  }

  std::vector<Row> rows;
  for (const double lambda : lambdas) {
    OdeProblem problem;
    problem.field = std::make_shared<DecayField>(1);
    problem.z0 = Vector::Ones(1);
    problem.theta = Vector::Constant(1, lambda);
    problem.output_times = {1.0};
    const LinearFunctionalLoss loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1);
    const double decay = std::exp(-lambda);
    Vector exact(2);
    exact << -decay, decay;
    for (const MethodSpec& spec : supported) {
      Row row;
      row.lambda = lambda;
      row.run = RunGradient(spec, problem, loss);
      if (!row.run.forward_states.empty()) row.forward = row.run.forward_states.back()(0);
      row.error = CompareGradient(row.run.gradient, exact);
      row.verdict = Verdict(row, ok_tol, usable_abs, exact);
      if (spec.gradient == "backsolve_adjoint" && !row.run.threw) {
        row.has_reconstruction = true;
        Vector z0_rec;
        if (ReconstructInitialState(spec, problem, loss, row.run.forward_states, &z0_rec,
                                    &row.reconstruction_message)) {
          row.y0_rec = z0_rec(0);
        }
      }
      rows.push_back(std::move(row));
    }
  }

  // ---- table
  std::cout << "Seed experiment: dy/dt = -λy, y(0) = 1, t in (0, 1), L = y(1); exact y(1) = "
               "dL/dy0 = e^{-λ}, dL/dλ = -e^{-λ}\n"
            << "errors are relative, or absolute (\"abs\") where e^{-λ} underflows to 0 in "
               "double; y0 rec: the backsolve adjoint's y(0) reconstructed backward (exact 1)\n\n";
  Table table({"λ", "gradient", "integrator", "settings", "y(1)", "y(1) err", "dL/dλ", "err",
               "dL/dy0", "err", "y0 rec", "NFE fwd", "NFE bwd", "time", "verdict"});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (i > 0 && r.lambda != rows[i - 1].lambda) table.AddSeparator();
    const double decay = std::exp(-r.lambda);
    const bool has = r.run.gradient.size() == 2;
    const double dl = has ? r.run.gradient(0) : std::numeric_limits<double>::quiet_NaN();
    const double dy = has ? r.run.gradient(1) : std::numeric_limits<double>::quiet_NaN();
    std::string rec = "-";
    if (r.has_reconstruction) {
      rec = std::isfinite(r.y0_rec) ? FormatScientific(r.y0_rec, 2) : "non-finite";
    }
    std::string verdict = r.verdict;
    if (r.run.threw) {
      std::string message = r.run.message;
      if (message.size() > 60) message = message.substr(0, 57) + "...";
      verdict += ": " + message;
    }
    table.AddRow({FormatCompact(r.lambda), r.run.spec.gradient, r.run.spec.integrator,
                  r.run.spec.settings, FormatScientific(r.forward, 3), ErrorCell(r.forward, decay),
                  has ? FormatScientific(dl, 3) : "-", ErrorCell(dl, -decay),
                  has ? FormatScientific(dy, 3) : "-", ErrorCell(dy, decay), rec,
                  r.run.threw ? "-" : std::to_string(r.run.stats.forward_rhs_evals),
                  r.run.threw ? "-" : std::to_string(r.run.stats.backward_rhs_evals),
                  FormatSeconds(r.run.seconds), verdict});
  }
  table.Print(std::cout);

  // ---- the claim, computed
  std::vector<std::string> findings;
  const double small = lambdas.front(), large = lambdas.back();
  for (const MethodSpec& spec : supported) {
    if (spec.gradient != "backsolve_adjoint" || lambdas.size() < 2) continue;
    const Row* at_small = nullptr;
    const Row* at_large = nullptr;
    for (const Row& r : rows) {
      if (r.run.spec.Label() != spec.Label()) continue;
      if (r.lambda == small) at_small = &r;
      if (r.lambda == large) at_large = &r;
    }
    if (!at_small || !at_large) continue;
    const bool works = at_small->verdict == "ok" || at_small->verdict == "reasonable";
    const bool fails = at_large->verdict != "ok" && at_large->verdict != "reasonable";
    std::ostringstream line;
    line << spec.Label() << ": λ = " << FormatCompact(small) << " "
         << (works ? "works" : "does not work") << " (" << at_small->verdict << ", max abs err "
         << FormatScientific(at_small->error.abs, 1) << ", y0 rec "
         << (std::isfinite(at_small->y0_rec) ? FormatScientific(at_small->y0_rec, 2) : "non-finite")
         << "), λ = " << FormatCompact(large) << " " << (fails ? "fails" : "works") << " ("
         << at_large->verdict << ", y0 rec "
         << (std::isfinite(at_large->y0_rec) ? FormatScientific(at_large->y0_rec, 2) : "non-finite")
         << ")"
         << (works && fails ? ": the seed's claim holds" : ": the seed's claim does not hold")
         << ".";
    findings.push_back(line.str());
  }
  std::string correct;
  for (const Row& r : rows) {
    if (r.lambda == large && r.verdict == "ok") {
      correct += (correct.empty() ? "" : ", ") + r.run.spec.Label();
    }
  }
  findings.push_back("Correct at λ = " + FormatCompact(large) + ": " +
                     (correct.empty() ? "none" : correct) + ".");
  std::cout << "\n";
  for (const std::string& line : findings) std::cout << "- " << line << "\n";
  for (const std::string& note : notes) std::cout << "  note: " << note << "\n";

  // ---- files
  const std::vector<std::string> header = {
      "lambda",           "gradient",    "integrator",   "settings", "y1",
      "dL_dlambda",       "dL_dy0",      "exact_y1",     "rel_err",  "abs_err",
      "y0_reconstructed", "nfe_forward", "nfe_backward", "vjp",      "wall_seconds",
      "verdict",          "message"};
  std::vector<std::vector<std::string>> csv;
  nlohmann::json runs = nlohmann::json::array();
  for (const Row& r : rows) {
    const bool has = r.run.gradient.size() == 2;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double dl = has ? r.run.gradient(0) : nan, dy = has ? r.run.gradient(1) : nan;
    auto num = [](double x) { return FormatNumber(x, 12); };
    csv.push_back({num(r.lambda), r.run.spec.gradient, r.run.spec.integrator, r.run.spec.settings,
                   num(r.forward), num(dl), num(dy), num(std::exp(-r.lambda)), num(r.error.rel),
                   num(r.error.abs), r.has_reconstruction ? num(r.y0_rec) : "",
                   std::to_string(r.run.stats.forward_rhs_evals),
                   std::to_string(r.run.stats.backward_rhs_evals),
                   std::to_string(r.run.stats.vjp_evals), num(r.run.seconds), r.verdict,
                   r.run.message});
    runs.push_back(
        {{"lambda", r.lambda},
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
         {"message", r.run.message}});
  }
  WriteCsv(common.out_dir + "/decay_results.csv", header, csv);
  nlohmann::json findings_json = findings;
  nlohmann::json notes_json = notes;
  WriteJson(common.out_dir + "/decay_results.json",
            {{"runs", runs}, {"findings", findings_json}, {"notes", notes_json}});

  std::vector<std::string> written = {"decay_results.csv", "decay_results.json"};
  if (plots) {
    // |y_rec(t)| of the first backsolve method, one panel per λ.
    const MethodSpec* backsolve = nullptr;
    for (const MethodSpec& spec : supported) {
      if (spec.gradient == "backsolve_adjoint") {
        backsolve = &spec;
        break;
      }
    }
    if (backsolve != nullptr) {
      std::ostringstream data, body;
      body << "set multiplot layout 1," << lambdas.size()
           << " title 'Backsolve adjoint: y(t) reconstructed backward from the forward y(1)'\n"
           << "set logscale y\nset format y '10^{%L}'\nset grid\nset xlabel 't'\n"
           << "set ylabel '|y(t)|'\nset key below font ',9'\n";
      for (std::size_t i = 0; i < lambdas.size(); ++i) {
        OdeProblem problem;
        problem.field = std::make_shared<DecayField>(1);
        problem.z0 = Vector::Ones(1);
        problem.theta = Vector::Constant(1, lambdas[i]);
        problem.output_times = {1.0};
        const LinearFunctionalLoss loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1);
        Reconstruction rec;
        try {
          auto integrator = IntegratorRegistry().Create(backsolve->integrator,
                                                        backsolve->options.integrator_options);
          rec = ReconstructBacksolve(*backsolve, problem, loss, integrator->Solve(problem).states,
                                     101);
        } catch (const std::exception& e) {
          rec.message = e.what();
        }
        data << "# exact, lambda = " << lambdas[i] << "\n";
        for (int k = 0; k <= 100; ++k) {
          const double t = k / 100.0, y = std::exp(-lambdas[i] * t);
          if (y > 1e-300) data << t << " " << FormatNumber(y, 10) << "\n";
        }
        data << "\n\n# reconstructed\n";
        for (std::size_t k = 0; k < rec.times.size(); ++k) {
          const double y = std::abs(rec.states[k](0));
          if (std::isfinite(y) && y > 0) data << rec.times[k] << " " << FormatNumber(y, 10) << "\n";
        }
        data << "\n\n";
        std::string label = "backsolve y_{rec}(t), dopri5 " + backsolve->settings;
        if (!rec.complete && !rec.times.empty()) {
          label += ", non-finite below t = " + FormatCompact(rec.times.back());
        }
        body << "set title '{/Symbol l} = " << FormatCompact(lambdas[i]) << "'\n"
             << "plot 'decay_backsolve.dat' index " << 2 * i
             << " using 1:2 with lines lw 2 lc rgb '#1b9e77' title 'exact e^{-{/Symbol l}t}', \\\n"
             << "     'decay_backsolve.dat' index " << 2 * i + 1
             << " using 1:2 with linespoints lw 1.5 pt 7 ps 0.5 lc rgb '#d95f02' title '" << label
             << "'\n";
      }
      body << "unset multiplot\n";
      AtomicWriteFile(common.out_dir + "/decay_backsolve.dat", data.str());
      const PlotResult plot = RenderGnuplot(
          common.out_dir, "decay_backsolve", body.str(),
          static_cast<int>(550 * std::max<std::size_t>(1, lambdas.size()) + 100), 460);
      for (const std::string& file : plot.files) {
        written.push_back(file.substr(file.find_last_of('/') + 1));
      }
      if (!plot.note.empty()) std::cout << "  note: " << plot.note << "\n";
    }
  }
  std::cout << "\nwrote " << common.out_dir << "/";
  for (std::size_t i = 0; i < written.size(); ++i) std::cout << (i ? ", " : "") << written[i];
  std::cout << "\ntotal time "
            << FormatSeconds(
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count())
            << "\n";
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
