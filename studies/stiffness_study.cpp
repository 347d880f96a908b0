#include "studies/stiffness_study.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <utility>

#include "adjoint/finite_difference.hpp"
#include "integrators/integrator.hpp"
#include "optim/adam.hpp"
#include "problems/nonnormal_linear.hpp"
#include "problems/robertson.hpp"
#include "problems/stiff_neural.hpp"
#include "studies/report.hpp"
#include "studies/stiffness_report.hpp"

namespace snode {

const std::set<std::string>& StiffnessProblemNames() {
  static const std::set<std::string> names = {"w1", "w1b", "robertson", "neural", "nonnormal"};
  return names;
}

// ---------------------------------------------------------------- method matrices

std::vector<MethodSpec> StiffDecayMethods() {
  return {
      MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3),
      MakeMethod("bptt", "dopri5", 1e-6, 1e-6),
      MakeMethod("bptt", "dopri5", 1e-9, 1e-9),
      MakeMethod("bptt", "backward_euler", 1e-6, 1e-8, 1e-3),
      MakeMethod("bptt", "sdirk", 1e-10, 1e-12),
      MakeMethod("bptt", "epi2", 1e-10, 1e-12),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-9, 1e-9),
      MakeMethod("backsolve_adjoint", "sdirk", 1e-10, 1e-12),
      MakeMethod("backsolve_adjoint", "cvodes_bdf", 1e-10, 1e-12),
      MakeMethod("backsolve_adjoint", "epi2", 1e-10, 1e-12),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-8),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12),
      WithBackward(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12), "epi2"),
  };
}

std::vector<MethodSpec> RobertsonMethods() {
  std::vector<MethodSpec> specs = {
      MakeMethod("bptt", "dopri5", 1e-8, 1e-14),
      MakeMethod("bptt", "sdirk", 1e-8, 1e-14),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-8, 1e-14),
      MakeMethod("backsolve_adjoint", "sdirk", 1e-8, 1e-14),
      MakeMethod("backsolve_adjoint", "cvodes_bdf", 1e-8, 1e-14),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-12),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14),
      WithBackward(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14), "epi2"),
  };
  // An explicit method needs many steps on the stiff kinetics.
  for (MethodSpec& spec : specs) {
    const IntegratorCapabilities capabilities =
        IntegratorRegistry()
            .Create(spec.integrator, spec.options.integrator_options)
            ->Capabilities();
    if (capabilities.kind == IntegratorKind::kExplicit) {
      spec.options.integrator_options.max_steps = 60000;
    }
  }
  return specs;
}

std::vector<MethodSpec> NeuralMethods() {
  return {
      MakeMethod("bptt", "dopri5", 1e-6, 1e-8),
      MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-2),
      MakeMethod("bptt", "backward_euler", 1e-6, 1e-8, 1e-2),
      MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8),
      MakeMethod("backsolve_adjoint", "sdirk", 1e-6, 1e-8),
      MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-8),
  };
}

MethodSpec WithQuadrature(MethodSpec spec, const std::string& quadrature) {
  spec.options.method_settings.Set("quadrature", quadrature);
  spec.settings += " q=" + quadrature;
  return spec;
}

MethodSpec WithJumpLayer(MethodSpec spec, double backward_rtol, double backward_atol) {
  spec.options.method_settings.Set("jump_layer", "on");
  spec.options.backward_options = spec.options.integrator_options;
  spec.options.backward_options->rtol = backward_rtol;
  spec.options.backward_options->atol = backward_atol;
  spec.settings +=
      " bwd=" + FormatCompact(backward_rtol) + "/" + FormatCompact(backward_atol) + " layer=on";
  return spec;
}

MethodSpec WithoutJumpLayer(MethodSpec spec) {
  spec.options.method_settings.Set("jump_layer", "off");
  spec.settings += " layer=off";
  return spec;
}

