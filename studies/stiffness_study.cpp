#include "studies/stiffness_study.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "adjoint/finite_difference.hpp"
#include "integrators/integrator.hpp"
#include "optim/adam.hpp"
#include "problems/nonnormal_linear.hpp"
#include "problems/reference.hpp"
#include "problems/robertson.hpp"
#include "problems/stiff_neural.hpp"
#include "studies/record_transfer.hpp"
#include "studies/report.hpp"
#include "studies/stiffness_report.hpp"
#include "studies/study_report.hpp"
#include "studies/thread_pool.hpp"

namespace snode {

// ---------------------------------------------------------------- method matrices

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
      ref.description += "; finite-difference cross-check failed: " + reference.fd_message;
    }
  } else if (fd.size() > 0) {
    ref.ok = true;
    ref.gradient = fd;
    ref.description =
        "reference: central differences of " + reference.fd_integrator +
        " at rtol=1e-12,atol=1e-20 (cvodes_adjoint unavailable: " + reference.adjoint_message + ")";
  } else {
    ref.description = "no reference gradient: " + reference.fd_message;
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
    const GradientError e = CompareGradient(fd.Joined(), problem.exact);
    return head + ": central differences (cvodes_bdf rtol=1e-12, atol=1e-20) vs exact: rel " +
           FormatScientific(e.rel, 1) + ", abs " + FormatScientific(e.abs, 1);
  } catch (const std::exception& e) {
    return head + ": finite differences failed: " + e.what();
  }
}

// One problem at one λ, made and given its exact or reference gradient.
struct Instance {
  std::size_t problem = 0;  // index into the studied problems
  double lambda = 0.0;
  bool ok = false;
  std::string failure;  // why it could not be run
  StudyProblem study;
  std::string reference = "exact";
  std::string note;  // --check-gradients
};

void MakeInstance(const problems::ProblemDefinition& definition,
                  const problems::ProblemCapabilities& capabilities, bool check_gradients,
                  Instance& instance) {
  try {
    problems::ProblemSetup setup = definition.Make(instance.lambda);
    StudyProblem& study = instance.study;
    study.lambda = instance.lambda;
    study.abs_for_all = capabilities.judge_absolute;
    if (capabilities.exact_gradient && setup.exact_gradient) {
      study.exact = *setup.exact_gradient;
    } else {
      const problems::ReferenceGradient reference = problems::ComputeReference(setup, capabilities);
      instance.reference = reference.description;
      if (!reference.ok) {
        instance.failure = reference.description;
        return;
      }
      study.exact = reference.gradient;
    }
    study.setup = std::move(setup);
    instance.ok = true;
    if (check_gradients && capabilities.exact_gradient) instance.note = CheckGradientsNote(study);
  } catch (const std::exception& e) {
    instance.failure = e.what();
  }
}

// One gradient run: an instance and a method.
struct Job {
  std::size_t instance = 0;
  MethodSpec spec;
};

// Prints a one-line progress bar on stderr when it is a terminal.
class ProgressBar {
 public:
  ProgressBar(std::size_t total, bool quiet)
      : total_(total),
        enabled_(!quiet && ::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { Finish(); }
  void Update(std::size_t done) {
    if (!enabled_ || total_ == 0) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / total_);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::cerr << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
              << done << "/" << total_ << " runs, " << FormatSeconds(elapsed) << std::flush;
    open_ = true;
  }
  void Finish() {
    if (open_) std::cerr << "\r\x1b[K" << std::flush;
    open_ = false;
  }

 private:
  std::size_t total_;
  bool enabled_;
  bool open_ = false;
  std::chrono::steady_clock::time_point start_;
};

