#pragma once
// reaction_diffusion's command line: its flags and their reading into a gradient run or the
// scaling benchmark (studies/reaction_diffusion_bench.hpp), without running anything
// (apps/common/app_common.hpp, AppCommandLine).

#include <optional>

#include "apps/common/app_common.hpp"
#include "core/types.hpp"
#include "studies/reaction_diffusion_bench.hpp"

namespace snode::app {

struct ReactionDiffusionCommandLine {
  CommonOptions common;
  Index points = 1000;                    // --points
  bool reference = false;                 // --reference: compare with a tight reference gradient
  std::optional<long> bench_repetitions;  // --bench N
  ReactionDiffusionBenchOptions bench;    // --sizes, --no-plots, --seed, --out (with --bench)
};

AppCommandLine ReactionDiffusionAppCommandLine();
// Reads and validates every flag; a given flag the run does not use is a ConfigError.
ReactionDiffusionCommandLine ReadReactionDiffusionCommandLine(const Flags& flags);

}  // namespace snode::app
