// stiffness_study: where each gradient method breaks as a problem gets stiffer.
//
// For a stiffness parameter λ (default 1, 10, 100, 1e3, 1e4) and every pair (gradient method ×
// integrator it accepts) the study computes the gradient of a loss through the ODE solve and
// compares it with the exact (or a tight reference) gradient:
//   W1   dy/dt = −λy, y(0) = 1, L = y(1):  dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ} (underflows for λ ≳
//   745) W1b  z' = diag(−θ₁, −θ₂) z, θ = (1, λ), z(0) = (1, 1), L = Σ_{t∈{1e-3,1e-2,1e-1,1}} z₁ +
//   z₂:
//        dL/dθ₁ = −Σ t e^{−t}, dL/dθ₂ = −Σ t e^{−λt}, dL/dz0 = (Σ e^{−t}, Σ e^{−λt})
//   W5   Robertson kinetics, k = (0.04, 3e7, 1e4), L = y1(T) + 1e4·y2(T), T = 40 and 1e5; the
//        reference gradient is a tight cvodes_adjoint solve, cross-checked by central differences
//        of a tight cvodes_bdf solve (both printed); its "λ" is the spectral radius of ∂f/∂y at T
//   neural  an MLP vector field trained for a few Adam steps on trajectories of the W1b system
//        (λ = --neural-lambda) with each method; training losses compared, final models re-scored
//        by one tight cvodes_bdf solve.
// Reported per run: relative and absolute gradient error, the backsolve's reconstruction error
// ‖z_rec(t0) − z0‖/‖z0‖, forward/backward f evaluations, VJPs and JVPs, wall time, bytes stored
// for the backward pass, and a status (ok / inaccurate / non-finite / failed: message). A solver
// failure in one run is a status, never the end of the study.
//
// Output: tables on stdout grouped by problem, a summary in words computed from the results,
// and in --out: stiffness_results.csv, stiffness_results.json, neural_training.csv, and plots
// (gnuplot → PNG and SVG): gradient_error (W1b relative error vs λ), gradient_error_w1 (W1
// absolute error vs λ), cost (f + VJP + JVP evaluations vs λ on W1b) and
// backsolve_reconstruction (z(t) reconstructed backward by the backsolve adjoint vs the exact
// e^{−λt}, λ = 100 and 1e4).
//
// --bench N: workload W5 of ../shared/docs/workloads.md, N repetitions: dL/dk on [0, T] for
// T = --robertson-horizons (40, 1e5) and both losses, L = y1(T) + 1e4·y2(T) and
// L = Σ (y1 + 1e4·y2) over the 50 log-spaced times in [1e-5, 1e5] (those ≤ T), by every
// Robertson method plus the CVODES adjoint at the tolerance that meets W5's 1e-6; time per
// gradient (median, min, max) and the relative error of dL/dk against the tight reference, as a
// table and <out>/bench.json.

#include <unistd.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "apps/common/app_common.hpp"
#include "apps/common/bench_util.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "optim/adam.hpp"
#include "studies/gradient_study.hpp"