// The methods of one instance: the recipes instantiated against it, the command line's overrides
// applied, and (check_support: the problem's first instance) unsupported combinations dropped
// with a note; later instances keep the labels the first one kept.
std::vector<MethodSpec> MethodsFor(const StiffnessOptions& options, const StudyPreset& preset,
                                   const problems::ProblemCapabilities& capabilities,
                                   const OdeProblem& problem, std::vector<std::string>* notes,
                                   bool check_support) {
  const std::vector<MethodRecipe>& recipes =
      options.methods.empty() ? preset.methods : options.methods;
  const std::vector<double>& tolerances =
      options.tolerances.empty() ? preset.tolerances : options.tolerances;
  std::vector<MethodSpec> specs = SelectMethods(
      InstantiateRecipes(recipes, tolerances, capabilities, problem, options.max_steps),
      options.overrides);
  // Explicit settings (--rtol, --step) can make two recipes the same method: run it once.
  std::vector<MethodSpec> unique;
  for (MethodSpec& spec : specs) {
    const bool seen = std::any_of(unique.begin(), unique.end(),
                                  [&](const MethodSpec& u) { return u.Label() == spec.Label(); });
    if (!seen) unique.push_back(std::move(spec));
  }
  return check_support ? SupportedOnly(unique, notes) : unique;
}

