#include "apps/cli/lotka_volterra_cli.hpp"

#include <cmath>

#include "core/errors.hpp"
#include "problems/lotka_volterra.hpp"

namespace snode::app {
namespace {

namespace lv = snode::lotka_volterra;

const char* const kUsage =
    "lotka_volterra: the Lotka–Volterra examples: parameter discovery from noisy observations,\n"
    "a neural ODE fit and a universal differential equation (--mode).\n"
    "usage: lotka_volterra [options]      e.g. lotka_volterra --mode discover --horizons 2,5,10";

constexpr int kMaxHorizons = 100;

void AddLotkaVolterraOptions(po::options_description& desc) {
  CommonDefaults defaults;
  // 101 observations: interpolate between steps, as the neural fit is defined.
  defaults.outputs = "auto";
  defaults.out = "results/lotka_volterra";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("mode", po::value<std::string>()->default_value("all"),
       "discover (W3), neural (W2), ude, or all")
      ("skip-bad-steps", po::bool_switch(),
       "neural: skip an iteration whose gradient is unusable (backsolve reconstruction failure, "
       "NaN, solver failure) with a warning and a counter instead of stopping")
      ("iterations", po::value<int>(),
       "optimiser iterations, 1 to 100000 (default: discover 100 per horizon, neural 300, ude 300 "
       "per horizon)")
      ("lr", po::value<double>(),
       "Adam learning rate, 1e-9 to 10: neural, and discover/ude with --optimizer adam (default: "
       "neural/ude 1e-2, discover 0.05)")
      ("optimizer", po::value<std::string>()->default_value("lbfgs"),
       "discover and ude: lbfgs (libLBFGS) or adam")
      ("horizons", po::value<std::string>(),
       "discover and ude: growing fit horizons, comma-separated, increasing, up to --t-end, each "
       "holding at least 5 observation times (default: discover --t-end × 0.2,0.4,…,1 = "
       "2,4,6,8,10; ude × 0.1,…,1 = 1,2,…,10)")
      ("noise", po::value<double>()->default_value(0.05),
       "observation noise sigma, 0 to 10 (W3; ude with --ude-noisy)")
      ("t-end", po::value<double>()->default_value(10.0),
       "end of the observation window, 0.001 to 1000 time units")
      ("points", po::value<int>()->default_value(101),
       "number of observation times, 2 to 10001, at least 1e-6 time units apart")
      ("weights", po::value<std::string>()->default_value("../shared/data/w2/w2_init_weights.json"),
       "neural: W2 initial weights (PyTorch layout JSON); the default falls back to a seeded "
       "init if absent")
      ("ude-noisy", po::value<bool>()->default_value(false), "ude: train on the noisy data")
      ("bench", po::value<long>(),
       "with --mode neural (W2) or discover (W3): run the workload N times for each of its "
       "gradient methods; medians of time, NFE and results; writes <out>/bench.json");
  // clang-format on
}

std::string JoinCompact(const std::vector<double>& values) {
  std::string text;
  for (const double value : values) text += (text.empty() ? "" : ",") + FormatCompact(value, 6);
  return text;
}

// --t-end and --points: observation times distinct and representable.
void ReadObservationWindow(const Flags& flags, LotkaVolterraCommandLine& line) {
  line.t_end = Number(flags, "t-end", 1e-3, 1e3, "(time units)");
  line.points = static_cast<int>(Count(flags, "points", 2, 10001, "(observation times)"));
  const double spacing = line.t_end / (line.points - 1);
  Require(spacing >= kMinObservationSpacing,
          "--t-end " + FormatCompact(line.t_end, 6) + " over --points " +
              std::to_string(line.points) + " puts the observation times " +
              FormatCompact(spacing) + " time units apart; they must be at least " +
              FormatCompact(kMinObservationSpacing) +
              " apart (fewer --points or a longer --t-end)");
}

// The checks of the file comment on one horizon list (defaulted: not given by the user).
void CheckHorizons(const std::vector<double>& horizons, const LotkaVolterraCommandLine& line,
                   bool defaulted) {
  const std::string which =
      defaulted ? " (the default --horizons for --t-end " + FormatCompact(line.t_end, 6) + ")" : "";
  Require(horizons.size() <= static_cast<std::size_t>(kMaxHorizons),
          "--horizons: at most " + std::to_string(kMaxHorizons) + " horizons, got " +
              std::to_string(horizons.size()));
  const std::vector<double> times = problems::EquallySpacedTimes(line.t_end, line.points);
  const double spacing = line.t_end / (line.points - 1);
  for (std::size_t i = 0; i < horizons.size(); ++i) {
    const double h = horizons[i];
    Require(h > 0.0, "--horizons entries must be positive, got " + FormatCompact(h, 6) +
                         UnrepresentableNote(h));
    Require(h <= line.t_end, "--horizons: " + FormatCompact(h, 6) + " lies beyond --t-end " +
                                 FormatCompact(line.t_end, 6) + " (time units)");
    // The message reads horizons[i - 1]: build it only for i > 0.
    if (i > 0) {
      Require(h > horizons[i - 1],
              "--horizons must increase (the fit's schedule): " + FormatCompact(h, 6) +
                  " follows " + FormatCompact(horizons[i - 1], 6));
    }
    int observed = 0;  // as problems::MakeFitWindow selects them
    for (std::size_t k = 1; k < times.size(); ++k) observed += times[k] <= h * (1.0 + 1e-12);
    Require(observed >= kMinObservationsPerHorizon,
            "--horizons: horizon " + FormatCompact(h, 6) + which + " holds " +
                std::to_string(observed) + " observation time(s) after t = 0 (they are " +
                FormatCompact(spacing) + " time units apart); each horizon needs at least " +
                std::to_string(kMinObservationsPerHorizon) + ", so it must be at least " +
                FormatCompact(kMinObservationsPerHorizon * spacing) + " (or raise --points)");
  }
}

// --horizons, or default_count equal parts of --t-end.
std::vector<double> ReadHorizons(const Flags& flags, const LotkaVolterraCommandLine& line,
                                 int default_count, std::string& text) {
  std::vector<double> horizons;
  if (flags.count("horizons")) {
    text = flags["horizons"].as<std::string>();
    horizons = ParseDoubleList(text, "--horizons");
  } else {
    for (int i = 1; i <= default_count; ++i) horizons.push_back(line.t_end * i / default_count);
    text = JoinCompact(horizons);
  }
  CheckHorizons(horizons, line, !flags.count("horizons"));
  return horizons;
}

int IterationsOr(const Flags& flags, int fallback) {
  if (!flags.count("iterations")) return fallback;
  return static_cast<int>(Count(flags, "iterations", 1, 100000, "(optimiser iterations)"));
}

double LearningRateOr(const Flags& flags, double fallback) {
  if (!flags.count("lr")) return fallback;
  return Number(flags, "lr", 1e-9, 10.0, "(Adam's learning rate)");
}

std::string ReadOptimizer(const Flags& flags) {
  const std::string optimizer = flags["optimizer"].as<std::string>();
  Require(optimizer == "lbfgs" || optimizer == "adam",
          "--optimizer must be 'lbfgs' or 'adam', got '" + optimizer + "'");
  return optimizer;
}

void ReadParts(const Flags& flags, LotkaVolterraCommandLine& line) {
  if (line.Runs("discover")) {
    lv::DiscoverOptions& d = line.discover;
    d.horizons = ReadHorizons(flags, line, 5, d.horizons_text);
    d.optimizer = ReadOptimizer(flags);
    d.iterations = IterationsOr(flags, 100);
    if (d.optimizer == "adam") d.lr = LearningRateOr(flags, 0.05);
  }
  if (line.Runs("neural")) {
    lv::NeuralOptions& n = line.neural;
    n.iterations = IterationsOr(flags, 300);
    n.lr = LearningRateOr(flags, 1e-2);
    n.weights = flags["weights"].as<std::string>();
    n.weights_defaulted = !flags.Given("weights");
    if (!n.weights_defaulted) RequireRegularFile(n.weights, "--weights");
    n.skip_bad_steps = flags["skip-bad-steps"].as<bool>();
  }
  if (line.Runs("ude")) {
    lv::UdeOptions& u = line.ude;
    u.horizons = ReadHorizons(flags, line, 10, u.horizons_text);
    u.optimizer = ReadOptimizer(flags);
    u.iterations = IterationsOr(flags, 300);
    if (u.optimizer == "adam") u.lr = LearningRateOr(flags, 1e-2);
    u.noisy = flags["ude-noisy"].as<bool>();
  }
}

// "--mode discover --optimizer lbfgs" (+ " --bench"): what a flag that was not read did not apply
// to.
std::string Context(const LotkaVolterraCommandLine& line) {
  std::string context = "--mode " + line.mode;
  if (line.Runs("discover") || line.Runs("ude")) {
    context +=
        " --optimizer " + (line.Runs("discover") ? line.discover.optimizer : line.ude.optimizer);
  }
  return context + (line.bench_repetitions ? " --bench" : "");
}

}  // namespace

LotkaVolterraCommandLine ReadLotkaVolterraCommandLine(const Flags& flags) {
  LotkaVolterraCommandLine line;
  line.common = ReadCommonOptions(flags);
  line.mode = flags["mode"].as<std::string>();
  const std::string& mode = line.mode;
  Require(mode == "discover" || mode == "neural" || mode == "ude" || mode == "all",
          "--mode must be discover, neural, ude or all, got '" + mode + "'");
  ReadObservationWindow(flags, line);
  ReadParts(flags, line);
  // The noisy copy of the data is fitted by discover, and by ude with --ude-noisy.
  if (line.Runs("discover") || (line.Runs("ude") && line.ude.noisy)) {
    line.noise = Number(flags, "noise", 0.0, 10.0, "(state units; the states are O(1))");
  }
  if (flags.count("bench")) {
    Require(mode == "neural" || mode == "discover", "--bench needs --mode neural or discover");
    line.bench_repetitions = Count(flags, "bench", 1, 1000, "(repetitions)");
  }
  RejectUnusedFlags(flags, Context(line));
  return line;
}

AppCommandLine LotkaVolterraAppCommandLine() {
  return {"lotka_volterra", kUsage, AddLotkaVolterraOptions,
          [](const Flags& flags) { ReadLotkaVolterraCommandLine(flags); }};
}

}  // namespace snode::app