namespace snode::app {
namespace {

// Absolute part of the ok test: on W1 for every component (e^{−λ} lies far below any solver
// tolerance for λ ≳ 30, so only the absolute error is meaningful there), elsewhere only for
// components whose exact value underflows.
constexpr double kAbsTol = 1e-12;
const char* const kUsage =
    "stiffness_study: gradient error and cost of BPTT, the backsolve adjoint and the CVODES\n"
    "adjoint on problems of growing stiffness (W1, W1b, Robertson, a neural ODE on stiff data).\n"
    "usage: stiffness_study [options]      e.g. stiffness_study --lambda-max 1e6 --out results";

// ------------------------------------------------------------------ configuration

struct StudyOptions {
  CommonOptions common;
  std::vector<double> lambdas;
  std::set<std::string> problems;
  double ok_tol = 1e-3;
  std::vector<double> robertson_horizons;
  int neural_iterations = 30;
  double neural_lambda = 1e3;
  double neural_lr = 1e-2;
  bool plots = true;
};

std::vector<double> DecadesUpTo(double lambda_max) {
  std::vector<double> lambdas;
  for (double l = 1.0; l <= lambda_max * (1.0 + 1e-12); l *= 10.0) lambdas.push_back(l);
  if (lambdas.empty() || std::abs(lambdas.back() - lambda_max) > 1e-9 * lambda_max) {
    lambdas.push_back(lambda_max);
  }
  return lambdas;
}

StudyOptions ReadStudyOptions(const po::variables_map& vm) {
  StudyOptions options;
  options.common = ReadCommonOptions(vm);
  const bool lambdas_set = vm.count("lambdas") && !vm["lambdas"].defaulted();
  const bool max_set = vm.count("lambda-max") != 0;
  Require(!(lambdas_set && max_set), "give either --lambdas or --lambda-max, not both");
  if (max_set) {
    const double lambda_max = vm["lambda-max"].as<double>();
    Require(std::isfinite(lambda_max) && lambda_max >= 1.0,
            "--lambda-max must be a finite number >= 1 (λ > 0), got " + FormatNumber(lambda_max));
    options.lambdas = DecadesUpTo(lambda_max);
  } else {
    options.lambdas = ParseDoubleList(vm["lambdas"].as<std::string>(), "--lambdas");
  }
  for (const double lambda : options.lambdas) {
    Require(lambda > 0.0, "--lambdas: λ must be positive, got " + FormatNumber(lambda));
  }
  std::sort(options.lambdas.begin(), options.lambdas.end());
  options.lambdas.erase(std::unique(options.lambdas.begin(), options.lambdas.end()),
                        options.lambdas.end());

  const std::set<std::string> known = {"w1", "w1b", "robertson", "neural"};
  for (const std::string& name : ParseNameList(vm["problems"].as<std::string>())) {
    Require(known.count(name) != 0,
            "--problems: unknown problem '" + name + "'; known: neural, robertson, w1, w1b");
    options.problems.insert(name);
  }
  Require(!options.problems.empty(), "--problems: name at least one problem");

  options.ok_tol = vm["ok-tol"].as<double>();
  Require(std::isfinite(options.ok_tol) && options.ok_tol > 0.0,
          "--ok-tol must be positive, got " + FormatNumber(options.ok_tol));
  options.robertson_horizons =
      ParseDoubleList(vm["robertson-horizons"].as<std::string>(), "--robertson-horizons");
  for (const double horizon : options.robertson_horizons) {
    Require(horizon > 0.0,
            "--robertson-horizons: T must be positive, got " + FormatNumber(horizon));
  }
  options.neural_iterations = vm["neural-iterations"].as<int>();
  Require(options.neural_iterations >= 1, "--neural-iterations must be >= 1");
  options.neural_lambda = vm["neural-lambda"].as<double>();
  Require(std::isfinite(options.neural_lambda) && options.neural_lambda > 0.0,
          "--neural-lambda: λ must be positive, got " + FormatNumber(options.neural_lambda));
  options.neural_lr = vm["neural-lr"].as<double>();
  Require(std::isfinite(options.neural_lr) && options.neural_lr > 0.0,
          "--neural-lr must be positive");
  options.plots = !vm["no-plots"].as<bool>();
  return options;
}

MethodSpec WithBackward(MethodSpec spec, const std::string& backward) {
  spec.options.backward_integrator = backward;
  spec.settings += " bwd=" + backward;
  return spec;
}

// The default matrix on the decay problems (W1, W1b): workloads.md W1's list plus the
// implicit/exponential/checkpointed remedies.
std::vector<MethodSpec> DecayMethods() {
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

// Robertson: y2 lives at 1e-5…1e-11, so the absolute tolerance is tiny; explicit methods get a
// step budget that makes them fail fast instead of running for minutes.
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
  for (MethodSpec& spec : specs) {
    if (spec.integrator == "dopri5") spec.options.integrator_options.max_steps = 60000;
  }
  return specs;
}

// The neural problem: moderate tolerances, as in training.
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

// Applies --gradient/--integrator (filters; a pair outside the matrix is run with the common
// options) and explicit --rtol/--atol/--step/--max-steps/--linear-solver (overrides).
std::vector<MethodSpec> SelectMethods(std::vector<MethodSpec> specs, const CommonOptions& common) {
  std::vector<MethodSpec> selected;
  for (MethodSpec& spec : specs) {
    if (common.gradient_set && spec.gradient != common.gradient) continue;
    if (common.integrator_set && spec.integrator != common.integrator) continue;
    selected.push_back(std::move(spec));
  }
  if (selected.empty()) {
    const IntegratorOptions& io = common.integrator_options;
    selected.push_back(
        MakeMethod(common.gradient, common.integrator, io.rtol, io.atol, io.fixed_step));
  }
  for (MethodSpec& spec : selected) {
    IntegratorOptions& io = spec.options.integrator_options;
    const IntegratorOptions& given = common.integrator_options;
    bool changed = false;
    if (common.rtol_set && io.fixed_step == 0.0) io.rtol = given.rtol, changed = true;
    if (common.atol_set && io.fixed_step == 0.0) io.atol = given.atol, changed = true;
    if (common.step_set && given.fixed_step > 0.0 && io.fixed_step > 0.0) {
      io.fixed_step = given.fixed_step, changed = true;
    }
    if (common.max_steps_set) io.max_steps = given.max_steps;
    if (common.linear_solver_set) io.linear_solver = given.linear_solver;
    if (changed) {
      const std::string backward = spec.options.backward_integrator;
      MethodSpec rebuilt =
          MakeMethod(spec.gradient, spec.integrator, io.rtol, io.atol, io.fixed_step);
      rebuilt.options.integrator_options = io;
      spec = backward.empty() ? rebuilt : WithBackward(rebuilt, backward);
    }
  }
  return selected;
}

// Drops combinations the registries do not know or the method rejects; notes say why.
std::vector<MethodSpec> SupportedOnly(const std::vector<MethodSpec>& specs,
                                      std::vector<std::string>* notes) {
  std::vector<MethodSpec> supported;
  for (const MethodSpec& spec : specs) {
    std::string reason;
    if (SupportsCombination(spec, &reason)) {
      supported.push_back(spec);
    } else {
      const std::string note = "skipped " + spec.Label() + ": " + reason;
      if (std::find(notes->begin(), notes->end(), note) == notes->end()) notes->push_back(note);
    }
  }
  return supported;
}

// ------------------------------------------------------------------ problems

struct Problem {
  std::string name;     // "W1", "W1b", "W5 T=40"
  double lambda = 0.0;  // stiffness parameter shown in the tables
  OdeProblem ode;
  std::unique_ptr<Loss> loss;
  Vector exact;              // [dL/dθ; dL/dz0], exact or reference
  bool abs_for_all = false;  // judge every component with the absolute part (W1)
};

Problem MakeW1(double lambda) {
  Problem p;
  p.name = "W1";
  p.lambda = lambda;
  p.abs_for_all = true;
  p.ode.field = std::make_shared<DecayField>(1);
  p.ode.z0 = Vector::Ones(1);
  p.ode.theta = Vector::Constant(1, lambda);
  p.ode.output_times = {1.0};
  p.loss = std::make_unique<LinearFunctionalLoss>(
      LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1));
  const double decay = std::exp(-lambda);  // 0 in double for λ > ~745
  p.exact.resize(2);
  p.exact << -decay, decay;
  return p;
}

const std::vector<double> kW1bTimes = {1e-3, 1e-2, 1e-1, 1.0};

Problem MakeW1b(double lambda) {
  Problem p;
  p.name = "W1b";
  p.lambda = lambda;
  p.ode.field = std::make_shared<DecayField>(2);
  p.ode.z0 = Vector::Ones(2);
  p.ode.theta.resize(2);
  p.ode.theta << 1.0, lambda;
  p.ode.output_times = kW1bTimes;
  p.loss = std::make_unique<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), kW1bTimes.size()));
  double d1 = 0, d2 = 0, s1 = 0, s2 = 0;
  for (const double t : kW1bTimes) {
    d1 -= t * std::exp(-t);
    d2 -= t * std::exp(-lambda * t);
    s1 += std::exp(-t);
    s2 += std::exp(-lambda * t);
  }
  p.exact.resize(4);
  p.exact << d1, d2, s1, s2;
  return p;
}

Problem MakeRobertson(double horizon) {
  Problem p;
  p.name = "W5 T=" + FormatCompact(horizon);
  p.ode.field = std::make_shared<RobertsonField>();
  p.ode.z0 = Vector::Zero(3);
  p.ode.z0(0) = 1.0;
  p.ode.theta = RobertsonField::ClassicRates();
  p.ode.output_times = {horizon};
  Vector weights(3);
  weights << 1.0, 1e4, 0.0;
  p.loss = std::make_unique<LinearFunctionalLoss>(LinearFunctionalLoss::FinalTimeOnly(weights, 1));
  return p;
}

// ------------------------------------------------------------------ records

struct Record {
  std::string problem;
  double lambda = 0.0;
  GradientRun run;
  Vector exact;
  GradientError error;
  std::string status;  // ok / inaccurate / non-finite / failed
  std::string reference = "exact";
};

Record Evaluate(const Problem& problem, const MethodSpec& spec, double ok_tol) {
  Record record;
  record.problem = problem.name;
  record.lambda = problem.lambda;
  record.run = RunGradient(spec, problem.ode, *problem.loss);
  record.exact = problem.exact;
  record.error = CompareGradient(record.run.gradient, problem.exact);
  record.status = Classify(record.run, problem.exact, ok_tol, kAbsTol, problem.abs_for_all);
  return record;
}

bool IsBacksolve(const MethodSpec& spec) { return spec.gradient == "backsolve_adjoint"; }

std::string Shorten(const std::string& text, std::size_t width) {
  std::string one_line = text;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');
  if (one_line.size() <= width) return one_line;
  return one_line.substr(0, width - 3) + "...";
}

std::string StatusCell(const Record& r) {
  std::string cell = r.status;
  if (r.run.threw) cell += ": " + Shorten(r.run.message, 70);
  if (IsBacksolve(r.run.spec) && r.run.stats.reconstruction_failed && !r.run.threw) {
    cell += " (reconstruction flagged)";
  }
  return cell;
}

