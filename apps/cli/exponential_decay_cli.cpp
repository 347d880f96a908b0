#include "apps/cli/exponential_decay_cli.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode::app {
namespace {

const char* const kUsage =
    "exponential_decay: the seed's experiment dy/dt = -λy, y(0) = 1, t in (0, 1): forward error,\n"
    "gradients dL/dλ and dL/dy0 of L = y(1), and the backsolve adjoint's reconstructed y(0).\n"
    "usage: exponential_decay [options]      e.g. exponential_decay --lambdas 100,1e4";

void AddDecayOptions(po::options_description& desc) {
  CommonDefaults defaults;
  defaults.out = "results/decay";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("lambdas", po::value<std::string>()->default_value("100,1e4"),
       "comma-separated decay rates λ > 0")
      ("ok-tol", po::value<double>()->default_value(1e-3),
       "relative gradient error up to which a run is ok")
      ("usable-abs", po::value<double>()->default_value(1e-6),
       "absolute gradient error up to which an inaccurate run still counts as reasonable")
      ("no-plots", po::bool_switch(), "do not run gnuplot")
      ("bench", po::value<long>(),
       "run workloads W1 and W1b N times (λ = 1..1e4 unless --lambdas): medians of the time per "
       "gradient, NFE, errors, status; writes <out>/bench.json");
  // clang-format on
}

}  // namespace

DecayCommandLine ReadDecayCommandLine(const Flags& flags) {
  DecayCommandLine line;
  line.common = ReadCommonOptions(flags);
  const CommonOptions& c = line.common;
  DecayOptions& options = line.study;
  options.lambdas = ParseDoubleList(flags["lambdas"].as<std::string>(), "--lambdas");
  for (const double lambda : options.lambdas) {
    Require(lambda > 0.0, "--lambdas: λ must be positive, got " + FormatNumber(lambda));
  }
  options.lambdas = SortedUnique(options.lambdas);
  line.lambdas_given = flags.Given("lambdas");
  options.ok_tol = Number(flags, "ok-tol", 1e-16, 1.0, "(a relative error)");
  options.usable_abs = Number(flags, "usable-abs", 1e-300, 1e300, "(an absolute error)");
  options.plots = !flags["no-plots"].as<bool>();
  RejectMethodOptions(c, "exponential_decay");
  options.overrides = ToMethodOverrides(c);
  options.out_dir = c.out_dir;
  if (flags.count("bench")) {
    line.bench_repetitions = Count(flags, "bench", 1, 1000, "(repetitions)");
  }
  RejectUnusedFlags(flags, "exponential_decay");
  return line;
}

AppCommandLine ExponentialDecayCommandLine() {
  return {"exponential_decay", kUsage, AddDecayOptions,
          [](const Flags& flags) { ReadDecayCommandLine(flags); }};
}

}  // namespace snode::app