std::vector<MethodSpec> RobertsonTargetLadder() {
  auto bdf = [](double rtol, double atol) {
    return MakeMethod("cvodes_adjoint", "cvodes_bdf", rtol, atol);
  };
  return {bdf(1e-6, 1e-12), bdf(1e-7, 1e-13), bdf(1e-8, 1e-14), bdf(1e-9, 1e-15), bdf(1e-10, 1e-16),
          // Gauss–Legendre parameter quadrature instead of the error-controlled CVODES one
          // (Robertson's P = 3 makes "auto" pick the latter), without the jump layer, which
          // "auto" would switch on with the Gauss quadrature.
          WithoutJumpLayer(WithQuadrature(bdf(1e-8, 1e-14), "gauss")),
          WithoutJumpLayer(WithQuadrature(bdf(1e-9, 1e-15), "gauss")),
          // The stiff transient after each observation's jump by exponentials, then BDF.
          WithQuadrature(WithJumpLayer(bdf(1e-8, 1e-14), 1e-9, 1e-15), "gauss"),
          WithJumpLayer(bdf(1e-8, 1e-14), 1e-10, 1e-16),
          WithQuadrature(WithJumpLayer(bdf(1e-9, 1e-15), 1e-9, 1e-15), "gauss")};
}

StudyProblem NonNormalStudyProblem(double lambda) {
  problems::ProblemSetup setup = problems::NonNormalLinearProblem(lambda, 1.0);
  StudyProblem problem;
  problem.name = "nonnormal";
  problem.lambda = lambda;
  problem.exact = *setup.exact_gradient;
  problem.setup = std::move(setup);
  return problem;
}

// ---------------------------------------------------------------- Robertson

StudyProblem RobertsonStudyProblem(double horizon, bool sum_of_observations) {
  StudyProblem problem;
  problem.name = "W5 T=" + FormatCompact(horizon) + (sum_of_observations ? " sum" : "");
  problem.setup =
      sum_of_observations ? problems::MakeRobertsonSum(horizon) : problems::MakeRobertson(horizon);
  return problem;
}

StudyReference DescribeReference(const problems::RobertsonReference& reference, Index p) {
  StudyReference ref;
  ref.lambda = reference.spectral_radius;
  const Vector& fd = reference.finite_difference;
  if (reference.adjoint.size() > 0) {
    ref.ok = true;
    ref.gradient = reference.adjoint;
    ref.description = "reference: cvodes_adjoint/cvodes_bdf rtol=1e-12,atol=1e-20";
    if (fd.size() == ref.gradient.size()) {
      // dL/dk only: perturbing z0 = (1, 0, 0) by ±h makes y2, y3 negative.
      const GradientError diff = CompareGradient(fd.head(p), ref.gradient.head(p));
      ref.description += "; central differences of cvodes_bdf (rtol=1e-12) agree on dL/dk to " +
                         FormatScientific(diff.rel, 1) + " relative";
    } else if (!reference.fd_message.empty()) {
      ref.description +=
          "; finite-difference cross-check failed: " + Shorten(reference.fd_message, 80);
    }
  } else if (fd.size() > 0) {
    ref.ok = true;
    ref.gradient = fd;
    ref.description = "reference: central differences of " + reference.fd_integrator +
                      " at rtol=1e-12,atol=1e-20 (cvodes_adjoint unavailable: " +
                      Shorten(reference.adjoint_message, 60) + ")";
  } else {
    ref.description = "no reference gradient: " + Shorten(reference.fd_message, 100);
  }
  return ref;
}

StudyReference ComputeStudyReference(const StudyProblem& problem) {
  return DescribeReference(problems::ComputeRobertsonReference(problem.setup),
                           problem.setup.ode.theta.size());
}

// ---------------------------------------------------------------- neural ODE on stiff data