std::string ReconCell(const Record& r) {
  if (!IsBacksolve(r.run.spec) || r.run.threw) return "-";
  return FormatScientific(r.run.stats.reconstruction_error, 1);
}

std::string RelCell(const Record& r) {
  if (r.run.threw || !r.run.Finite()) return "-";
  if (r.error.underflow && r.error.rel == 0.0 && r.exact.size() > 0 &&
      (r.exact.array().abs() < kUnderflow).all()) {
    return "underflow";
  }
  return FormatScientific(r.error.rel, 1) + (r.error.underflow ? "*" : "");
}

void PrintProblemTable(const std::string& title, const std::vector<Record>& records,
                       std::ostream& out) {
  if (records.empty()) return;
  out << "\n== " << title << " ==\n";
  Table table({"λ", "gradient", "integrator", "settings", "rel err", "abs err", "recon err",
               "NFE fwd", "NFE bwd", "VJP", "JVP", "time", "stored", "status"});
  double last_lambda = records.front().lambda;
  for (const Record& r : records) {
    if (r.lambda != last_lambda) table.AddSeparator();
    last_lambda = r.lambda;
    const GradientStats& s = r.run.stats;
    const bool has_stats = !r.run.threw;
    table.AddRow({FormatCompact(r.lambda), r.run.spec.gradient, r.run.spec.integrator,
                  r.run.spec.settings, RelCell(r),
                  r.run.Finite() ? FormatScientific(r.error.abs, 1) : "-", ReconCell(r),
                  has_stats ? std::to_string(s.forward_rhs_evals) : "-",
                  has_stats ? std::to_string(s.backward_rhs_evals) : "-",
                  has_stats ? std::to_string(s.vjp_evals) : "-",
                  has_stats ? std::to_string(s.jvp_evals) : "-", FormatSeconds(r.run.seconds),
                  has_stats ? FormatBytes(s.stored_bytes) : "-", StatusCell(r)});
  }
  table.Print(out);
}

// ------------------------------------------------------------------ Robertson reference

struct RobertsonReference {
  bool ok = false;
  Vector gradient;          // [dθ; dz0]
  std::string description;  // what it is and how it was cross-checked
  double lambda = 0.0;      // spectral radius of ∂f/∂y at T
};

RobertsonReference ComputeRobertsonReference(Problem& problem) {
  RobertsonReference ref;
  MethodSpec spec = MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-12, 1e-20);
  spec.options.integrator_options.max_steps = 1000000;
  std::string reason;
  GradientRun run;
  if (SupportsCombination(spec, &reason)) run = RunGradient(spec, problem.ode, *problem.loss);
  GradientOptions fd_options;
  fd_options.integrator = IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "sdirk";
  fd_options.integrator_options.rtol = 1e-12;
  fd_options.integrator_options.atol = 1e-20;
  fd_options.integrator_options.max_steps = 1000000;
  Vector fd;
  std::string fd_message;
  Vector final_state;
  try {
    const LossAndGradient result =
        CentralDifferenceGradient(problem.ode, *problem.loss, fd_options);
    fd.resize(result.dtheta.size() + result.dz0.size());
    fd << result.dtheta, result.dz0;
    final_state = result.forward.states.back();
  } catch (const std::exception& e) {
    fd_message = e.what();
  }
  if (run.Finite()) {
    ref.ok = true;
    ref.gradient = run.gradient;
    ref.description = "reference: cvodes_adjoint/cvodes_bdf rtol=1e-12,atol=1e-20";
    if (!run.forward_states.empty()) final_state = run.forward_states.back();
    if (fd.size() == ref.gradient.size()) {
      // dL/dk only: perturbing z0 = (1, 0, 0) by ±h makes y2, y3 negative.
      const Index p = problem.ode.theta.size();
      const GradientError diff = CompareGradient(fd.head(p), ref.gradient.head(p));
      ref.description += "; central differences of cvodes_bdf (rtol=1e-12) agree on dL/dk to " +
                         FormatScientific(diff.rel, 1) + " relative";
    } else if (!fd_message.empty()) {
      ref.description += "; finite-difference cross-check failed: " + Shorten(fd_message, 80);
    }
  } else if (fd.size() > 0) {
    ref.ok = true;
    ref.gradient = fd;
    ref.description = "reference: central differences of " + fd_options.integrator +
                      " at rtol=1e-12,atol=1e-20 (cvodes_adjoint unavailable: " +
                      Shorten(run.threw ? run.message : reason, 60) + ")";
  } else {
    ref.description = "no reference gradient: " + Shorten(fd_message, 100);
  }
  if (final_state.size() == 3) {
    Matrix jac(3, 3);
    problem.ode.field->DenseJacobian(problem.ode.output_times.back(), final_state,
                                     problem.ode.theta, jac);
    ref.lambda = jac.eigenvalues().cwiseAbs().maxCoeff();
  }
  return ref;
}

// ------------------------------------------------------------------ neural ODE on stiff data

struct NeuralRecord {
  MethodSpec spec;
  std::vector<double> losses;  // training loss per iteration (own solver)
  double rescored = std::numeric_limits<double>::quiet_NaN();  // final θ, tight cvodes_bdf
  long forward_nfe = 0;
  long backward_nfe = 0;
  long vjp = 0;
  double seconds = 0.0;
  std::string status = "ok";
  std::string message;
};

struct NeuralSetup {
  std::shared_ptr<MlpField> field;
  OdeProblem problem;
  std::unique_ptr<MseLoss> loss;
  Vector theta0;
};

// Data: the W1b system z' = diag(−1, −λ) z from four initial states, observed at log-spaced
// times; the model is an MLP 2-16-2 (tanh) batched over the four trajectories.
NeuralSetup MakeNeuralSetup(double lambda, std::uint64_t seed) {
  NeuralSetup setup;
  const std::vector<double> times = {2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0};
  const Matrix starts = (Matrix(2, 4) << 1.0, -1.0, 0.5, -0.5, 1.0, 0.5, -1.0, -0.5).finished();
  MlpOptions mlp;
  mlp.widths = {2, 16, 2};
  mlp.activations = {"tanh"};
  mlp.batch = starts.cols();
  setup.field = std::make_shared<MlpField>(mlp);
  setup.problem.field = setup.field;
  setup.problem.z0 = Eigen::Map<const Vector>(starts.data(), starts.size());
  setup.problem.output_times = times;
  setup.theta0 = setup.field->InitialParams(static_cast<unsigned>(seed));
  setup.problem.theta = setup.theta0;
  std::vector<Vector> targets;
  for (const double t : times) {
    Matrix z = starts;
    z.row(0) *= std::exp(-t);
    z.row(1) *= std::exp(-lambda * t);
    targets.emplace_back(Eigen::Map<const Vector>(z.data(), z.size()));
  }
  setup.loss = std::make_unique<MseLoss>(targets);
  return setup;
}

