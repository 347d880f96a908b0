#pragma once
// The stiffness study: where each gradient method breaks as a problem gets stiffer.
//
// Any registered problem (problems/problem_registry.hpp: built-ins, plug-ins, problem files, the
// library API) is swept over its stiffness parameter λ; at every λ every method of the matrix
// (studies/stiffness_plan.hpp: gradient method × integrator × tolerance) computes the gradient of
// the problem's loss, which is compared with the exact gradient where the problem declares one,
// otherwise with a reference the study computes itself (problems/reference.hpp: a tight
// cvodes_adjoint cross-checked by central differences; every record says which). The runs are
// independent and spread over a thread pool; the records come out in the same order, with the
// same numbers, whatever the thread count (timings aside).
//
// A solver failure in one run is a status (ok / inaccurate / flagged / non-finite / failed),
// never the end of the study; "flagged" is a run whose method's own diagnosis
// (GradientStats::flagged) says its gradient cannot be trusted, shown with the diagnosis.
//
// The bench (RunRobertsonBench): dL/dk on Robertson for every horizon and both losses (final
// time, sum of observations) by the Robertson methods plus a ladder of CVODES adjoint
// configurations, repeated; on T ≥ 1e5 the fastest rung with dL/dk to 1e-6 relative is the one
// held against the target (TargetRungs).

#include <chrono>
#include <cstdint>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/gradient_reducer.hpp"
#include "problems/problem_registry.hpp"
#include "problems/robertson.hpp"
#include "studies/gradient_study.hpp"
#include "studies/stiffness_plan.hpp"

