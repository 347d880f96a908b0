#pragma once
// mnist_classifier's command line: its flags and their reading into the trainer's settings
// (studies/mnist_settings.hpp), without running anything (apps/common/app_common.hpp,
// AppCommandLine).
//
// The run is one of three modes, and a flag given for another mode is a ConfigError naming both
// ("--lr does not apply to mnist_classifier --evaluate (a model file is only evaluated); leave it
// out"): training (the default, --resume continues a checkpoint), --evaluate FILE and --bench N.
// Every number is range-checked (counters against the limits of io/idx_reader.hpp and
// io/checkpoint.hpp) and every input file (the IDX files of --data or given one by one, --resume,
// --evaluate) must be a regular file; the read only stat()s them.

#include <optional>

#include "apps/common/app_common.hpp"
#include "studies/mnist_settings.hpp"

namespace snode::app {

struct MnistCommandLine {
  CommonOptions common;
  mnist::Settings settings;
  std::optional<long> bench_repetitions;  // --bench N
  long bench_epochs = 1;                  // --bench: --epochs when given, else 1
};

AppCommandLine MnistClassifierCommandLine();
// Reads and validates every flag; a given flag the chosen mode does not use is a ConfigError.
MnistCommandLine ReadMnistCommandLine(const Flags& flags);

}  // namespace snode::app
