#pragma once
// The seed's adjoint-failure experiment on its decay dy/dt = −λy, y(0) = 1, t ∈ (0, 1),
// L = y(1) (problems/decay.hpp): exact y(1) = e^{−λ}, dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}.
//
// Per λ and method (gradient method × integrator): the forward value y(1) and its error, both
// gradients and their errors, the backsolve adjoint's reconstructed y(0) (exact: 1), f
// evaluations forward/backward, time and a verdict:
//   ok          every gradient component within ok_tol relative of the exact value (where
//               e^{−λ} underflows to 0 in double: |error| ≤ kGradientAbsTol)
//   reasonable  finite and within usable_abs absolute (fine on the scale of y0 = 1 for a
//               gradient step, even if not relatively accurate)
//   inaccurate / non-finite / failed
// The findings state, from the rows, whether "λ small works reasonably, λ large fails" holds for
// each backsolve method and which methods are correct at the largest λ.
//
// The bench (RunDecayBench): the decay ("W1") and the two-rate decay ("W1b") over a λ sweep by
// BPTT, the backsolve adjoint and the CVODES adjoint at two tolerances, repeated.

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "studies/gradient_study.hpp"

namespace snode {

struct DecayOptions {
  std::vector<double> lambdas;  // sorted, unique, positive
  double ok_tol = 1e-3;
  double usable_abs = 1e-6;
  bool plots = true;
  MethodOverrides overrides;
  std::string out_dir;
};

// The seed's backsolve adjoint (dopri5 at a torchdiffeq-like tolerance and at a purely relative
// one), BPTT with explicit, adaptive and implicit steps, and the remedies (checkpointed CVODES
// adjoint, exponential backward pass).
std::vector<MethodSpec> SeedMethods();
// SelectMethods(SeedMethods(), overrides): filtered by --gradient/--integrator (the one pair
// from the given settings when nothing matches), the explicit settings applied.
std::vector<MethodSpec> SelectSeedMethods(const MethodOverrides& overrides);

struct DecayRow {
  double lambda = 0.0;
  GradientRun run;
  double forward = std::numeric_limits<double>::quiet_NaN();  // y(1)
  GradientError error;
  std::string verdict;
  bool has_reconstruction = false;  // a backsolve run that did not throw
  double y0_rec = std::numeric_limits<double>::quiet_NaN();
  std::string reconstruction_message;
};

// Classify's status, with "inaccurate" split into "reasonable" (abs error ≤ usable_abs) and
// "inaccurate".
std::string Verdict(const GradientRun& run, const GradientError& error, const Vector& exact,
                    double ok_tol, double usable_abs);
// One method on the decay at lambda (with the backsolve's reconstructed y(0)).
DecayRow EvaluateDecay(const MethodSpec& spec, double lambda, double ok_tol, double usable_abs);

struct DecayResults {
  std::vector<MethodSpec> methods;  // the supported methods, in order
  std::vector<DecayRow> rows;       // per λ, per method
  std::vector<std::string> findings;
  std::vector<std::string> notes;  // skipped pairs
};
DecayResults RunDecayStudy(const DecayOptions& options);
// See the file comment (lambdas sorted).
std::vector<std::string> DecayFindings(const std::vector<DecayRow>& rows,
                                       const std::vector<MethodSpec>& methods,
                                       const std::vector<double>& lambdas);

// ---------------------------------------------------------------- bench

// BPTT and the backsolve adjoint with dopri5 at rtol = atol = 1e-6 and 1e-9; rk4 and backward
// Euler (BPTT) at h = 1e-3; the checkpointed CVODES adjoint with BDF at the same tolerances.
std::vector<MethodSpec> DecayBenchMethods();

struct DecayBenchCell {
  std::size_t problem = 0;  // index into DecayBench::problems
  MethodSpec spec;
  std::vector<double> seconds;  // per repetition
  GradientRecord last;          // the last repetition (status: a NaN/Inf stop is "non-finite")
};
struct DecayBench {
  std::vector<StudyProblem> problems;  // "W1" per λ, then "W1b" per λ
  std::vector<MethodSpec> methods;     // supported
  std::vector<DecayBenchCell> cells;   // per problem, per method
  // "<problem>|<label>" → the time of the whole λ sweep, per repetition.
  std::map<std::string, std::vector<double>> sweep_seconds;
  std::vector<std::string> notes;
};
DecayBench RunDecayBench(const std::vector<double>& lambdas, double ok_tol, int repetitions);
// "λ=1 ok, λ=10 inaccurate, …" of one problem and method; finished: no λ "failed".
std::string SweepNote(const DecayBench& bench, const std::string& problem, const std::string& label,
                      bool* finished);

}  // namespace snode