NeuralRecord TrainNeural(const MethodSpec& spec, NeuralSetup& setup, int iterations, double lr,
                         bool quiet) {
  NeuralRecord record;
  record.spec = spec;
  OdeProblem problem = setup.problem;
  problem.theta = setup.theta0;
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
  // Re-score the final parameters with one tight solve so every method is judged by the same
  // ruler (each training loss above is measured with the method's own discretisation).
  const std::string scorer = IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "dopri5";
  try {
    IntegratorOptions tight;
    tight.rtol = 1e-10;
    tight.atol = 1e-12;
    auto integrator = IntegratorRegistry().Create(scorer, tight);
    record.rescored = EvaluateLoss(problem, *setup.loss, *integrator);
  } catch (const std::exception&) {
    record.rescored = std::numeric_limits<double>::quiet_NaN();
  }
  return record;
}

// ------------------------------------------------------------------ summary

std::string LambdaList(const std::vector<std::pair<double, std::string>>& items, bool with_status) {
  std::string text;
  for (const auto& [lambda, status] : items) {
    if (!text.empty()) text += ", ";
    text += FormatCompact(lambda);
    if (with_status) text += " (" + status + ")";
  }
  return text;
}

std::vector<std::string> Summarize(const std::vector<Record>& records,
                                   const std::vector<NeuralRecord>& neural, double ok_tol,
                                   const std::vector<double>& lambdas) {
  std::vector<std::string> lines;
  // Per problem and method: where it is ok and where it is not.
  std::vector<std::string> problem_order;
  std::map<std::string, std::vector<std::string>> method_order;
  std::map<std::pair<std::string, std::string>, std::vector<const Record*>> groups;
  for (const Record& r : records) {
    if (std::find(problem_order.begin(), problem_order.end(), r.problem) == problem_order.end()) {
      problem_order.push_back(r.problem);
    }
    auto& methods = method_order[r.problem];
    const std::string label = r.run.spec.Label();
    if (std::find(methods.begin(), methods.end(), label) == methods.end()) methods.push_back(label);
    groups[{r.problem, label}].push_back(&r);
  }
  for (const std::string& problem : problem_order) {
    const bool sweep = problem == "W1" || problem == "W1b";
    std::vector<std::string> always_ok;
    std::vector<std::string> broken;
    std::vector<std::string> flags;  // backsolve runs whose z(t0) reconstruction was flagged
    for (const std::string& label : method_order[problem]) {
      std::vector<std::pair<double, std::string>> bad, good, flagged;
      for (const Record* r : groups[{problem, label}]) {
        (r->status == "ok" ? good : bad).emplace_back(r->lambda, r->status);
        if (r->run.stats.reconstruction_failed) flagged.emplace_back(r->lambda, "");
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
        sentence +=
            (good.empty() ? " fails at every λ: " : " fails at λ = ") + LambdaList(bad, true);
        if (!good.empty()) sentence += "; ok at λ = " + LambdaList(good, false);
      } else {
        sentence += " fails";
        sentence += " (" + bad.front().second + ")";
      }
      broken.push_back(sentence);
    }
    std::string head = problem + ": ";
    if (!always_ok.empty()) {
      std::string joined;
      for (const std::string& label : always_ok) joined += (joined.empty() ? "" : ", ") + label;
      lines.push_back(head + "ok" + (sweep ? " at every λ" : "") + ": " + joined + ".");
    }
    for (const std::string& sentence : broken) lines.push_back(head + sentence + ".");
    if (!flags.empty()) {
      std::string joined;
      for (const std::string& flag : flags) joined += (joined.empty() ? "" : "; ") + flag;
      lines.push_back(head + "the backsolve adjoint itself flagged its reconstruction of z(t0) (" +
                      joined + ").");
    }
  }
  // The headline: W1b at the largest λ at 1e-6 relative.
  const double lambda_max = lambdas.empty() ? 0.0 : lambdas.back();
  std::vector<std::string> accurate, wrong;
  for (const Record& r : records) {
    if (r.problem != "W1b" || r.lambda != lambda_max) continue;
    if (r.run.Finite() && r.error.rel <= 1e-6) {
      accurate.push_back(r.run.spec.Label() + " (" + FormatScientific(r.error.rel, 1) + ")");
    } else if (r.status != "ok") {
      wrong.push_back(r.run.spec.Label() + " (" +
                      (r.run.Finite() ? FormatScientific(r.error.rel, 1) : r.status) + ")");
    }
  }
  if (!accurate.empty() || !wrong.empty()) {
    std::string a, w;
    for (const auto& s : accurate) a += (a.empty() ? "" : ", ") + s;
    for (const auto& s : wrong) w += (w.empty() ? "" : ", ") + s;
    lines.push_back("At λ = " + FormatCompact(lambda_max) + " on W1b, gradients within 1e-6 " +
                    "relative: " + (a.empty() ? "none" : a) + ".");
    if (!w.empty()) {
      lines.push_back("At λ = " + FormatCompact(lambda_max) + " on W1b, not usable (rel err > " +
                      FormatCompact(ok_tol) + " or no number): " + w + ".");
    }
  }
  if (!neural.empty()) {
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
  }
  return lines;
}

// ------------------------------------------------------------------ files and plots

const std::vector<std::string> kCsvHeader = {
    "problem",     "lambda",        "gradient",       "integrator",
    "settings",    "loss",          "gradient_value", "reference_value",
    "reference",   "rel_err",       "abs_err",        "exact_underflows",
    "recon_err",   "recon_flagged", "nfe_forward",    "nfe_backward",
    "vjp",         "jvp",           "steps_forward",  "steps_backward",
    "checkpoints", "stored_bytes",  "wall_seconds",   "status",
    "message"};

std::vector<std::string> CsvRow(const Record& r) {
  const GradientStats& s = r.run.stats;
  auto num = [](double x) { return FormatNumber(x, 10); };
  return {r.problem,
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
          IsBacksolve(r.run.spec) ? num(s.reconstruction_error) : "",
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
          r.run.message};
}

nlohmann::json VectorJson(const Vector& v) {
  nlohmann::json array = nlohmann::json::array();
  for (Index i = 0; i < v.size(); ++i) array.push_back(JsonNumber(v(i)));
  return array;
}

nlohmann::json RecordJson(const Record& r) {
  const GradientStats& s = r.run.stats;
  return {{"problem", r.problem},
          {"lambda", r.lambda},
          {"gradient_method", r.run.spec.gradient},
          {"integrator", r.run.spec.integrator},
          {"settings", r.run.spec.settings},
          {"rtol", r.run.spec.options.integrator_options.rtol},
          {"atol", r.run.spec.options.integrator_options.atol},
          {"fixed_step", r.run.spec.options.integrator_options.fixed_step},
          {"backward_integrator", r.run.spec.options.EffectiveBackwardIntegrator()},
          {"loss", JsonNumber(r.run.loss)},
          {"gradient", VectorJson(r.run.gradient)},
          {"reference_gradient", VectorJson(r.exact)},
          {"reference", r.reference},
          {"rel_err", JsonNumber(r.error.rel)},
          {"abs_err", JsonNumber(r.error.abs)},
          {"exact_underflows", r.error.underflow},
          {"reconstruction_error",
           IsBacksolve(r.run.spec) ? JsonNumber(s.reconstruction_error) : nlohmann::json()},
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
          {"message", r.run.message}};
}

// A gnuplot single-quoted string (enhanced text is interpreted inside it).
std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'')
      quoted += "''";
    else
      quoted += c;
  }
  return quoted + "'";
}