// A fixed shuffle of 0..count−1 dealt to the ranks: rank r gets the positions ≡ r modulo the
// rank count, ascending. Runs differ a lot in cost and neighbours in the plan are alike (one
// problem, λ ascending), so dealing the plan in order would load the ranks unevenly. One rank:
// everything, in order. The shuffle is mt19937_64's (a standard sequence), the same on every rank.
std::vector<std::size_t> DealToRank(std::size_t count, const GradientReducer& ranks) {
  std::vector<std::size_t> order(count);
  for (std::size_t i = 0; i < count; ++i) order[i] = i;
  if (ranks.size() == 1) return order;
  std::mt19937_64 random(22);  // a fixed seed: every rank deals the same way
  for (std::size_t i = count; i > 1; --i) std::swap(order[i - 1], order[random() % i]);
  std::vector<std::size_t> mine;
  for (std::size_t p = static_cast<std::size_t>(ranks.rank()); p < count; p += ranks.size()) {
    mine.push_back(order[p]);
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

// The problems of the study and one (not yet made) instance per problem and λ.
std::vector<Instance> DefineInstances(
    const StiffnessOptions& options, const StudyPreset& preset, StiffnessResults& results,
    std::vector<std::unique_ptr<problems::ProblemDefinition>>& definitions) {
  std::vector<Instance> instances;
  problems::ProblemOptions problem_options;
  problem_options.seed = options.seed;
  for (const std::string& name : SelectedProblems(options)) {
    definitions.push_back(problems::ProblemRegistry().Create(name, problem_options));
    StudiedProblem studied;
    studied.name = name;
    studied.capabilities = definitions.back()->Capabilities();
    studied.lambdas = SweepFor(studied.capabilities, options.lambdas, preset.extra_decades);
    if (studied.lambdas.empty()) {
      results.notes.push_back(name + ": no λ of the grid is ≥ its smallest " +
                              studied.capabilities.parameter + " (" +
                              FormatCompact(studied.capabilities.min_lambda) + "); not run");
    }
    for (const double lambda : studied.lambdas) {
      Instance instance;
      instance.problem = results.problems.size();
      instance.lambda = lambda;
      instance.study.name = name;
      instances.push_back(std::move(instance));
    }
    results.problems.push_back(std::move(studied));
  }
  return instances;
}

// What the other ranks need of an instance this rank made: the outcome, the reference and its
// description, the note; the problem itself each rank makes again (cheap and deterministic).
void WriteInstance(ByteWriter& out, std::size_t index, const Instance& instance) {
  out.Integer(static_cast<std::int64_t>(index));
  out.Bool(instance.ok);
  out.Text(instance.failure);
  out.Text(instance.reference);
  out.Numbers(instance.study.exact);
  out.Text(instance.note);
}

// Reads the instances another rank made into `instances`, marks them in `made` and returns their
// indices. An index out of range or made twice is an InputError.
std::vector<std::size_t> ReadInstances(const std::string& bytes, std::vector<Instance>& instances,
                                       std::vector<bool>& made) {
  ByteReader in(bytes, "a rank's problem instances");
  std::vector<std::size_t> read;
  while (!in.AtEnd()) {
    const std::int64_t index = in.Integer();
    if (index < 0 || static_cast<std::size_t>(index) >= instances.size() || made[index]) {
      throw InputError("a rank sent instance " + std::to_string(index) + " of " +
                       std::to_string(instances.size()) + " (out of range or twice)");
    }
    made[index] = true;
    Instance& instance = instances[static_cast<std::size_t>(index)];
    instance.ok = in.Bool();
    instance.failure = in.Text();
    instance.reference = in.Text();
    instance.study.exact = in.Numbers();
    instance.note = in.Text();
    read.push_back(static_cast<std::size_t>(index));
  }
  return read;
}

// Over ranks: every rank makes its deal of the instances (the references are the expensive part),
// then all share the outcomes and make the problems of the others' instances again.
void ShareInstances(const std::vector<std::size_t>& mine, const StiffnessOptions& options,
                    const StiffnessResults& results,
                    const std::vector<std::unique_ptr<problems::ProblemDefinition>>& definitions,
                    GradientReducer& ranks, std::vector<Instance>& instances) {
  ByteWriter out;
  std::vector<bool> made(instances.size(), false);
  for (const std::size_t i : mine) {
    WriteInstance(out, i, instances[i]);
    made[i] = true;
  }
  const std::vector<std::string> shares = GatherToAll(ranks, out.bytes());
  std::vector<std::size_t> theirs;
  for (int r = 0; r < ranks.size(); ++r) {
    if (r == ranks.rank()) continue;
    const std::vector<std::size_t> read = ReadInstances(shares[r], instances, made);
    theirs.insert(theirs.end(), read.begin(), read.end());
  }
  const auto missing = std::count(made.begin(), made.end(), false);
  if (missing > 0)
    throw InputError(std::to_string(missing) + " problem instances came from no rank");
  ParallelFor(theirs.size(), options.threads, [&](std::size_t k) {
    Instance& instance = instances[theirs[k]];
    if (!instance.ok) return;
    const problems::ProblemCapabilities& capabilities =
        results.problems[instance.problem].capabilities;
    instance.study.setup = definitions[instance.problem]->Make(instance.lambda);
    instance.study.lambda = instance.lambda;
    instance.study.abs_for_all = capabilities.judge_absolute;
  });
}

// The problems and their instances (made in parallel, and over the ranks).
std::vector<Instance> MakeInstances(const StiffnessOptions& options, const StudyPreset& preset,
                                    StiffnessResults& results, GradientReducer& ranks) {
  std::vector<std::unique_ptr<problems::ProblemDefinition>> definitions;
  std::vector<Instance> instances = DefineInstances(options, preset, results, definitions);
  const std::vector<std::size_t> mine = DealToRank(instances.size(), ranks);
  ParallelFor(mine.size(), options.threads, [&](std::size_t k) {
    Instance& instance = instances[mine[k]];
    MakeInstance(*definitions[instance.problem], results.problems[instance.problem].capabilities,
                 options.check_gradients, instance);
  });
  if (ranks.size() > 1) ShareInstances(mine, options, results, definitions, ranks, instances);
  for (const Instance& instance : instances) {
    StudiedProblem& studied = results.problems[instance.problem];
    studied.references.push_back(instance.ok ? instance.reference : "none: " + instance.failure);
    if (!instance.ok) {
      results.notes.push_back(studied.name + " at " + studied.capabilities.parameter + " = " +
                              FormatCompact(instance.lambda) + " not run: " + instance.failure);
    }
    if (!instance.note.empty()) results.notes.push_back(instance.note);
  }
  return instances;
}

// Every (instance × method) run, in problem, λ, method order.
std::vector<Job> PlanJobs(const StiffnessOptions& options, const StudyPreset& preset,
                          const std::vector<Instance>& instances, StiffnessResults& results) {
  std::vector<Job> jobs;
  std::vector<bool> planned(results.problems.size(), false);
  for (std::size_t i = 0; i < instances.size(); ++i) {
    const Instance& instance = instances[i];
    if (!instance.ok) continue;
    StudiedProblem& studied = results.problems[instance.problem];
    // Instantiated per λ (a fixed step follows the span, Robertson's T); which methods the
    // problem supports is decided at its first λ.
    const std::vector<MethodSpec> methods =
        MethodsFor(options, preset, studied.capabilities, instance.study.setup.ode, &results.notes,
                   !planned[instance.problem]);
    if (!planned[instance.problem]) {
      for (const MethodSpec& spec : methods) studied.methods.push_back(spec.Label());
      planned[instance.problem] = true;
    }
    for (const MethodSpec& spec : methods) {
      const auto& labels = studied.methods;
      if (std::find(labels.begin(), labels.end(), spec.Label()) != labels.end()) {
        jobs.push_back({i, spec});
      }
    }
  }
  return jobs;
}

// Rank 0: every rank's records put at their job's index; other ranks: nothing. A share that
// does not read back, or a job missing or sent twice, is an InputError.
std::vector<GradientRecord> GatherRecords(const std::vector<std::size_t>& mine,
                                          std::vector<GradientRecord>& records,
                                          std::size_t job_count, GradientReducer& ranks) {
  ByteWriter out;
  for (std::size_t k = 0; k < mine.size(); ++k) {
    out.Integer(static_cast<std::int64_t>(mine[k]));
    WriteRecord(out, records[k]);
  }
  const std::vector<std::string> shares = ranks.Gather(out.bytes(), 0);
  if (ranks.rank() != 0) return {};
  std::vector<GradientRecord> all(job_count);
  std::vector<bool> placed(job_count, false);
  for (const std::string& share : shares) {
    ByteReader in(share, "a rank's gradient records");
    while (!in.AtEnd()) {
      const std::int64_t j = in.Integer();
      if (j < 0 || static_cast<std::size_t>(j) >= job_count || placed[j]) {
        throw InputError("a rank sent the record of run " + std::to_string(j) + " of " +
                         std::to_string(job_count) + " (out of range or twice)");
      }
      all[j] = ReadRecord(in);
      placed[j] = true;
    }
  }
  const auto missing = std::count(placed.begin(), placed.end(), false);
  if (missing > 0) throw InputError(std::to_string(missing) + " runs came back from no rank");
  return all;
}

// Runs this rank's deal of the jobs on the pool, each on its own copy of the field (fields keep
// workspaces). Rank 0 returns the records of all jobs in job order, the other ranks nothing.
std::vector<GradientRecord> RunJobs(const StiffnessOptions& options,
                                    const std::vector<Instance>& instances,
                                    const std::vector<Job>& jobs, const StiffnessResults& results,
                                    GradientReducer& ranks) {
  const std::vector<std::size_t> mine = DealToRank(jobs.size(), ranks);
  std::vector<GradientRecord> records(mine.size());
  ProgressBar progress(mine.size(), options.quiet || ranks.rank() != 0);
  ParallelFor(
      mine.size(), options.threads,
      [&](std::size_t k) {
        const Job& job = jobs[mine[k]];
        const Instance& instance = instances[job.instance];
        StudyProblem problem = instance.study;
        problem.setup.ode.field = problem.setup.ode.field->Clone();
        GradientRecord record = Evaluate(problem, job.spec, options.ok_tol, kGradientAbsTol);
        record.parameter = results.problems[instance.problem].capabilities.parameter;
        record.reference = instance.reference;
        records[k] = std::move(record);
      },
      [&](std::size_t done) { progress.Update(done); });
  progress.Finish();
  if (ranks.size() == 1) return records;
  return GatherRecords(mine, records, jobs.size(), ranks);
}

// The neural training table: every trainable problem at its first λ, with the problem's
// fixed-step methods and its adaptive ones at the loosest tolerance.
void TrainProblems(const StiffnessOptions& options, const std::vector<Instance>& instances,
                   const std::vector<Job>& jobs, StiffnessResults& results) {
  double loosest = 0.0;
  for (const Job& job : jobs) loosest = std::max(loosest, job.spec.options.integrator_options.rtol);
  for (const Job& job : jobs) {
    const Instance& instance = instances[job.instance];
    const StudiedProblem& studied = results.problems[instance.problem];
    if (!studied.capabilities.trainable || instance.lambda != studied.lambdas.front()) continue;
    const IntegratorOptions& io = job.spec.options.integrator_options;
    if (io.fixed_step == 0.0 && io.rtol != loosest) continue;
    MethodSpec spec = job.spec;
    spec.options.tolerance_check = false;  // training uses gradients as users get them
    problems::ProblemSetup setup = instance.study.setup;
    setup.ode.field = setup.ode.field->Clone();
    results.neural.push_back(
        TrainNeural(spec, setup, options.neural_iterations, options.neural_lr, options.quiet));
  }
}

// The backsolve adjoint (dopri5, tol 1e-6) reconstructing the decay backward at λ = 100 and 1e4.
void ReconstructPanels(StiffnessResults& results) {
  const MethodSpec spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6);
  std::string reason;
  if (!SupportsCombination(spec, &reason)) {
    results.notes.push_back("no reconstruction plot: " + reason);
    return;
  }
  for (const double lambda : {100.0, 1e4})
    results.panels.push_back(DecayBacksolvePanel(spec, lambda));
}

}  // namespace

