#pragma once
// The stiffness study: where each gradient method breaks as a problem gets stiffer.
//
// For a stiffness parameter λ and every pair (gradient method × integrator it accepts) the study
// computes the gradient of a loss through the ODE solve and compares it with the exact (or a
// tight reference) gradient, on
//   "W1"   the seed's decay dy/dt = −λy, y(0) = 1, L = y(1) (problems/decay.hpp; e^{−λ}
//          underflows for λ ≳ 745, so it is judged with an absolute part too),
//   "W1b"  the two-rate decay z' = diag(−1, −λ) z, L = Σ_t z1 + z2 at four times (closed form),
//   "W5"   Robertson kinetics, L = y1(T) + 1e4·y2(T) (problems/robertson.hpp) against a tight
//          cvodes_adjoint reference cross-checked by central differences; its "λ" is the spectral
//          radius of ∂f/∂y at T,
//   "nonnormal" the stiff non-normal 4 × 4 system z' = A z (problems/nonnormal_linear.hpp) at
//          the fixed stiffness s = 1e5 whatever the λ sweep (the case where bptt/dopri5 breaks
//          at rtol ≤ 1e-9; dopri5 takes ~3e4 steps), L = Σ z(1), exact gradient by the matrix
//          exponential; judged relatively,
//   neural an MLP trained for a few Adam steps on trajectories of the two-rate decay
//          (problems/stiff_neural.hpp) with each method; training losses compared, final
//          models re-scored by one tight cvodes_bdf solve.
// A solver failure in one run is a status (ok / inaccurate / flagged / non-finite / failed),
// never the end of the study; "flagged" is a run whose method's own diagnosis
// (GradientStats::flagged) says its gradient cannot be trusted, shown with the diagnosis. The
// summary states in words, from the records, where each method is ok.
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

#include "problems/robertson.hpp"
#include "studies/gradient_study.hpp"

namespace snode {

struct StiffnessOptions {
  std::vector<double> lambdas;     // sorted, unique, positive
  std::set<std::string> problems;  // of "w1", "w1b", "robertson", "neural", "nonnormal"
  double ok_tol = 1e-3;            // relative gradient error up to which a run is ok
  std::vector<double> robertson_horizons;
  int neural_iterations = 30;
  double neural_lambda = 1e3;
  double neural_lr = 1e-2;
  bool plots = true;
  MethodOverrides overrides;
  std::uint64_t seed = 0;
  bool check_gradients = false;  // central differences vs the exact gradient, as notes
  bool quiet = false;
  std::string out_dir;
};

// The problem names --problems accepts.
const std::set<std::string>& StiffnessProblemNames();

// ---------------------------------------------------------------- method matrices

// The default matrix on the decay and two-rate decay problems: explicit, adaptive, implicit,
// exponential and checkpointed methods.
std::vector<MethodSpec> StiffDecayMethods();
// Robertson: tiny absolute tolerances; dopri5 gets a step budget so it fails fast.
std::vector<MethodSpec> RobertsonMethods();
// The neural problem: moderate tolerances, as in training.
std::vector<MethodSpec> NeuralMethods();
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

struct StiffnessResults {
  std::vector<GradientRecord> records;  // decay, two-rate decay, Robertson, in order
  std::vector<NeuralRecord> neural;
  std::vector<BacksolvePanel> panels;  // only with plots
  std::vector<std::string> summary;    // findings in words
  std::vector<std::string> notes;      // skipped pairs, --check-gradients, missing plots
};

// Runs the study, printing each problem's table on out as it completes (then the summary).
StiffnessResults RunStiffnessStudy(const StiffnessOptions& options, std::ostream& out);

// ---------------------------------------------------------------- summary

// Per problem: the methods ok everywhere, where the others fail, backsolve reconstructions the
// method itself flagged (the λ sweeps, "W1" and "W1b", name the λ values).
std::vector<std::string> SummarizeProblems(const std::vector<GradientRecord>& records);
// W1b at the largest λ: the gradients within 1e-6 relative, and the unusable ones.
std::vector<std::string> SummarizeHeadline(const std::vector<GradientRecord>& records,
                                           double ok_tol, const std::vector<double>& lambdas);
// The neural runs: the lowest re-scored loss and the breakdowns.
std::vector<std::string> SummarizeNeural(const std::vector<NeuralRecord>& neural);
// All three, in that order.
std::vector<std::string> Summarize(const std::vector<GradientRecord>& records,
                                   const std::vector<NeuralRecord>& neural, double ok_tol,
                                   const std::vector<double>& lambdas);
// "- Backsolve reconstruction of W1 at λ = …: z_rec(0) = … | broke down before … | no data".
std::string PanelSummary(const BacksolvePanel& panel);

// ---------------------------------------------------------------- bench

struct RobertsonBenchCell {
  std::size_t problem = 0;  // index into RobertsonBench::problems
  MethodSpec spec;
  bool ladder = false;                                       // a rung of RobertsonTargetLadder()
  std::vector<double> seconds;                               // per repetition
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