// Escapes the enhanced-text markup characters of plain text (method names hold '_').
std::string Escape(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '_' || c == '^' || c == '{' || c == '}' || c == '@' || c == '&' || c == '~') {
      escaped += '\\';
    }
    escaped += c;
  }
  return escaped;
}

std::string PlotStyle(std::size_t i) {
  // Distinct colour, point type and dash per series so overlapping lines stay readable.
  static const char* const kColors[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                                        "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2182b",
                                        "#000000", "#35978f", "#8c510a", "#762a83"};
  return "lw 1.6 ps 1.1 pt " + std::to_string(1 + i % 13) + " dt " + std::to_string(1 + i % 5) +
         " lc rgb '" + kColors[i % 14] + "'";
}

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (λ, value), value may be NaN/0
};

// Writes series as gnuplot data blocks and a log–log line plot; non-finite values are drawn at
// `ceiling`, zeros at `floor`, and the key says so.
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
  body << "set title " << Quote(title) << "\n"
       << "set logscale xy\nset grid\nset format x '10^{%L}'\nset format y '10^{%L}'\n"
       << "set xlabel 'stiffness {/Symbol l}'\nset ylabel " << Quote(ylabel) << "\n"
       << "set key outside right top spacing 1.1 font ',9'\n"
       << "set yrange [" << floor / 3.0 << ":" << ceiling * 3.0 << "]\n"
       << "set offsets graph 0.03, graph 0.03, 0, 0\n";
  body << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i) {
    body << (i ? ", \\\n     " : "") << "'" << name << ".dat' index " << i
         << " using 1:2 with linespoints " << PlotStyle(i) << " title "
         << Quote(Escape(series[i].label));
  }
  if (clamp_note && any_ceiling) {
    body << ", \\\n     " << ceiling << " with lines lc rgb '#bbbbbb' dt 2 title "
         << Quote("non-finite / failed: drawn at " + FormatNumber(ceiling, 2));
  }
  if (clamp_note && any_floor) {
    body << ", \\\n     " << floor << " with lines lc rgb '#dddddd' dt 3 title "
         << Quote("error exactly 0: drawn at " + FormatNumber(floor, 2));
  }
  body << "\n";
  return RenderGnuplot(dir, name, body.str(), 1100, 600);
}

struct ReconPanel {
  double lambda = 0.0;
  std::string method;
  Reconstruction reconstruction;
  bool fallback = false;
};

PlotResult PlotReconstruction(const std::string& dir, const std::vector<ReconPanel>& panels) {
  std::ostringstream data;
  for (const ReconPanel& panel : panels) {
    data << "# lambda = " << panel.lambda << ": exact |z(t)| = e^{-lambda t}\n";
    for (int k = 0; k <= 100; ++k) {
      const double t = k / 100.0;
      const double z = std::exp(-panel.lambda * t);
      if (z > 1e-300) data << t << " " << FormatNumber(z, 10) << "\n";
    }
    data << "\n\n# reconstructed |z_rec(t)| (" << panel.method << ")"
         << (panel.reconstruction.complete ? "" : ", stopped: " + panel.reconstruction.message)
         << "\n";
    for (std::size_t k = 0; k < panel.reconstruction.times.size(); ++k) {
      const double z = std::abs(panel.reconstruction.states[k](0));
      if (std::isfinite(z) && z > 0) {
        data << panel.reconstruction.times[k] << " " << FormatNumber(z, 10) << "\n";
      }
    }
    data << "\n\n";
  }
  AtomicWriteFile(dir + "/backsolve_reconstruction.dat", data.str());
  std::ostringstream body;
  body << "set multiplot layout 1," << panels.size()
       << " title 'Backsolve adjoint: state reconstructed backward from the forward z(1), W1'\n"
       << "set logscale y\nset format y '10^{%L}'\nset grid\nset xlabel 't'\n"
       << "set ylabel '|z(t)|'\nset key below font ',9'\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const ReconPanel& panel = panels[i];
    std::string recon_title = "backsolve z_{rec}(t), " + Escape(panel.method);
    if (!panel.reconstruction.complete && !panel.reconstruction.times.empty()) {
      recon_title += ", non-finite below t = " + FormatCompact(panel.reconstruction.times.back());
    }
    body << "set title " << Quote("{/Symbol l} = " + FormatCompact(panel.lambda)) << "\n"
         << "plot 'backsolve_reconstruction.dat' index " << 2 * i
         << " using 1:2 with lines lw 2 lc rgb '#1b9e77' title 'exact e^{-{/Symbol l}t}', \\\n"
         << "     'backsolve_reconstruction.dat' index " << 2 * i + 1
         << " using 1:2 with linespoints lw 1.5 pt 7 ps 0.5 lc rgb '#d95f02' title "
         << Quote(recon_title) << "\n";
  }
  body << "unset multiplot\n";
  return RenderGnuplot(dir, "backsolve_reconstruction", body.str(), 1100, 480);
}

// ------------------------------------------------------------------ --bench (W5)

// cvodes_adjoint with the option quadrature (CvodesAdjointOptions::quadrature).
MethodSpec WithQuadrature(MethodSpec spec, const std::string& quadrature) {
  spec.options.method_settings.Set("quadrature", quadrature);
  spec.settings += " q=" + quadrature;
  return spec;
}

// The exponential jump layer of cvodes_adjoint (adjoint/jump_layer.hpp) with separate backward
// tolerances.
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

// W5's target is judged on the checkpointed CVODES adjoint with BDF: the bench adds a ladder of
// tolerances to the Robertson methods, and on T = 1e5 the cheapest rung that gives dL/dk to
// 1e-6 relative is the configuration held against "≤ 10 ms".
std::vector<MethodSpec> W5TargetLadder() {
  return {MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-6, 1e-12),
          MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-7, 1e-13),
          MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14),
          MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-9, 1e-15),
          MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-16),
          // Gauss–Legendre parameter quadrature instead of the error-controlled CVODES one
          // (Robertson's P = 3 makes "auto" pick the latter).
          // (Without the jump layer, which "auto" would switch on with the Gauss quadrature.)
          WithoutJumpLayer(
              WithQuadrature(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14), "gauss")),
          WithoutJumpLayer(
              WithQuadrature(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-9, 1e-15), "gauss")),
          // The stiff transient after each observation's jump by exponentials, then BDF.
          WithQuadrature(
              WithJumpLayer(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14), 1e-9, 1e-15),
              "gauss"),
          WithJumpLayer(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-14), 1e-10, 1e-16),
          WithQuadrature(
              WithJumpLayer(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-9, 1e-15), 1e-9, 1e-15),
              "gauss")};
}

// W5's second loss: Σ_t (y1 + 1e4·y2)(t) over 50 log-spaced t in [1e-5, 1e5], restricted to
// t ≤ T.
Problem MakeRobertsonSum(double horizon) {
  Problem p = MakeRobertson(horizon);
  p.name = "W5 T=" + FormatCompact(horizon) + " sum";
  p.ode.output_times.clear();
  for (int i = 0; i < 50; ++i) {
    const double t = std::pow(10.0, -5.0 + 10.0 * i / 49.0);
    if (t <= horizon * (1.0 + 1e-12)) p.ode.output_times.push_back(t);
  }
  Vector weights(3);
  weights << 1.0, 1e4, 0.0;
  p.loss = std::make_unique<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(weights, p.ode.output_times.size()));
  return p;
}

