#pragma once
// The Lotka–Volterra bench (lotka_volterra --bench N): the neural fit (rows "W2") or the
// parameter discovery (rows "W3") of studies/lotka_volterra_study.hpp, repeated N times for each
// of a list of configurations (gradient method, integrator, outputs).
//   neural: the median over the iterations of each repetition of the time per training iteration
//       (forward + gradient + Adam update), then the median (min, max) over repetitions; mean
//       forward/backward NFE per iteration; the loss every 50 iterations. Also the mean wall and
//       CPU time per iteration over all iterations, and per block of 50 iterations (0-49,
//       50-99, ...) the mean times and work counts, so a cost that changes over training shows.
//   discover: time and loss+gradient evaluations until the parameter error is below 1%.
// A configuration that throws stops its repetitions and is reported as failed. Output: a table
// on stdout and <out_dir>/bench.json (studies/bench_util.hpp).

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "studies/bench_util.hpp"
#include "studies/lotka_volterra_study.hpp"

namespace snode::lotka_volterra {

// One configuration: the gradient method, the integrator of the forward solves, whether outputs
// are interpolated (else a stop at every output time) and the backward integrator.
struct BenchConfig {
  std::string gradient;
  std::string integrator;
  bool interpolate = false;  // IntegratorOptions::interpolate_outputs
  std::string backward;      // GradientOptions::backward_integrator ("" = the forward one)

  // "bptt/dopri5 outputs=stop", "cvodes_adjoint/cvodes_adams+dopri5 outputs=interpolate".
  std::string Label() const;
  // settings with this configuration's method, integrator and outputs, and no progress line;
  // the method options (GradientOptions::method_settings) are kept for the same method only.
  StudySettings Apply(StudySettings settings) const;
};

// The workload's configurations: bptt/dopri5, backsolve_adjoint/dopri5, cvodes_adjoint with
// cvodes_bdf and with cvodes_adams, all with outputs as `interpolate` says. The neural fit runs
// bptt/dopri5 both with stops and interpolated, and adds the interpolating adjoint (CVODES
// forward, dopri5 backward over the recorded polynomials).
std::vector<BenchConfig> WorkloadBenchConfigs(bool neural, bool interpolate);

// Turns the --horizons text into the horizons (ConfigError for a bad list).
using HorizonParser = std::function<std::vector<double>(const std::string& text)>;

struct BenchSettings {
  StudySettings study;  // the base of every configuration; out_dir receives bench.json
  std::vector<BenchConfig> configs;
  int repetitions = 1;
  // discover: applied to DiscoverOptions::horizons_text in every repetition, so a bad list is
  // each configuration's failure.
  HorizonParser parse_horizons;
};

// ---------------------------------------------------------------- neural fit (rows "W2")
// Means over the iterations [first, last] of one training run.
struct BlockMeans {
  long first = 0, last = 0;
  double seconds = 0, cpu_seconds = 0;  // wall and process CPU time per iteration
  double forward_nfe = 0, backward_nfe = 0, forward_steps = 0, backward_steps = 0;
  double checkpoints = 0, backward_restarts = 0;
};
// The means over consecutive blocks of `block` iterations (the last block may be shorter) and,
// with block >= the iteration count, over the whole run. ConfigError unless block > 0.
std::vector<BlockMeans> IterationBlockMeans(const TrainResult& train, long block);

// The repetitions of one neural-fit configuration.
struct NeuralRuns {
  std::vector<double> medians;           // median seconds per iteration, per repetition
  std::vector<double> means, cpu_means;  // mean wall / CPU seconds per iteration, per repetition
  std::vector<std::vector<BlockMeans>> blocks;  // IterationBlockMeans(train, 50), per repetition
  std::vector<double> forward_nfe, backward_nfe, final_losses;
  std::vector<std::vector<double>> curves;  // loss every 50 iterations and the last, per repetition
  std::string failure;                      // what the failed repetition threw ("" = none)
  std::string init;                         // how the network was initialised
};
NeuralRuns RunNeuralConfig(const NeuralOptions& options, const StudySettings& settings,
                           const Observations& obs, int repetitions);
// The summary row: time per iteration against the target (bptt 0.66 ms, the others 2 ms).
bench::BenchRow NeuralRow(const BenchConfig& config, const NeuralRuns& runs);
// The second summary row: the CPU time per iteration averaged over all iterations, against the
// adjoints' targets (backsolve_adjoint 1.5 ms, cvodes_adjoint 1.0 ms; none for bptt).
bench::BenchRow NeuralMeanCpuRow(const BenchConfig& config, const NeuralRuns& runs);
// The configuration's entry of bench.json's "runs" (iterations: per repetition). Besides the
// median fields: "mean_seconds_per_iteration", "mean_cpu_seconds_per_iteration" (spreads over
// the repetitions) and "blocks" (per block of 50 iterations, the medians over the repetitions of
// the BlockMeans fields).
nlohmann::json NeuralDetails(const BenchConfig& config, const NeuralRuns& runs, int iterations);
// The table of the NeuralDetails entries, then the per-block table.
void PrintNeuralBenchTable(const nlohmann::json& details, std::ostream& out);
// Every configuration; the header line and table on stdout, then WriteBenchReport.
void RunNeuralBench(const NeuralOptions& options, const Observations& obs,
                    const BenchSettings& settings);

// ---------------------------------------------------------------- discovery (rows "W3")
// The repetitions of one discovery configuration.
struct DiscoverRuns {
  std::vector<double> to_one_percent;  // seconds until below 1% (NaN: never)
  std::vector<double> evals;           // evaluations until below 1% (-1: never)
  std::vector<double> errors;          // final relative parameter error
  std::vector<double> total;           // seconds of the whole fit
  std::string failure;
};
DiscoverRuns RunDiscoverConfig(const DiscoverOptions& options, const StudySettings& settings,
                               const Observations& obs, int repetitions,
                               const HorizonParser& parse_horizons);
// The summary row: time to < 1% error against 1 s (not met when a repetition never got there).
bench::BenchRow DiscoverRow(const BenchConfig& config, const DiscoverRuns& runs);
nlohmann::json DiscoverDetails(const BenchConfig& config, const DiscoverRuns& runs);
// Every configuration; the header line on stdout, then WriteBenchReport.
void RunDiscoverBench(const DiscoverOptions& options, const Observations& obs,
                      const BenchSettings& settings);

}  // namespace snode::lotka_volterra
