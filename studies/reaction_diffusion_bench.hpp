#pragma once
// The neural reaction–diffusion scaling benchmark (docs/performance-scaling.md, "Reaction–
// diffusion at scale"): gradients dL/dθ of the problem of problems/reaction_diffusion.hpp at a
// list of grid sizes N, through every gradient method that fits, with
//   - time per gradient (median over repetitions, wall and CPU), steps, f/JVP/VJP counts,
//     preconditioner setups and solves, Newton and Krylov iterations (and their ratio),
//   - peak resident memory of each run (the process's high-water mark, reset before the run),
//   - the error against a tight reference (cvodes_adjoint at reference_rtol/atol) and, up to
//     difference_max_points, of that reference against central differences on a few θ entries,
//   - the ratio time(10N)/time(N), from the medians and from back-to-back pairs of the main
//     method (ScalingSize::paired_ratios), and a cost breakdown of the main method (network,
//     operator, preconditioner, the rest: SUNDIALS and vector work) from the field's cost recorder.
// Methods that cannot run at a size say why instead of running (bptt's tape beyond
// tape_limit_bytes, the explicit baseline beyond explicit_max_points, dense Newton refused).
//
// Output: a table on `out`, <out_dir>/w6_scaling.csv, <out_dir>/bench.json (the summary rows
// with the workload's targets, studies/bench_util.hpp) and, with plots, the log–log figure
// <out_dir>/w6_time_vs_n.{png,svg}. Throws ConfigError for bad options; a method that fails at
// a size is recorded as failed with its message, not thrown.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "studies/gradient_study.hpp"

namespace snode {

struct ReactionDiffusionBenchOptions {
  std::vector<Index> sizes = {100, 1000, 10000, 100000};
  int repetitions = 3;
  double rtol = 1e-6;  // forward and backward, as the workload states
  double atol = 1e-8;
  double reference_rtol = 1e-10;
  double reference_atol = 1e-12;
  Index difference_max_points = 1000;  // central differences on a few θ entries up to this N
  int difference_entries = 3;
  Index explicit_max_points = 1000;          // bptt/dopri5 (steps ∝ N²) up to this N
  Index unpreconditioned_max_points = 1000;  // cvodes_adjoint with plain GMRES up to this N
  Index band_max_points = 10000;             // cvodes_adjoint with the band preconditioner
  double tape_limit_bytes = 2e9;             // bptt/sdirk while its tape estimate stays below
  std::uint64_t seed = 0;
  std::string out_dir = "results/reaction_diffusion";
  bool plots = true;

  // ConfigError naming the option.
  void Validate() const;
};

// One method at one size.
struct ScalingRun {
  std::string label;  // "cvodes_adjoint/cvodes_bdf gmres+field"
  Index points = 0;
  bool ran = false;
  std::string skipped;          // why it did not run (empty when it ran)
  GradientRun last;             // the last repetition
  std::vector<double> seconds;  // wall time per repetition
  std::vector<double> cpu_seconds;
  double peak_rss_bytes = 0.0;  // high-water mark of the process during the first repetition
  double error = 0.0;  // ‖g − g_ref‖₂ / ‖g_ref‖₂ over dL/dθ (NaN without a reference)
  double max_component_error = 0.0;  // max_i |g_i − g_ref,i| / ‖g_ref‖∞ over dL/dθ
  // Field costs of the first repetition (the main method only; zero otherwise).
  double operator_seconds = 0.0, pointwise_seconds = 0.0, setup_seconds = 0.0, solve_seconds = 0.0;
  long operator_calls = 0, pointwise_calls = 0;
};

struct ScalingSize {
  Index points = 0;
  double data_seconds = 0.0;       // the Brusselator data (BDF at rtol 1e-10)
  double reference_seconds = 0.0;  // the tight reference gradient
  Vector reference;                // dL/dθ of the reference (empty if it failed)
  std::string reference_failure;
  // Central differences of the reference on a few θ entries (N ≤ difference_max_points).
  std::vector<Index> difference_entries;
  std::vector<double> differences;
  double difference_error = 0.0;  // max_i |g_ref,i − d_i| / max(|d_i|, 1e-3‖g_ref‖∞); NaN if none
  std::vector<ScalingRun> runs;
  // time(N)/time(N/10) of the main method from back-to-back pairs (empty when N/10 was not
  // run or the main method failed at either size): pair k times a gradient at N/10 and then one
  // at N, each the second of two in a row (warm, as in a training loop). Both sides of a ratio
  // are measured seconds apart, so a change of machine speed between the sizes' own runs (on a
  // shared machine, ±30% within minutes) does not enter it.
  std::vector<double> paired_small_seconds, paired_seconds, paired_ratios;
};

// Runs the benchmark, printing one progress line per run on `progress` (nothing when null).
std::vector<ScalingSize> RunReactionDiffusionBench(const ReactionDiffusionBenchOptions& options,
                                                   std::ostream* progress);

// Prints the tables and writes the files described above.
void ReportReactionDiffusionBench(const ReactionDiffusionBenchOptions& options,
                                  const std::vector<ScalingSize>& sizes, std::ostream& out);

// The label of the method every acceptance figure is about: cvodes_adjoint with the field's
// preconditioner and an sdirk backward (the interpolating adjoint over the recorded forward).
const char* MainScalingMethod();
// The label of cvodes_adjoint with CVODES' checkpointed BDF backward, the method of the tight
// reference (at reference_rtol/atol) and a row of the tables.
const char* ReferenceScalingMethod();

// Peak resident memory: resets the process's high-water mark (Linux /proc/self/clear_refs; false
// when that is not possible, and the mark then covers the whole process life) and reads it
// (VmHWM, bytes; NaN when unavailable).
bool ResetPeakResidentMemory();
double PeakResidentMemoryBytes();

}  // namespace snode