int RunBench(const StudyOptions& options, int repetitions) {
  std::vector<std::string> notes;
  std::vector<MethodSpec> specs = RobertsonMethods();
  std::set<std::string> ladder;
  for (const MethodSpec& rung : W5TargetLadder()) {
    ladder.insert(rung.Label());
    bool present = false;
    for (const MethodSpec& spec : specs) present = present || spec.Label() == rung.Label();
    if (!present) specs.push_back(rung);
  }
  std::stable_sort(specs.begin(), specs.end(), [](const MethodSpec& a, const MethodSpec& b) {
    return a.gradient < b.gradient;
  });
  const std::vector<MethodSpec> methods =
      SupportedOnly(SelectMethods(std::move(specs), options.common), &notes);

  std::vector<Problem> problems;
  std::vector<std::string> references;
  for (const double horizon : options.robertson_horizons) {
    for (int kind = 0; kind < 2; ++kind) {
      Problem problem = kind == 0 ? MakeRobertson(horizon) : MakeRobertsonSum(horizon);
      if (kind == 0) problem.name += " final";
      const RobertsonReference reference = ComputeRobertsonReference(problem);
      references.push_back(problem.name + ": " + reference.description);
      if (!reference.ok) continue;
      problem.exact = reference.gradient;
      problem.lambda = horizon;
      problems.push_back(std::move(problem));
    }
  }
  struct Cell {
    const Problem* problem = nullptr;
    MethodSpec spec;
    std::vector<double> seconds;
    Record last;
    double dk_rel = std::numeric_limits<double>::quiet_NaN();  // max_i |dk_i − ref_i| / |ref_i|
  };
  std::vector<Cell> cells;
  for (const Problem& problem : problems) {
    for (const MethodSpec& spec : methods) {
      Cell cell;
      cell.problem = &problem;
      cell.spec = spec;
      cells.push_back(std::move(cell));
    }
  }
  for (int rep = 0; rep < repetitions; ++rep) {
    for (Cell& cell : cells) {
      cell.last = Evaluate(*cell.problem, cell.spec, options.ok_tol);
      cell.seconds.push_back(cell.last.run.seconds);
      if (cell.last.run.Finite()) {
        const Index p = cell.problem->ode.theta.size();
        cell.dk_rel =
            CompareGradient(cell.last.run.gradient.head(p), cell.problem->exact.head(p)).rel;
      }
    }
  }

  std::cout << "W5 bench (Robertson, k = (0.04, 3e7, 1e4)): " << repetitions
            << " repetitions; error: max relative error of dL/dk against the reference\n";
  Table table({"problem", "gradient", "integrator", "settings", "time/gradient", "min", "max",
               "NFE fwd", "NFE bwd", "dL/dk rel err", "status"});
  nlohmann::json details = nlohmann::json::array();
  std::vector<bench::BenchRow> rows;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const Cell& cell = cells[i];
    if (i > 0 && cell.problem != cells[i - 1].problem) table.AddSeparator();
    const bench::Spread t = bench::Summarize(cell.seconds);
    const GradientRun& r = cell.last.run;
    table.AddRow({cell.problem->name, cell.spec.gradient, cell.spec.integrator, cell.spec.settings,
                  FormatSeconds(t.median), FormatSeconds(t.min), FormatSeconds(t.max),
                  r.threw ? "-" : std::to_string(r.stats.forward_rhs_evals),
                  r.threw ? "-" : std::to_string(r.stats.backward_rhs_evals),
                  std::isfinite(cell.dk_rel) ? FormatScientific(cell.dk_rel, 1) : "-",
                  StatusCell(cell.last)});
    nlohmann::json dk = nlohmann::json::array(), ref = nlohmann::json::array();
    for (Index k = 0; k < cell.problem->ode.theta.size(); ++k) {
      dk.push_back(r.gradient.size() > k ? JsonNumber(r.gradient(k)) : nlohmann::json());
      ref.push_back(JsonNumber(cell.problem->exact(k)));
    }
    details.push_back({{"problem", cell.problem->name},
                       {"horizon", cell.problem->lambda},
                       {"gradient_method", cell.spec.gradient},
                       {"integrator", cell.spec.integrator},
                       {"settings", cell.spec.settings},
                       {"seconds_per_gradient", bench::SpreadJson(t)},
                       {"dL_dk", dk},
                       {"reference_dL_dk", ref},
                       {"dk_rel_err", JsonNumber(cell.dk_rel)},
                       {"nfe_forward", r.stats.forward_rhs_evals},
                       {"nfe_backward", r.stats.backward_rhs_evals},
                       {"status", cell.last.status},
                       {"message", r.message}});
    bench::BenchRow row;
    row.workload = "W5";
    row.configuration = cell.problem->name.substr(3) + ": " + cell.spec.Label();
    row.metric = "time per gradient";
    row.unit = "s";
    row.spread = t;
    row.note = "dL/dk rel err " +
               (std::isfinite(cell.dk_rel) ? FormatScientific(cell.dk_rel, 1) : std::string("-")) +
               ", " + cell.last.status;
    rows.push_back(row);
  }
  // The target rows: per T = 1e5 problem, the fastest ladder rung with dL/dk to 1e-6 (or, when
  // none reaches it, the most accurate rung, which then fails the target).
  for (std::size_t first = 0; first < cells.size();) {
    std::size_t last = first;
    while (last < cells.size() && cells[last].problem == cells[first].problem) ++last;
    if (cells[first].problem->lambda >= 1e5) {
      std::size_t chosen = cells.size();
      for (std::size_t i = first; i < last; ++i) {
        if (!ladder.count(cells[i].spec.Label())) continue;
        const bool accurate = std::isfinite(cells[i].dk_rel) && cells[i].dk_rel <= 1e-6;
        const bool chosen_accurate = chosen < cells.size() && cells[chosen].dk_rel <= 1e-6;
        if (chosen == cells.size() ||
            (accurate &&
             (!chosen_accurate || rows[i].spread.median < rows[chosen].spread.median)) ||
            (!accurate && !chosen_accurate && cells[i].dk_rel < cells[chosen].dk_rel)) {
          chosen = i;
        }
      }
      if (chosen < cells.size()) {
        bench::BenchRow& row = rows[chosen];
        row.has_target = true;
        row.target = 0.01;
        row.target_text = "<= 10 ms, dL/dk to 1e-6";
        row.met_override = cells[chosen].dk_rel <= 1e-6 && row.spread.median <= 0.01;
      }
    }
    first = last;
  }
  table.Print(std::cout);
  for (const std::string& line : references) std::cout << "  " << line << "\n";
  for (const std::string& note : notes) std::cout << "  note: " << note << "\n";
  bench::WriteBenchReport(options.common.out_dir, "stiffness_study", "W5", repetitions, rows,
                          {{"runs", details}, {"references", references}, {"notes", notes}});
  return 0;
}

// ------------------------------------------------------------------ main

