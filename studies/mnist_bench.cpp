#include "studies/mnist_bench.hpp"

#include <cctype>
#include <iostream>
#include <streambuf>

#include "studies/mnist_trainer.hpp"
#include "studies/report.hpp"

namespace snode::mnist {
namespace {

// A stream that discards everything written to it.
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(&buffer_) {}

 private:
  class Buffer : public std::streambuf {
   protected:
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  };
  Buffer buffer_;
};

// A configuration's samples over its repetitions.
struct SampleSummary {
  bench::Spread time;                      // of the per-repetition medians of the epoch times
  bench::Spread cpu;                       // the same for the CPU time
  bench::Spread with_eval, with_eval_cpu;  // epoch + test-set evaluation, wall and CPU
  bench::Spread accuracy;                  // test accuracy, %
  double nfe_forward = 0.0, nfe_backward = 0.0, train_loss = 0.0;  // medians
};

// The spread over repetitions of each repetition's median over its epochs.
bench::Spread SummarizeMedians(const std::vector<std::vector<double>>& per_repetition) {
  std::vector<double> medians;
  for (const auto& times : per_repetition) medians.push_back(bench::Median(times));
  return bench::Summarize(medians);
}

SampleSummary Summarize(const BenchSamples& samples) {
  return {
      SummarizeMedians(samples.epoch_seconds),     SummarizeMedians(samples.epoch_cpu_seconds),
      SummarizeMedians(samples.with_eval_seconds), SummarizeMedians(samples.with_eval_cpu_seconds),
      bench::Summarize(samples.accuracy_percent),  bench::Median(samples.nfe_forward),
      bench::Median(samples.nfe_backward),         bench::Median(samples.train_loss)};
}

}  // namespace

std::vector<BenchConfig> BenchConfigs() {
  return {
      {"dopri5 1e-3, 1 thread", "dopri5", 1},    {"dopri5 1e-3, 2 threads", "dopri5", 2},
      {"rk4 4 steps, 1 thread", "rk4", 1, 0.25}, {"rk4 4 steps, 2 threads", "rk4", 2, 0.25},
      {"no-ODE ablation, 1 thread", "", 1},
  };
}

Settings BenchSettings(const Settings& base, const BenchConfig& config, long epochs) {
  Settings s = base;
  s.epochs = epochs;
  s.threads = config.threads;
  s.no_ode = config.integrator.empty();
  s.checkpoint_every = 0;
  s.quiet = true;
  s.check_gradients = false;
  s.resume.clear();
  if (!s.no_ode) {
    IntegratorOptions io = s.solver.integrator_options;
    io.rtol = io.atol = 1e-3;
    io.fixed_step = config.fixed_step;
    s.solver.integrator = config.integrator;
    s.solver.integrator_options = io;
    s.solver.gradient_options.integrator = config.integrator;
    s.solver.gradient_options.integrator_options = io;
  }
  std::string name;
  for (const char c : config.label) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') name += c;
    if (c == ' ') name += '_';
  }
  s.out_dir = base.out_dir + "/runs/" + name;
  return s;
}

BenchSamples MeasureBench(const Settings& s, int repetitions) {
  BenchSamples samples;
  for (int rep = 0; rep < repetitions; ++rep) {
    NullStream discard;
    const std::vector<EpochRecord> history = RunTraining(s, discard, std::cerr);
    std::vector<double> times, cpu, with_eval, with_eval_cpu;
    for (const EpochRecord& r : history) {
      times.push_back(r.epoch_seconds);
      cpu.push_back(r.epoch_cpu_seconds);
      with_eval.push_back(r.epoch_seconds + r.eval_seconds);
      with_eval_cpu.push_back(r.epoch_cpu_seconds + r.eval_cpu_seconds);
    }
    samples.epoch_seconds.push_back(times);
    samples.epoch_cpu_seconds.push_back(cpu);
    samples.with_eval_seconds.push_back(with_eval);
    samples.with_eval_cpu_seconds.push_back(with_eval_cpu);
    samples.nfe_forward.push_back(history.back().nfe_forward);
    samples.nfe_backward.push_back(history.back().nfe_backward);
    samples.accuracy_percent.push_back(100.0 * history.back().test_accuracy);
    samples.train_loss.push_back(history.back().train_loss);
  }
  return samples;
}

