#pragma once
// exponential_decay's command line: its flags and their reading into the decay study's options
// (studies/decay_study.hpp), without running anything (apps/common/app_common.hpp,
// AppCommandLine).

#include <optional>

#include "apps/common/app_common.hpp"
#include "studies/decay_study.hpp"

namespace snode::app {

struct DecayCommandLine {
  CommonOptions common;
  DecayOptions study;
  std::optional<long> bench_repetitions;  // --bench N
  bool lambdas_given = false;             // --bench: λ = 1 … 1e4 unless --lambdas
};

AppCommandLine ExponentialDecayCommandLine();
// Reads and validates every flag; a given flag the run does not use is a ConfigError.
DecayCommandLine ReadDecayCommandLine(const Flags& flags);

}  // namespace snode::app
