#pragma once
// The MNIST classifier's bench matrix: the ODE-Net with dopri5 (rtol = atol = 1e-3) and with rk4
// (4 steps), each on 1 and 2 threads, and the no-ODE ablation; every configuration trained
// `repetitions` times from the same settings, its per-epoch measurements summarised in a table,
// summary rows and <out>/bench.json (studies/bench_util.hpp).

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "studies/bench_util.hpp"
#include "studies/mnist_settings.hpp"

namespace snode::mnist {

struct BenchConfig {
  std::string label;       // "dopri5 1e-3, 2 threads"
  std::string integrator;  // "" for the ablation
  long threads = 1;
  double fixed_step = 0.0;  // IntegratorOptions::fixed_step (0: adaptive)
};

// The five configurations, in report order.
std::vector<BenchConfig> BenchConfigs();

// base for one configuration: `epochs` epochs, the configuration's integrator (its tolerances
// and step) and threads, no checkpoints between epochs, no progress line, no gradient check, no
// resume, output in <base.out_dir>/runs/<label without punctuation, spaces as '_'>.
Settings BenchSettings(const Settings& base, const BenchConfig& config, long epochs);

// One entry per repetition: the times of its epochs (s), and its last epoch's NFE per batch,
// test accuracy (%) and train loss.
struct BenchSamples {
  std::vector<std::vector<double>> epoch_seconds;
  // Per repetition and epoch: CPU seconds of the training, wall and CPU seconds of the training
  // plus the test-set evaluation.
  std::vector<std::vector<double>> epoch_cpu_seconds, with_eval_seconds, with_eval_cpu_seconds;
  std::vector<double> nfe_forward, nfe_backward, accuracy_percent, train_loss;
};

// Trains s `repetitions` times (the runs' reports are discarded; warnings still go to stderr).
BenchSamples MeasureBench(const Settings& s, int repetitions);

// The summary rows of one configuration run with settings s (BenchSettings) for `epochs` epochs:
// the time per epoch (the median over a repetition's epochs, then over repetitions; held against
// 0.18 s for dopri5 with bptt) and, for the ODE-Net after one epoch, the test accuracy against
// torchdiffeq's 91.1%.
std::vector<bench::BenchRow> BenchRows(const BenchConfig& config, const Settings& s, long epochs,
                                       const BenchSamples& samples);
// The configuration's entry of bench.json's "runs".
nlohmann::json BenchDetail(const BenchConfig& config, const Settings& s, long epochs,
                           const BenchSamples& samples);
// Every configuration, `epochs` epochs per repetition: the header line and table on stdout, then
// the summary and <base.out_dir>/bench.json.
void RunBench(const Settings& base, long epochs, int repetitions);

}  // namespace snode::mnist