namespace {

// One tight solve of the loss, so every method is judged by the same ruler (each training loss
// is measured with the method's own discretisation). NaN when it fails.
double Rescore(const OdeProblem& problem, const Loss& loss) {
  const std::string scorer = IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "dopri5";
  try {
    IntegratorOptions tight;
    tight.rtol = 1e-10;
    tight.atol = 1e-12;
    auto integrator = IntegratorRegistry().Create(scorer, tight);
    return EvaluateLoss(problem, loss, *integrator);
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

}  // namespace

NeuralRecord TrainNeural(const MethodSpec& spec, const problems::ProblemSetup& setup,
                         int iterations, double lr, bool quiet) {
  NeuralRecord record;
  record.spec = spec;
  OdeProblem problem = setup.ode;
  AdamOptions adam_options;
  adam_options.lr = lr;
  Adam adam(problem.theta.size(), adam_options);
  ProgressLine progress("neural " + spec.Label(), iterations, quiet);
  const auto start = std::chrono::steady_clock::now();
  try {
    auto method = GradientRegistry().Create(spec.gradient, spec.options);
    for (int it = 1; it <= iterations; ++it) {
      const LossAndGradient result = method->Compute(problem, *setup.loss);
      record.forward_nfe += result.stats.forward_rhs_evals;
      record.backward_nfe += result.stats.backward_rhs_evals;
      record.vjp += result.stats.vjp_evals;
      record.losses.push_back(result.loss);
      if (!std::isfinite(result.loss) || !result.dtheta.allFinite()) {
        record.status = "non-finite";
        record.message = "at iteration " + std::to_string(it);
        break;
      }
      adam.Step(problem.theta, result.dtheta);
      progress.Update(it, result.loss, record.forward_nfe + record.backward_nfe);
    }
  } catch (const std::exception& e) {
    record.status = "failed";
    record.message = "at iteration " + std::to_string(record.losses.size() + 1) + ": " + e.what();
  }
  progress.Finish();
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  record.rescored = Rescore(problem, *setup.loss);
  return record;
}

// ---------------------------------------------------------------- the study

namespace {

// --check-gradients: central differences of a tight BDF solve against the exact gradient.
std::string CheckGradientsNote(const StudyProblem& problem) {
  GradientOptions fd_options;
  fd_options.integrator = "cvodes_bdf";
  fd_options.integrator_options.rtol = 1e-12;
  fd_options.integrator_options.atol = 1e-20;
  fd_options.integrator_options.max_steps = 1000000;
  const std::string head =
      "check-gradients " + problem.name + " λ=" + FormatCompact(problem.lambda);
  try {
    const LossAndGradient fd =
        CentralDifferenceGradient(problem.setup.ode, *problem.setup.loss, fd_options);
    Vector g(fd.dtheta.size() + fd.dz0.size());
    g << fd.dtheta, fd.dz0;
    const GradientError e = CompareGradient(g, problem.exact);
    return head + ": central differences (cvodes_bdf rtol=1e-12, atol=1e-20) vs exact: rel " +
           FormatScientific(e.rel, 1) + ", abs " + FormatScientific(e.abs, 1);
  } catch (const std::exception& e) {
    return head + ": finite differences failed: " + Shorten(e.what(), 80);
  }
}

// The λ sweep of one decay problem ("w1" or "w1b") over methods; prints its table.
void RunDecaySweep(const std::string& name, const StiffnessOptions& options,
                   const std::vector<MethodSpec>& methods, StiffnessResults& results,
                   std::ostream& out) {
  std::vector<GradientRecord> records;
  ProgressLine progress("sweep " + name, static_cast<long>(options.lambdas.size() * methods.size()),
                        options.quiet);
  long done = 0;
  for (const double lambda : options.lambdas) {
    const StudyProblem problem =
        name == "w1" ? DecayStudyProblem(lambda) : TwoRateStudyProblem(lambda);
    for (const MethodSpec& spec : methods) {
      records.push_back(Evaluate(problem, spec, options.ok_tol, kGradientAbsTol));
      progress.Update(++done, records.back().error.rel, records.back().run.stats.forward_rhs_evals);
    }
    if (options.check_gradients) results.notes.push_back(CheckGradientsNote(problem));
  }
  progress.Finish();
  PrintProblemTable(name == "w1" ? DecayTableTitle() : TwoRateTableTitle(), records, out);
  results.records.insert(results.records.end(), records.begin(), records.end());
}

void RunRobertson(const StiffnessOptions& options, StiffnessResults& results, std::ostream& out) {
  const std::vector<MethodSpec> methods =
      SupportedOnly(SelectMethods(RobertsonMethods(), options.overrides), &results.notes);
  std::vector<GradientRecord> records;
  std::vector<std::string> descriptions;
  for (const double horizon : options.robertson_horizons) {
    StudyProblem problem = RobertsonStudyProblem(horizon, false);
    const StudyReference reference = ComputeStudyReference(problem);
    problem.lambda = reference.lambda;
    descriptions.push_back(problem.name + " (λ = |eig(∂f/∂y)|max at T = " +
                           FormatCompact(reference.lambda) + "): " + reference.description);
    if (!reference.ok) continue;
    problem.exact = reference.gradient;
    for (const MethodSpec& spec : methods) {
      GradientRecord record = Evaluate(problem, spec, options.ok_tol, kGradientAbsTol);
      record.reference = reference.description;
      records.push_back(std::move(record));
    }
  }
  PrintProblemTable(RobertsonTableTitle(), records, out);
  for (const std::string& d : descriptions) out << "  " << d << "\n";
  results.records.insert(results.records.end(), records.begin(), records.end());
}

// The 4 × 4 non-normal system at its fixed stiffness, over the decay methods.
void RunNonNormal(const StiffnessOptions& options, const std::vector<MethodSpec>& methods,
                  StiffnessResults& results, std::ostream& out) {
  std::vector<GradientRecord> records;
  const StudyProblem problem = NonNormalStudyProblem(kNonNormalStiffness);
  for (const MethodSpec& spec : methods) {
    records.push_back(Evaluate(problem, spec, options.ok_tol, kGradientAbsTol));
  }
  PrintProblemTable(NonNormalTableTitle(), records, out);
  results.records.insert(results.records.end(), records.begin(), records.end());
}

void RunNeural(const StiffnessOptions& options, StiffnessResults& results, std::ostream& out) {
  const problems::ProblemSetup setup =
      problems::MakeStiffNeural(options.neural_lambda, options.seed);
  const std::vector<MethodSpec> methods =
      SupportedOnly(SelectMethods(NeuralMethods(), options.overrides), &results.notes);
  for (const MethodSpec& spec : methods) {
    results.neural.push_back(
        TrainNeural(spec, setup, options.neural_iterations, options.neural_lr, options.quiet));
  }
  PrintNeuralTable(options, setup.ode.theta.size(), results.neural, out);
}

// The backsolve adjoint (dopri5, tol 1e-6) reconstructing the decay backward at λ = 100 and 1e4.
void ReconstructPanels(StiffnessResults& results) {
  const MethodSpec spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6);
  std::string reason;
  if (!SupportsCombination(spec, &reason)) {
    results.notes.push_back("no reconstruction plot: " + reason);
    return;
  }
  for (const double lambda : {100.0, 1e4}) {
    const StudyProblem problem = DecayStudyProblem(lambda);
    BacksolvePanel panel;
    panel.lambda = lambda;
    panel.method = spec.integrator + " " + spec.settings;
    auto integrator = IntegratorRegistry().Create(spec.integrator, spec.options.integrator_options);
    try {
      const Trajectory forward = integrator->Solve(problem.setup.ode);
      panel.reconstruction =
          ReconstructBacksolve(spec, problem.setup.ode, *problem.setup.loss, forward.states, 101);
    } catch (const std::exception& e) {
      panel.reconstruction.message = e.what();
    }
    results.panels.push_back(std::move(panel));
  }
}

}  // namespace

StiffnessResults RunStiffnessStudy(const StiffnessOptions& options, std::ostream& out) {
  StiffnessResults results;
  PrintStudyHeader(options, out);
  const std::vector<MethodSpec> decay_methods =
      SupportedOnly(SelectMethods(StiffDecayMethods(), options.overrides), &results.notes);
  for (const std::string name : {"w1", "w1b"}) {
    if (options.problems.count(name)) RunDecaySweep(name, options, decay_methods, results, out);
  }
  if (options.problems.count("nonnormal")) RunNonNormal(options, decay_methods, results, out);
  if (options.problems.count("robertson")) RunRobertson(options, results, out);
  if (options.problems.count("neural")) RunNeural(options, results, out);
  if (options.plots) ReconstructPanels(results);
  results.summary = Summarize(results.records, results.neural, options.ok_tol, options.lambdas);
  PrintSummary(results, out);
  return results;
}

// ---------------------------------------------------------------- summary

namespace {

std::string LambdaList(const std::vector<std::pair<double, std::string>>& items, bool with_status) {
  std::string text;
  for (const auto& [lambda, status] : items) {
    if (!text.empty()) text += ", ";
    text += FormatCompact(lambda);
    if (with_status) text += " (" + status + ")";
  }
  return text;
}

std::string Joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// The lines of one problem; groups[label] holds its records per method, in method order.
std::vector<std::string> SummarizeProblem(
    const std::string& problem, const std::vector<std::string>& labels,
    std::map<std::string, std::vector<const GradientRecord*>>& groups) {
  const bool sweep = problem == "W1" || problem == "W1b";
  std::vector<std::string> always_ok, broken, flags;  // flags: the method flagged itself
  for (const std::string& label : labels) {
    std::vector<std::pair<double, std::string>> bad, good, flagged;
    for (const GradientRecord* r : groups[label]) {
      (r->status == "ok" ? good : bad).emplace_back(r->lambda, r->status);
      const GradientStats& s = r->run.stats;
      if (s.flagged || s.reconstruction_failed) flagged.emplace_back(r->lambda, "");
    }
    if (!flagged.empty() && !bad.empty()) {
      flags.push_back(label + (sweep ? " at λ = " + LambdaList(flagged, false) : ""));
    }
    if (bad.empty()) {
      always_ok.push_back(label);
      continue;
    }
    std::string sentence = label;
    if (sweep) {
      sentence += (good.empty() ? " fails at every λ: " : " fails at λ = ") + LambdaList(bad, true);
      if (!good.empty()) sentence += "; ok at λ = " + LambdaList(good, false);
    } else {
      sentence += " fails (" + bad.front().second + ")";
    }
    broken.push_back(sentence);
  }
  std::vector<std::string> lines;
  const std::string head = problem + ": ";
  if (!always_ok.empty()) {
    lines.push_back(head + "ok" + (sweep ? " at every λ" : "") + ": " + Joined(always_ok, ", ") +
                    ".");
  }
  for (const std::string& sentence : broken) lines.push_back(head + sentence + ".");
  if (!flags.empty()) {
    lines.push_back(head + "the method itself flagged its gradient (" + Joined(flags, "; ") + ").");
  }
  return lines;
}

}  // namespace

std::vector<std::string> SummarizeProblems(const std::vector<GradientRecord>& records) {
  std::vector<std::string> problem_order;
  std::map<std::string, std::vector<std::string>> method_order;
  std::map<std::string, std::map<std::string, std::vector<const GradientRecord*>>> groups;
  for (const GradientRecord& r : records) {
    if (std::find(problem_order.begin(), problem_order.end(), r.problem) == problem_order.end()) {
      problem_order.push_back(r.problem);
    }
    auto& methods = method_order[r.problem];
    const std::string label = r.run.spec.Label();
    if (std::find(methods.begin(), methods.end(), label) == methods.end()) methods.push_back(label);
    groups[r.problem][label].push_back(&r);
  }
  std::vector<std::string> lines;
  for (const std::string& problem : problem_order) {
    const auto problem_lines = SummarizeProblem(problem, method_order[problem], groups[problem]);
    lines.insert(lines.end(), problem_lines.begin(), problem_lines.end());
  }
  return lines;
}

std::vector<std::string> SummarizeHeadline(const std::vector<GradientRecord>& records,
                                           double ok_tol, const std::vector<double>& lambdas) {
  const double lambda_max = lambdas.empty() ? 0.0 : lambdas.back();
  std::vector<std::string> accurate, wrong;
  for (const GradientRecord& r : records) {
    if (r.problem != "W1b" || r.lambda != lambda_max) continue;
    if (r.run.Finite() && r.error.rel <= 1e-6) {
      accurate.push_back(r.run.spec.Label() + " (" + FormatScientific(r.error.rel, 1) + ")");
    } else if (r.status != "ok") {
      wrong.push_back(r.run.spec.Label() + " (" +
                      (r.run.Finite() ? FormatScientific(r.error.rel, 1) : r.status) + ")");
    }
  }
  std::vector<std::string> lines;
  if (accurate.empty() && wrong.empty()) return lines;
  const std::string a = Joined(accurate, ", "), w = Joined(wrong, ", ");
  lines.push_back("At λ = " + FormatCompact(lambda_max) + " on W1b, gradients within 1e-6 " +
                  "relative: " + (a.empty() ? "none" : a) + ".");
  if (!w.empty()) {
    lines.push_back("At λ = " + FormatCompact(lambda_max) + " on W1b, not usable (rel err > " +
                    FormatCompact(ok_tol) + " or no number): " + w + ".");
  }
  return lines;
}

std::vector<std::string> SummarizeNeural(const std::vector<NeuralRecord>& neural) {
  std::vector<std::string> lines;
  if (neural.empty()) return lines;
  const NeuralRecord* best = nullptr;
  std::string failed;
  for (const NeuralRecord& n : neural) {
    if (n.status != "ok") {
      failed += (failed.empty() ? "" : ", ") + n.spec.Label() + " (" + n.status + ")";
    } else if (std::isfinite(n.rescored) && (!best || n.rescored < best->rescored)) {
      best = &n;
    }
  }
  if (best) {
    lines.push_back("Neural ODE: lowest re-scored loss after training: " + best->spec.Label() +
                    " (" + FormatScientific(best->rescored, 3) + ", " +
                    FormatSeconds(best->seconds) + ").");
  }
  if (!failed.empty()) lines.push_back("Neural ODE: training broke down with " + failed + ".");
  return lines;
}

std::vector<std::string> Summarize(const std::vector<GradientRecord>& records,
                                   const std::vector<NeuralRecord>& neural, double ok_tol,
                                   const std::vector<double>& lambdas) {
  std::vector<std::string> lines = SummarizeProblems(records);
  for (const auto& part : {SummarizeHeadline(records, ok_tol, lambdas), SummarizeNeural(neural)}) {
    lines.insert(lines.end(), part.begin(), part.end());
  }
  return lines;
}

std::string PanelSummary(const BacksolvePanel& panel) {
  const Reconstruction& rec = panel.reconstruction;
  std::string line = "- Backsolve reconstruction of W1 at λ = " + FormatCompact(panel.lambda) +
                     " (" + panel.method + "): ";
  if (rec.complete) {
    line += "z_rec(0) = " + FormatScientific(rec.states.back()(0), 3) + " (exact 1)";
  } else if (!rec.times.empty()) {
    line += "broke down before t = " + FormatNumber(rec.times.back(), 3) + " (" +
            Shorten(rec.message, 70) + ")";
  } else {
    line += "no data (" + Shorten(rec.message, 70) + ")";
  }
  return line;
}

// ---------------------------------------------------------------- bench

namespace {

// The Robertson methods plus the ladder rungs they lack, BPTT first (stable by gradient name).
std::vector<MethodSpec> BenchMethods(const MethodOverrides& overrides,
                                     std::vector<std::string>* notes) {
  std::vector<MethodSpec> specs = RobertsonMethods();
  for (const MethodSpec& rung : RobertsonTargetLadder()) {
    bool present = false;
    for (const MethodSpec& spec : specs) present = present || spec.Label() == rung.Label();
    if (!present) specs.push_back(rung);
  }
  std::stable_sort(specs.begin(), specs.end(), [](const MethodSpec& a, const MethodSpec& b) {
    return a.gradient < b.gradient;
  });
  return SupportedOnly(SelectMethods(std::move(specs), overrides), notes);
}

// Both losses per horizon with their references (λ = T); problems without one are dropped.
void AddBenchProblems(const std::vector<double>& horizons, RobertsonBench& bench) {
  for (const double horizon : horizons) {
    for (const bool sum : {false, true}) {
      StudyProblem problem = RobertsonStudyProblem(horizon, sum);
      if (!sum) problem.name += " final";
      const StudyReference reference = ComputeStudyReference(problem);
      bench.references.push_back(problem.name + ": " + reference.description);
      if (!reference.ok) continue;
      problem.exact = reference.gradient;
      problem.lambda = horizon;
      bench.problems.push_back(std::move(problem));
    }
  }
}

}  // namespace

RobertsonBench RunRobertsonBench(const StiffnessOptions& options, int repetitions) {
  RobertsonBench bench;
  std::set<std::string> ladder;
  for (const MethodSpec& rung : RobertsonTargetLadder()) ladder.insert(rung.Label());
  const std::vector<MethodSpec> methods = BenchMethods(options.overrides, &bench.notes);
  AddBenchProblems(options.robertson_horizons, bench);
  for (std::size_t p = 0; p < bench.problems.size(); ++p) {
    for (const MethodSpec& spec : methods) {
      RobertsonBenchCell cell;
      cell.problem = p;
      cell.spec = spec;
      // Timed as users get a gradient: without the tolerance check's second solve.
      cell.spec.options.tolerance_check = false;
      cell.ladder = ladder.count(spec.Label()) != 0;
      bench.cells.push_back(std::move(cell));
    }
  }
  for (int rep = 0; rep < repetitions; ++rep) {
    for (RobertsonBenchCell& cell : bench.cells) {
      const StudyProblem& problem = bench.problems[cell.problem];
      cell.last = Evaluate(problem, cell.spec, options.ok_tol, kGradientAbsTol);
      cell.seconds.push_back(cell.last.run.seconds);
      if (cell.last.run.Finite()) {
        const Index p = problem.setup.ode.theta.size();
        cell.dk_rel = CompareGradient(cell.last.run.gradient.head(p), problem.exact.head(p)).rel;
      }
    }
  }
  return bench;
}

std::vector<std::size_t> TargetRungs(const RobertsonBench& bench,
                                     const std::vector<double>& medians) {
  const auto& cells = bench.cells;
  std::vector<std::size_t> targets;
  for (std::size_t first = 0; first < cells.size();) {
    std::size_t last = first;
    while (last < cells.size() && cells[last].problem == cells[first].problem) ++last;
    if (bench.problems[cells[first].problem].lambda >= 1e5) {
      std::size_t chosen = cells.size();
      for (std::size_t i = first; i < last; ++i) {
        if (!cells[i].ladder) continue;
        const bool accurate = std::isfinite(cells[i].dk_rel) && cells[i].dk_rel <= 1e-6;
        const bool chosen_accurate = chosen < cells.size() && cells[chosen].dk_rel <= 1e-6;
        if (chosen == cells.size() ||
            (accurate && (!chosen_accurate || medians[i] < medians[chosen])) ||
            (!accurate && !chosen_accurate && cells[i].dk_rel < cells[chosen].dk_rel)) {
          chosen = i;
        }
      }
      if (chosen < cells.size()) targets.push_back(chosen);
    }
    first = last;
  }
  return targets;
}

}  // namespace snode
