#include "studies/decay_study.hpp"

#include <cmath>
#include <sstream>

#include "problems/decay.hpp"
#include "studies/report.hpp"

namespace snode {

std::vector<MethodSpec> SeedMethods() {
  return {
      MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-8, 1e-60),
      MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3),
      MakeMethod("bptt", "dopri5", 1e-8, 1e-60),
      MakeMethod("bptt", "backward_euler", 1e-6, 1e-8, 1e-3),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-60),
      WithBackward(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-60), "epi2"),
  };
}

std::vector<MethodSpec> SelectSeedMethods(const MethodOverrides& overrides) {
  return SelectMethods(SeedMethods(), overrides);
}

std::string Verdict(const GradientRun& run, const GradientError& error, const Vector& exact,
                    double ok_tol, double usable_abs) {
  const std::string status = Classify(run, exact, ok_tol, kGradientAbsTol, false);
  if (status != "inaccurate") return status;
  return error.abs <= usable_abs ? "reasonable" : "inaccurate";
}

DecayRow EvaluateDecay(const MethodSpec& spec, double lambda, double ok_tol, double usable_abs) {
  const problems::ProblemSetup problem = problems::MakeDecay(lambda);
  const Vector& exact = *problem.exact_gradient;
  DecayRow row;
  row.lambda = lambda;
  row.run = RunGradient(spec, problem.ode, *problem.loss);
  if (!row.run.forward_states.empty()) row.forward = row.run.forward_states.back()(0);
  row.error = CompareGradient(row.run.gradient, exact);
  row.verdict = Verdict(row.run, row.error, exact, ok_tol, usable_abs);
  if (spec.gradient == "backsolve_adjoint" && !row.run.threw) {
    row.has_reconstruction = true;
    Vector z0_rec;
    if (ReconstructInitialState(spec, problem.ode, *problem.loss, row.run.forward_states, &z0_rec,
                                &row.reconstruction_message)) {
      row.y0_rec = z0_rec(0);
    }
  }
  return row;
}

DecayResults RunDecayStudy(const DecayOptions& options) {
  DecayResults results;
  results.methods = SupportedOnly(SelectSeedMethods(options.overrides), &results.notes);
  for (const double lambda : options.lambdas) {
    for (const MethodSpec& spec : results.methods) {
      results.rows.push_back(EvaluateDecay(spec, lambda, options.ok_tol, options.usable_abs));
    }
  }
  results.findings = DecayFindings(results.rows, results.methods, options.lambdas);
  return results;
}

namespace {

bool Works(const std::string& verdict) { return verdict == "ok" || verdict == "reasonable"; }

std::string Y0Rec(const DecayRow& row) {
  return std::isfinite(row.y0_rec) ? FormatScientific(row.y0_rec, 2) : "non-finite";
}

// "<label>: λ = small works (…), λ = large fails (…): the seed's claim holds."
std::string ClaimLine(const std::string& label, const DecayRow& small, const DecayRow& large) {
  const bool works = Works(small.verdict);
  const bool fails = !Works(large.verdict);
  std::ostringstream line;
  line << label << ": λ = " << FormatCompact(small.lambda) << " "
       << (works ? "works" : "does not work") << " (" << small.verdict << ", max abs err "
       << FormatScientific(small.error.abs, 1) << ", y0 rec " << Y0Rec(small)
       << "), λ = " << FormatCompact(large.lambda) << " " << (fails ? "fails" : "works") << " ("
       << large.verdict << ", y0 rec " << Y0Rec(large) << ")"
       << (works && fails ? ": the seed's claim holds" : ": the seed's claim does not hold") << ".";
  return line.str();
}

}  // namespace

std::vector<std::string> DecayFindings(const std::vector<DecayRow>& rows,
                                       const std::vector<MethodSpec>& methods,
                                       const std::vector<double>& lambdas) {
  std::vector<std::string> findings;
  const double small = lambdas.front(), large = lambdas.back();
  for (const MethodSpec& spec : methods) {
    if (spec.gradient != "backsolve_adjoint" || lambdas.size() < 2) continue;
    const DecayRow* at_small = nullptr;
    const DecayRow* at_large = nullptr;
    for (const DecayRow& r : rows) {
      if (r.run.spec.Label() != spec.Label()) continue;
      if (r.lambda == small) at_small = &r;
      if (r.lambda == large) at_large = &r;
    }
    if (at_small && at_large) findings.push_back(ClaimLine(spec.Label(), *at_small, *at_large));
  }
  std::string correct;
  for (const DecayRow& r : rows) {
    if (r.lambda == large && r.verdict == "ok") {
      correct += (correct.empty() ? "" : ", ") + r.run.spec.Label();
    }
  }
  findings.push_back("Correct at λ = " + FormatCompact(large) + ": " +
                     (correct.empty() ? "none" : correct) + ".");
  return findings;
}

// ---------------------------------------------------------------- bench

std::vector<MethodSpec> DecayBenchMethods() {
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

DecayBench RunDecayBench(const std::vector<double>& lambdas, double ok_tol, int repetitions) {
  DecayBench bench;
  bench.methods = SupportedOnly(DecayBenchMethods(), &bench.notes);
  // Timed as users get a gradient: without the tolerance check's second solve.
  for (MethodSpec& spec : bench.methods) spec.options.tolerance_check = false;
  for (const double lambda : lambdas) bench.problems.push_back(DecayStudyProblem(lambda));
  for (const double lambda : lambdas) bench.problems.push_back(TwoRateStudyProblem(lambda));
  for (std::size_t p = 0; p < bench.problems.size(); ++p) {
    for (const MethodSpec& spec : bench.methods) bench.cells.push_back({p, spec, {}, {}});
  }
  // Each repetition runs the whole sweep, so the per-pair sweep totals are repetitions too.
  for (int rep = 0; rep < repetitions; ++rep) {
    std::map<std::string, double> total;
    for (DecayBenchCell& cell : bench.cells) {
      const StudyProblem& problem = bench.problems[cell.problem];
      // The decay is judged with the absolute part on every component, the two-rate decay
      // relatively.
      cell.last = Evaluate(problem, cell.spec, ok_tol, kGradientAbsTol);
      cell.seconds.push_back(cell.last.run.seconds);
      total[problem.name + "|" + cell.spec.Label()] += cell.last.run.seconds;
      // A solve stopped by the NaN/Inf check has a non-finite result, not a crash.
      if (cell.last.run.threw && cell.last.run.message.find("NaN/Inf") != std::string::npos) {
        cell.last.status = "non-finite";
      }
    }
    for (const auto& [key, seconds] : total) bench.sweep_seconds[key].push_back(seconds);
  }
  return bench;
}

std::string SweepNote(const DecayBench& bench, const std::string& problem, const std::string& label,
                      bool* finished) {
  std::string note;
  *finished = true;
  for (const DecayBenchCell& cell : bench.cells) {
    const StudyProblem& p = bench.problems[cell.problem];
    if (p.name != problem || cell.spec.Label() != label) continue;
    *finished = *finished && cell.last.status != "failed";
    note += (note.empty() ? "" : ", ") + std::string("λ=") + FormatCompact(p.lambda) + " " +
            cell.last.status;
  }
  return note;
}

}  // namespace snode