std::vector<std::string> SelectedProblems(const StiffnessOptions& options) {
  std::vector<std::string> names = options.problems;
  if (names.empty()) names = FindPreset(options.preset).problems;
  if (names.empty()) names = problems::ProblemRegistry().Names();
  for (const std::string& name : names) {
    Require(problems::ProblemRegistry().Contains(name),
            "--problems: unknown problem '" + name +
                "'; known: " + problems::ProblemRegistry().KnownNames());
  }
  return names;
}

StiffnessResults RunStiffnessStudy(const StiffnessOptions& options, std::ostream& out,
                                   GradientReducer& ranks) {
  const StudyPreset& preset = FindPreset(options.preset);
  StiffnessResults results;
  results.preset = preset.name;
  results.threads = std::max(1, options.threads);
  const std::vector<Instance> instances = MakeInstances(options, preset, results, ranks);
  const std::vector<Job> jobs = PlanJobs(options, preset, instances, results);
  if (ranks.rank() == 0) {
    PrintStudyHeader(options, results, jobs.size(), out);
    if (ranks.size() > 1) out << "the runs spread over " << ranks.size() << " ranks\n";
  }
  results.records = RunJobs(options, instances, jobs, results, ranks);
  // The training table and the panels are rank 0's, as is everything reported.
  if (ranks.rank() != 0) return results;
  const bool train = options.train_neural < 0 ? preset.train_neural : options.train_neural == 1;
  if (train) TrainProblems(options, instances, jobs, results);
  // The reconstruction panel shows what the methods that measure a reconstruction did.
  const bool reconstructed =
      std::any_of(results.records.begin(), results.records.end(), [](const GradientRecord& r) {
        return r.run.stats.reconstruction_error != 0.0 || r.run.stats.reconstruction_failed;
      });
  if (options.plots && reconstructed) ReconstructPanels(results);
  if (options.tables) {
    for (const StudiedProblem& studied : results.problems) {
      std::vector<GradientRecord> rows;
      for (const GradientRecord& r : results.records) {
        if (r.problem == studied.name) rows.push_back(r);
      }
      const Judging judging{options.ok_tol, kGradientAbsTol, studied.capabilities.judge_absolute};
      PrintProblemTable(studied.name + ": " + studied.capabilities.description, rows, judging, out);
    }
    if (!results.neural.empty()) PrintNeuralTable(options, results.neural, out);
  }
  results.summary = Summarize(results.records, results.neural);
  return results;
}

}  // namespace snode
