#pragma once
// stiffness_study's command line: its flags and their reading into the study's options
// (studies/stiffness_study.hpp), without running anything (apps/common/app_common.hpp,
// AppCommandLine).
//
// Which flag applies where (any other given flag is a ConfigError naming it):
//   the study (no --bench)   --preset, --problems, --problem-file, --lambdas | --lambda-max,
//                            --methods, --tolerances, --threads, --tables, --no-plots, --train,
//                            --ok-tol; --neural-iterations and --neural-lr only when the study
//                            trains (--train on or --preset full, with a trainable problem among
//                            the selected ones; --train on without one is an error too)
//   --bench N                --robertson-horizons, --ok-tol; with --check-gradient also the
//                            problem flags the check runs on (--preset, --problems,
//                            --problem-file, --lambdas | --lambda-max). --no-plots is accepted
//                            (the bench draws no plots).
//   --list-problems          --problem-file (the list includes them)
//
// Ranges: --ok-tol 1e-16 … 1 (a relative error), --threads 1 … 256, --neural-iterations
// 1 … 100000, --neural-lr 1e-9 … 10, --robertson-horizons T in 1e-6 … 1e11 time units (at most
// 20), --tolerances rtol in [1e-15, 1), λ as studies/stiffness_plan.hpp says (ParseLambdaSpec).
// --problem-file entries must be regular files; the app registers them after the reading
// (ReadStiffnessCommandLine reads no file), then checks the --problems names (CheckProblemNames).

#include <optional>
#include <string>
#include <vector>

#include "apps/common/app_common.hpp"
#include "studies/stiffness_study.hpp"

namespace snode::app {

struct StiffnessCommandLine {
  CommonOptions common;
  StiffnessOptions study;
  std::vector<std::string> problem_files;  // --problem-file, checked to be regular files
  bool list_problems = false;              // --list-problems: list and exit
  std::optional<long> bench_repetitions;   // --bench N
};

AppCommandLine StiffnessStudyCommandLine();
// Reads and validates every flag; a given flag the run does not use is a ConfigError. The
// --problems names are checked here unless --problem-file is given (its names are known only
// once the app has registered the files; it then calls CheckProblemNames).
StiffnessCommandLine ReadStiffnessCommandLine(const Flags& flags);
// ConfigError for a --problems name the problem registry does not know.
void CheckProblemNames(const StiffnessOptions& options);

}  // namespace snode::app