namespace snode {

struct StiffnessOptions {
  std::string preset = "default";     // studies/stiffness_plan.hpp: quick, default, full
  std::vector<std::string> problems;  // registry names in run order; empty: the preset's
  std::vector<double> lambdas;        // the λ grid of swept problems; empty: each problem's
  std::vector<MethodRecipe> methods;  // empty: the preset's matrix
  std::vector<double> tolerances;     // rtol of adaptive methods; empty: the preset's
  double ok_tol = 1e-3;               // relative gradient error up to which a run is ok
  int threads = 1;                    // runs in parallel (results do not depend on it)
  long max_steps = 50000;             // every run's step budget (0: the integrators' own)
  std::vector<double> robertson_horizons = {40.0, 1e5};  // the bench's horizons
  int train_neural = -1;                                 // -1: as the preset says; 0 / 1: off / on
  int neural_iterations = 30;
  double neural_lr = 1e-2;
  bool plots = true;
  bool tables = false;  // also print every problem's full table on the terminal
  MethodOverrides overrides;
  std::uint64_t seed = 0;
  bool check_gradients = false;  // central differences vs the exact gradient, as notes
  bool quiet = false;
  std::string out_dir;
};

// ---------------------------------------------------------------- method matrices

// Robertson: tiny absolute tolerances; dopri5 gets a step budget so it fails fast.
std::vector<MethodSpec> RobertsonMethods();
// The bench's ladder of cvodes_adjoint configurations on Robertson.
std::vector<MethodSpec> RobertsonTargetLadder();
// cvodes_adjoint with its option quadrature (CvodesAdjointOptions::quadrature) set (" q=…").
MethodSpec WithQuadrature(MethodSpec spec, const std::string& quadrature);
// The exponential jump layer with separate backward tolerances (" bwd=…/… layer=on").
MethodSpec WithJumpLayer(MethodSpec spec, double backward_rtol, double backward_atol);
MethodSpec WithoutJumpLayer(MethodSpec spec);  // " layer=off"

// ---------------------------------------------------------------- non-normal system

// The stiffness at which the study runs "nonnormal".
inline constexpr double kNonNormalStiffness = 1e5;
// "nonnormal" with stiffness λ (problems::NonNormalLinearProblem(λ, 1)).
StudyProblem NonNormalStudyProblem(double lambda);

// ---------------------------------------------------------------- Robertson

// "W5 T=<T>" (final-time loss) or "W5 T=<T> sum" (sum of observations); λ and exact are set by
// AttachReference.
StudyProblem RobertsonStudyProblem(double horizon, bool sum_of_observations);

struct StudyReference {
  bool ok = false;
  Vector gradient;          // [dθ; dz0]
  std::string description;  // what it is and how it was cross-checked
  double lambda = 0.0;      // spectral radius of ∂f/∂y at T
};
// The reference in words from problems::ComputeRobertsonReference's parts (p = number of
// parameters: the cross-check compares dL/dk only).
StudyReference DescribeReference(const problems::RobertsonReference& reference, Index p);
// Computes the reference of problem and returns it described.
StudyReference ComputeStudyReference(const StudyProblem& problem);

// ---------------------------------------------------------------- neural ODE on stiff data

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

// `iterations` Adam steps (optim/adam.hpp, learning rate lr) from setup.ode.theta with spec's
// gradients, stopping at the first non-finite loss or gradient or exception; then the final
// parameters re-scored by one tight solve.
NeuralRecord TrainNeural(const MethodSpec& spec, const problems::ProblemSetup& setup,
                         int iterations, double lr, bool quiet);

// ---------------------------------------------------------------- the study

// The backsolve adjoint's backward reconstruction of the decay ("W1") at one λ (for the plot and
// summary).
struct BacksolvePanel {
  double lambda = 0.0;
  std::string method;  // "dopri5 tol=1e-6"
  Reconstruction reconstruction;
};

// A problem as the study ran it.
struct StudiedProblem {
  std::string name;  // registry name, as in the records
  problems::ProblemCapabilities capabilities;
  std::vector<double> lambdas;          // the sweep run
  std::vector<std::string> references;  // per λ: "exact" or how the reference was computed
  std::vector<std::string> methods;     // labels of the methods run on it
};

struct StiffnessResults {
  std::string preset;
  int threads = 1;
  std::vector<StudiedProblem> problems;
  std::vector<GradientRecord> records;  // problem by problem, λ ascending, methods in order
  std::vector<NeuralRecord> neural;
  std::vector<BacksolvePanel> panels;  // only with plots
  std::vector<std::string> summary;    // findings in words
  std::vector<std::string> notes;      // skipped pairs, --check-gradients, missing plots
};

// Runs the study: a header line on out, a progress bar on stderr (a terminal only, not quiet),
// and with options.tables every problem's full table; the verdict is the caller's to print.
//
// Over ranks (collective: every rank calls it with the same options): the problem instances
// (their reference gradients) and the runs are dealt to the ranks in a fixed shuffled order,
// each rank runs its deal on options.threads threads, and rank 0 gathers the records
// (studies/record_transfer.hpp) into job order. Rank 0 then trains, reconstructs, prints and
// returns the results of the serial study, timings aside; the other ranks print nothing and
// return the problems and notes without records. An error on one rank ends the job through the
// caller (RunOnRanks' abort), not through the others.
StiffnessResults RunStiffnessStudy(const StiffnessOptions& options, std::ostream& out,
                                   GradientReducer& ranks = SerialReduction());

// The problems a study runs (options.problems or the preset's; the preset "full": every
// registered one), checked against the registry (ConfigError naming an unknown one).
std::vector<std::string> SelectedProblems(const StiffnessOptions& options);

// ---------------------------------------------------------------- summary

// Per problem: the methods ok everywhere, where the others fail, gradients the method itself
// flagged (problems run at more than one λ name the λ values).
std::vector<std::string> SummarizeProblems(const std::vector<GradientRecord>& records);
// The neural runs: the lowest re-scored loss and the breakdowns.
std::vector<std::string> SummarizeNeural(const std::vector<NeuralRecord>& neural);
// Both, in that order.
std::vector<std::string> Summarize(const std::vector<GradientRecord>& records,
                                   const std::vector<NeuralRecord>& neural);
// "- Backsolve reconstruction of W1 at λ = …: z_rec(0) = … | broke down before … | no data".
std::string PanelSummary(const BacksolvePanel& panel);

// ---------------------------------------------------------------- bench

struct RobertsonBenchCell {
  std::size_t problem = 0;  // index into RobertsonBench::problems
  MethodSpec spec;
  bool ladder = false;                                       // a rung of RobertsonTargetLadder()
  std::vector<double> seconds;                               // per repetition
  std::vector<double> cpu_seconds;                           // per repetition
  GradientRecord last;                                       // the last repetition
  double dk_rel = std::numeric_limits<double>::quiet_NaN();  // max_i |dk_i − ref_i| / |ref_i|
};
struct RobertsonBench {
  std::vector<StudyProblem> problems;  // per horizon: "W5 T=… final", "W5 T=… sum"; λ = T
  std::vector<RobertsonBenchCell> cells;
  std::vector<std::string> references;  // "<problem>: <reference description>"
  std::vector<std::string> notes;
};
RobertsonBench RunRobertsonBench(const StiffnessOptions& options, int repetitions);
// Per problem with T ≥ 1e5: the index of the ladder cell held against the target, the fastest
// (by medians[i]) with dL/dk to 1e-6, or when none reaches it the most accurate.
std::vector<std::size_t> TargetRungs(const RobertsonBench& bench,
                                     const std::vector<double>& medians);

}  // namespace snode