int Run(int argc, char** argv) {
  po::options_description desc("Options");
  CommonDefaults defaults;
  defaults.out = "results/stiffness";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("lambdas", po::value<std::string>()->default_value("1,10,100,1e3,1e4"),
       "comma-separated stiffness values λ > 0")
      ("lambda-max", po::value<double>(), "sweep λ = 1, 10, …, up to this value (e.g. 1e6)")
      ("problems", po::value<std::string>()->default_value("w1,w1b,robertson,neural"),
       "which problems: w1, w1b, robertson, neural")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run counts as ok")
      ("robertson-horizons", po::value<std::string>()->default_value("40,1e5"),
       "Robertson end times T")
      ("neural-iterations", po::value<int>()->default_value(30), "Adam steps per method")
      ("neural-lambda", po::value<double>()->default_value(1e3), "λ of the neural ODE's data")
      ("neural-lr", po::value<double>()->default_value(1e-2), "Adam learning rate")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workload W5 (Robertson, both losses, --robertson-horizons) N times: medians of the "
       "time per gradient and dL/dk errors; writes <out>/bench.json");
  // clang-format on
  const po::variables_map vm = ParseCommandLine(argc, argv, desc);
  if (HandleInfoOptions(vm, desc, kUsage, std::cout)) return 0;
  const StudyOptions options = ReadStudyOptions(vm);
  const auto start = std::chrono::steady_clock::now();
  const std::string& out_dir = options.common.out_dir;
  EnsureDirectory(out_dir);
  if (vm.count("bench")) return RunBench(options, bench::CheckRepetitions(vm["bench"].as<long>()));
  std::ostream& out = std::cout;
  std::vector<std::string> notes;

  out << "snode stiffness study: λ = ";
  for (std::size_t i = 0; i < options.lambdas.size(); ++i) {
    out << (i ? ", " : "") << FormatCompact(options.lambdas[i]);
  }
  out << "\na run is ok when every gradient component is within relative error "
      << FormatCompact(options.ok_tol) << " of the exact/reference value (W1: plus "
      << FormatCompact(kAbsTol) << " absolute)\n";

  std::vector<Record> records;
  const std::vector<MethodSpec> decay_methods =
      SupportedOnly(SelectMethods(DecayMethods(), options.common), &notes);
  // ---- W1 and W1b
  for (const std::string problem_name : {"w1", "w1b"}) {
    if (!options.problems.count(problem_name)) continue;
    std::vector<Record> problem_records;
    ProgressLine progress(std::string("sweep ") + problem_name,
                          static_cast<long>(options.lambdas.size() * decay_methods.size()),
                          options.common.quiet);
    long done = 0;
    for (const double lambda : options.lambdas) {
      const Problem problem = std::string(problem_name) == "w1" ? MakeW1(lambda) : MakeW1b(lambda);
      for (const MethodSpec& spec : decay_methods) {
        problem_records.push_back(Evaluate(problem, spec, options.ok_tol));
        progress.Update(++done, problem_records.back().error.rel,
                        problem_records.back().run.stats.forward_rhs_evals);
      }
      if (options.common.check_gradients) {
        GradientOptions fd_options;
        fd_options.integrator = "cvodes_bdf";
        fd_options.integrator_options.rtol = 1e-12;
        fd_options.integrator_options.atol = 1e-20;
        fd_options.integrator_options.max_steps = 1000000;
        try {
          const LossAndGradient fd =
              CentralDifferenceGradient(problem.ode, *problem.loss, fd_options);
          Vector g(fd.dtheta.size() + fd.dz0.size());
          g << fd.dtheta, fd.dz0;
          const GradientError e = CompareGradient(g, problem.exact);
          notes.push_back(
              "check-gradients " + problem.name + " λ=" + FormatCompact(lambda) +
              ": central differences (cvodes_bdf rtol=1e-12, atol=1e-20) vs exact: rel " +
              FormatScientific(e.rel, 1) + ", abs " + FormatScientific(e.abs, 1));
        } catch (const std::exception& e) {
          notes.push_back("check-gradients " + problem.name + " λ=" + FormatCompact(lambda) +
                          ": finite differences failed: " + Shorten(e.what(), 80));
        }
      }
    }
    progress.Finish();
    const std::string title =
        std::string(problem_name) == "w1"
            ? "W1: dy/dt = -λy, y(0) = 1, L = y(1); exact dL/dλ = -e^{-λ}, dL/dy0 = e^{-λ}; "
              "ok when abs err <= ok-tol·e^{-λ} + 1e-12 (\"underflow\": e^{-λ} = 0 in double)"
            : "W1b: z' = diag(-1, -λ) z, z(0) = (1, 1), L = Σ_t z1 + z2 at t = 1e-3, 1e-2, 1e-1, "
              "1; "
              "exact gradient (dL/dθ1, dL/dθ2, dL/dz0)";
    PrintProblemTable(title, problem_records, out);
    records.insert(records.end(), problem_records.begin(), problem_records.end());
  }

  // ---- Robertson
  if (options.problems.count("robertson")) {
    const std::vector<MethodSpec> methods =
        SupportedOnly(SelectMethods(RobertsonMethods(), options.common), &notes);
    std::vector<Record> robertson_records;
    std::vector<std::string> descriptions;
    for (const double horizon : options.robertson_horizons) {
      Problem problem = MakeRobertson(horizon);
      const RobertsonReference reference = ComputeRobertsonReference(problem);
      problem.lambda = reference.lambda;
      descriptions.push_back(problem.name + " (λ = |eig(∂f/∂y)|max at T = " +
                             FormatCompact(reference.lambda) + "): " + reference.description);
      if (!reference.ok) continue;
      problem.exact = reference.gradient;
      for (const MethodSpec& spec : methods) {
        Record record = Evaluate(problem, spec, options.ok_tol);
        record.reference = reference.description;
        robertson_records.push_back(std::move(record));
      }
    }
    std::string title =
        "W5 Robertson, k = (0.04, 3e7, 1e4), L = y1(T) + 1e4·y2(T); gradient "
        "(dL/dk, dL/dy0) vs reference";
    PrintProblemTable(title, robertson_records, out);
    for (const std::string& d : descriptions) out << "  " << d << "\n";
    records.insert(records.end(), robertson_records.begin(), robertson_records.end());
  }

  // ---- neural ODE on stiff data
  std::vector<NeuralRecord> neural;
  if (options.problems.count("neural")) {
    NeuralSetup setup = MakeNeuralSetup(options.neural_lambda, options.common.seed);
    const std::vector<MethodSpec> methods =
        SupportedOnly(SelectMethods(NeuralMethods(), options.common), &notes);
    for (const MethodSpec& spec : methods) {
      neural.push_back(TrainNeural(spec, setup, options.neural_iterations, options.neural_lr,
                                   options.common.quiet));
    }
    out << "\n== Neural ODE on stiff data: MLP 2-16-2 tanh (" << setup.theta0.size()
        << " parameters), 4 trajectories of z' = diag(-1, -" << FormatCompact(options.neural_lambda)
        << ") z, 9 times in [2e-3, 1], MSE, " << options.neural_iterations << " Adam steps (lr "
        << FormatNumber(options.neural_lr) << ") ==\n";
    Table table({"gradient", "integrator", "settings", "loss start", "loss end", "end, tight solve",
                 "NFE fwd", "NFE bwd", "VJP", "time", "status"});
    for (const NeuralRecord& n : neural) {
      const bool any = !n.losses.empty();
      table.AddRow({n.spec.gradient, n.spec.integrator, n.spec.settings,
                    any ? FormatScientific(n.losses.front(), 3) : "-",
                    any ? FormatScientific(n.losses.back(), 3) : "-",
                    FormatScientific(n.rescored, 3), std::to_string(n.forward_nfe),
                    std::to_string(n.backward_nfe), std::to_string(n.vjp), FormatSeconds(n.seconds),
                    n.status + (n.message.empty() ? "" : ": " + Shorten(n.message, 60))});
    }
    table.Print(out);
  }

  // ---- backsolve reconstruction trajectories (W1, λ = 100 and 1e4)
  std::vector<ReconPanel> panels;
  if (options.plots) {
    MethodSpec recon_spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-6);
    std::string reason;
    if (SupportsCombination(recon_spec, &reason)) {
      for (const double lambda : {100.0, 1e4}) {
        const Problem problem = MakeW1(lambda);
        ReconPanel panel;
        panel.lambda = lambda;
        panel.method = recon_spec.integrator + " " + recon_spec.settings;
        auto integrator = IntegratorRegistry().Create(recon_spec.integrator,
                                                      recon_spec.options.integrator_options);
        try {
          const Trajectory forward = integrator->Solve(problem.ode);
          panel.reconstruction =
              ReconstructBacksolve(recon_spec, problem.ode, *problem.loss, forward.states, 101);
        } catch (const std::exception& e) {
          panel.reconstruction.message = e.what();
        }
        panels.push_back(std::move(panel));
      }
    } else {
      notes.push_back("no reconstruction plot: " + reason);
    }
  }

  // ---- summary
  const std::vector<std::string> summary =
      Summarize(records, neural, options.ok_tol, options.lambdas);
  out << "\n== Summary ==\n";
  for (const std::string& line : summary) out << "- " << line << "\n";
  for (const ReconPanel& panel : panels) {
    const auto& rec = panel.reconstruction;
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
    out << line << "\n";
  }
  for (const std::string& note : notes) out << "  note: " << note << "\n";

  // ---- files
  std::vector<std::vector<std::string>> rows;
  nlohmann::json runs = nlohmann::json::array();
  for (const Record& r : records) {
    rows.push_back(CsvRow(r));
    runs.push_back(RecordJson(r));
  }
  WriteCsv(out_dir + "/stiffness_results.csv", kCsvHeader, rows);
  nlohmann::json neural_json = nlohmann::json::array();
  std::vector<std::vector<std::string>> neural_rows;
  for (const NeuralRecord& n : neural) {
    nlohmann::json losses = nlohmann::json::array();
    for (std::size_t i = 0; i < n.losses.size(); ++i) {
      losses.push_back(JsonNumber(n.losses[i]));
      neural_rows.push_back({n.spec.gradient, n.spec.integrator, n.spec.settings,
                             std::to_string(i + 1), FormatNumber(n.losses[i], 12)});
    }
    neural_json.push_back({{"gradient_method", n.spec.gradient},
                           {"integrator", n.spec.integrator},
                           {"settings", n.spec.settings},
                           {"losses", losses},
                           {"rescored_loss", JsonNumber(n.rescored)},
                           {"nfe_forward", n.forward_nfe},
                           {"nfe_backward", n.backward_nfe},
                           {"vjp", n.vjp},
                           {"wall_seconds", n.seconds},
                           {"status", n.status},
                           {"message", n.message}});
  }
  if (!neural.empty()) {
    WriteCsv(out_dir + "/neural_training.csv",
             {"gradient", "integrator", "settings", "iteration", "loss"}, neural_rows);
  }

  std::vector<std::string> plot_files;
  if (options.plots) {
    auto series_for = [&](const std::string& problem, auto value) {
      std::vector<Series> series;
      std::map<std::string, std::size_t> index;
      for (const Record& r : records) {
        if (r.problem != problem) continue;
        const std::string label = r.run.spec.Label();
        if (!index.count(label)) {
          index[label] = series.size();
          series.push_back({label, {}});
        }
        series[index[label]].points.emplace_back(r.lambda, value(r));
      }
      return series;
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<PlotResult> plots;
    const auto w1b_err =
        series_for("W1b", [&](const Record& r) { return r.run.Finite() ? r.error.rel : nan; });
    if (!w1b_err.empty()) {
      plots.push_back(PlotSeries(out_dir, "gradient_error",
                                 "W1b: gradient error vs stiffness (max componentwise relative)",
                                 "relative gradient error", w1b_err, true));
      const auto cost = series_for("W1b", [&](const Record& r) {
        const GradientStats& s = r.run.stats;
        return r.run.threw ? nan
                           : static_cast<double>(s.forward_rhs_evals + s.backward_rhs_evals +
                                                 s.vjp_evals + s.jvp_evals);
      });
      plots.push_back(PlotSeries(out_dir, "cost",
                                 "W1b: cost vs stiffness (forward + backward f evaluations, "
                                 "VJPs and JVPs)",
                                 "evaluations of f, VJP, JVP", cost, true));
    }
    const auto w1_err =
        series_for("W1", [&](const Record& r) { return r.run.Finite() ? r.error.abs : nan; });
    if (!w1_err.empty()) {
      plots.push_back(PlotSeries(out_dir, "gradient_error_w1",
                                 "W1: absolute gradient error vs stiffness (e^{-{/Symbol l}} "
                                 "underflows for {/Symbol l} > 745)",
                                 "absolute gradient error", w1_err, true));
    }
    if (!panels.empty()) plots.push_back(PlotReconstruction(out_dir, panels));
    for (const PlotResult& plot : plots) {
      plot_files.insert(plot_files.end(), plot.files.begin(), plot.files.end());
      if (!plot.note.empty()) out << "  note: " << plot.note << "\n";
    }
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json summary_json = summary;
  nlohmann::json lambdas_json = options.lambdas;
  nlohmann::json notes_json = notes;
  nlohmann::json files_json = plot_files;
  WriteJson(out_dir + "/stiffness_results.json", {{"lambdas", lambdas_json},
                                                  {"ok_tol", options.ok_tol},
                                                  {"abs_tol", kAbsTol},
                                                  {"runs", runs},
                                                  {"neural", neural_json},
                                                  {"summary", summary_json},
                                                  {"notes", notes_json},
                                                  {"plots", files_json},
                                                  {"wall_seconds", seconds}});
  out << "\nwrote " << out_dir << "/stiffness_results.csv, stiffness_results.json"
      << (neural.empty() ? "" : ", neural_training.csv");
  for (const std::string& file : plot_files) {
    out << ", " << file.substr(file.find_last_of('/') + 1);
  }
  out << "\ntotal time " << FormatSeconds(seconds) << "\n";
  return 0;
}

}  // namespace
}  // namespace snode::app

int main(int argc, char** argv) {
  return snode::app::RunApp([&] { return snode::app::Run(argc, argv); });
}