std::vector<bench::BenchRow> BenchRows(const BenchConfig& config, const Settings& s, long epochs,
                                       const BenchSamples& samples) {
  const SampleSummary m = Summarize(samples);
  std::vector<bench::BenchRow> rows;
  bench::BenchRow row = bench::MakeRow("W4", config.label, "time per epoch", "s", m.time);
  bench::SetCpu(row, m.cpu);
  if (config.integrator == "dopri5" && s.solver.gradient == "bptt") {
    bench::SetTarget(row, 0.18, "<= 0.18 s");
  }
  row.note = "NFE/batch fwd " + FormatNumber(m.nfe_forward, 4) + ", bwd " +
             FormatNumber(m.nfe_backward, 4) + ", test acc after " + std::to_string(epochs) +
             " epoch" + (epochs == 1 ? "" : "s") + " " + FormatNumber(m.accuracy.median, 4) + "%";
  rows.push_back(row);
  row = bench::MakeRow("W4", config.label, "epoch + test evaluation", "s", m.with_eval);
  bench::SetCpu(row, m.with_eval_cpu);
  rows.push_back(row);
  if (s.no_ode || epochs != 1) return rows;
  row = bench::MakeRow("W4", config.label, "test accuracy, epoch 1", "%", m.accuracy);
  bench::SetTarget(row, 91.1, ">= 91.1% (torchdiffeq)", false);
  rows.push_back(row);
  return rows;
}

nlohmann::json BenchDetail(const BenchConfig& config, const Settings& s, long epochs,
                           const BenchSamples& samples) {
  const SampleSummary m = Summarize(samples);
  return {{"configuration", config.label},
          {"integrator", s.no_ode ? "none" : config.integrator},
          {"gradient", s.no_ode ? "none" : s.solver.gradient},
          {"threads", config.threads},
          {"epochs_per_repetition", epochs},
          {"seconds_per_epoch", bench::SpreadJson(m.time)},
          {"cpu_seconds_per_epoch", bench::SpreadJson(m.cpu)},
          {"seconds_per_epoch_with_evaluation", bench::SpreadJson(m.with_eval)},
          {"cpu_seconds_per_epoch_with_evaluation", bench::SpreadJson(m.with_eval_cpu)},
          {"nfe_forward_per_batch", bench::SpreadJson(bench::Summarize(samples.nfe_forward))},
          {"nfe_backward_per_batch", bench::SpreadJson(bench::Summarize(samples.nfe_backward))},
          {"test_accuracy_percent", bench::SpreadJson(m.accuracy)},
          {"train_loss", bench::SpreadJson(bench::Summarize(samples.train_loss))}};
}

void RunBench(const Settings& base, long epochs, int repetitions) {
  std::vector<bench::BenchRow> rows;
  nlohmann::json details = nlohmann::json::array();
  Table table({"configuration", "time/epoch", "min", "max", "CPU/epoch", "with eval (CPU)",
               "NFE fwd/batch", "NFE bwd/batch", "test acc", "train loss"});
  for (const BenchConfig& config : BenchConfigs()) {
    const Settings s = BenchSettings(base, config, epochs);
    const BenchSamples samples = MeasureBench(s, repetitions);
    const SampleSummary m = Summarize(samples);
    table.AddRow({config.label, FormatSeconds(m.time.median), FormatSeconds(m.time.min),
                  FormatSeconds(m.time.max), FormatSeconds(m.cpu.median),
                  FormatSeconds(m.with_eval_cpu.median), FormatNumber(m.nfe_forward, 4),
                  FormatNumber(m.nfe_backward, 4), FormatNumber(m.accuracy.median, 4) + "%",
                  FormatNumber(m.train_loss, 4)});
    for (bench::BenchRow& row : BenchRows(config, s, epochs, samples)) rows.push_back(row);
    details.push_back(BenchDetail(config, s, epochs, samples));
  }
  std::cout << "W4 bench: MNIST ODE-Net, " << base.data.dir << " split " << base.data.split
            << ", batch " << base.batch << ", Adam lr " << base.lr << ", gradient "
            << base.solver.gradient << ", " << epochs << " epoch" << (epochs == 1 ? "" : "s")
            << " per repetition (epoch time excludes evaluation; CPU time counts every thread)\n";
  table.Print(std::cout);
  bench::WriteBenchReport(base.out_dir, "mnist_classifier", "W4", repetitions, rows,
                          {{"runs", details},
                           {"data", base.data.dir},
                           {"split", base.data.split},
                           {"epochs_per_repetition", epochs},
                           {"batch", base.batch}});
}

}  // namespace snode::mnist
