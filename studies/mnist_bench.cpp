#include "studies/mnist_bench.hpp"

#include <cctype>
#include <iostream>
#include <streambuf>

#include "studies/mnist_trainer.hpp"

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

}  // namespace

std::vector<BenchConfig> BenchConfigs() {
  return {
      {"dopri5 1e-3, 1 thread", "dopri5", 1}, {"dopri5 1e-3, 2 threads", "dopri5", 2},
      {"rk4 4 steps, 1 thread", "rk4", 1},    {"rk4 4 steps, 2 threads", "rk4", 2},
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
    io.fixed_step = config.integrator == "rk4" ? 0.25 : 0.0;
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
    std::vector<double> times;
    for (const EpochRecord& r : history) times.push_back(r.epoch_seconds);
    samples.epoch_seconds.push_back(times);
    samples.nfe_forward.push_back(history.back().nfe_forward);
    samples.nfe_backward.push_back(history.back().nfe_backward);
    samples.accuracy_percent.push_back(100.0 * history.back().test_accuracy);
    samples.train_loss.push_back(history.back().train_loss);
  }
  return samples;
}

}  // namespace snode::mnist
