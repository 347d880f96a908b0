#include "apps/cli/reaction_diffusion_cli.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode::app {
namespace {

constexpr long kMaxPoints = 10000000;

const char* const kUsage =
    "reaction_diffusion: gradients of a neural reaction-diffusion model (a 2-16-16-2 network at\n"
    "every point of a periodic 1-D grid plus diffusion, fitted to Brusselator data) at a grid\n"
    "size N, through SUNDIALS' preconditioned Krylov solvers.\n"
    "usage: reaction_diffusion [options]      e.g. reaction_diffusion --points 10000\n"
    "       reaction_diffusion --bench 3      (the scaling benchmark, N = 100 ... 100 000)";

void AddReactionDiffusionOptions(po::options_description& desc) {
  CommonDefaults defaults;
  defaults.integrator = "cvodes_bdf";
  defaults.gradient = "cvodes_adjoint";
  defaults.linear_solver = "gmres";
  // A one-step backward restarts at full order after each of the 20 observation jumps, where
  // CVODES' BDF restarts at order 1 (docs/decisions.md, "W6 backward integrator").
  defaults.backward_integrator = "sdirk";
  defaults.out = "results/reaction_diffusion";
  AddCommonOptions(desc, defaults);
  // clang-format off
  desc.add_options()
      ("points", po::value<long>()->default_value(1000), "grid points N (the state has 2N values)")
      ("reference", po::bool_switch(),
       "also compute a tight reference gradient (cvodes_adjoint at rtol 1e-10) and the error")
      ("bench", po::value<long>(),
       "the scaling benchmark, N repetitions per method and size: time per gradient, counts, "
       "peak memory, errors; writes <out>/bench.json, w6_scaling.csv and a figure")
      ("sizes", po::value<std::string>(), "--bench: comma-separated grid sizes "
       "(default 100,1000,10000,100000)")
      ("no-plots", po::bool_switch(), "--bench: do not run gnuplot");
  // clang-format on
}

void ReadBenchFlags(const Flags& flags, ReactionDiffusionCommandLine& line) {
  line.bench_repetitions = Count(flags, "bench", 1, 1000, "(repetitions)");
  ReactionDiffusionBenchOptions& bench = line.bench;
  if (flags.count("sizes")) {
    bench.sizes.clear();
    for (const double n : ParseDoubleList(flags["sizes"].as<std::string>(), "--sizes")) {
      Require(
          n >= 3 && n <= kMaxPoints && std::floor(n) == n,
          "--sizes: a grid size must be a whole number between 3 and 1e7, got " + FormatNumber(n));
      bench.sizes.push_back(static_cast<Index>(n));
    }
  }
  bench.repetitions = static_cast<int>(*line.bench_repetitions);
  bench.plots = !flags["no-plots"].as<bool>();
  bench.seed = line.common.seed;
  bench.out_dir = line.common.out_dir;
  RejectMethodOptions(line.common, "reaction_diffusion --bench");
  const CommonOptions& c = line.common;
  Require(!(c.integrator_set || c.gradient_set || c.rtol_set || c.atol_set || c.step_set ||
            c.max_steps_set || c.linear_solver_set || c.preconditioner_set ||
            c.step_controller_set || c.outputs_set || c.backward_integrator_set),
          "--bench runs its own methods at the benchmark's tolerances (rtol 1e-6, atol 1e-8); "
          "leave out --integrator, --gradient, --rtol, --atol, --step, --max-steps, "
          "--linear-solver, --preconditioner, --step-controller, --outputs and "
          "--backward-integrator");
}

}  // namespace

ReactionDiffusionCommandLine ReadReactionDiffusionCommandLine(const Flags& flags) {
  ReactionDiffusionCommandLine line;
  line.common = ReadCommonOptions(flags);
  if (flags.count("bench")) {
    ReadBenchFlags(flags, line);
    RejectUnusedFlags(flags, "reaction_diffusion --bench");
    return line;
  }
  line.points = Count(flags, "points", 3, kMaxPoints, "(grid points)");
  line.reference = flags["reference"].as<bool>();
  RejectUnusedFlags(flags, "reaction_diffusion");
  return line;
}

AppCommandLine ReactionDiffusionAppCommandLine() {
  return {"reaction_diffusion", kUsage, AddReactionDiffusionOptions,
          [](const Flags& flags) { ReadReactionDiffusionCommandLine(flags); }};
}

}  // namespace snode::app
