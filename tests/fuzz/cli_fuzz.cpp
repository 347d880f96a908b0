// libFuzzer target for the apps' command lines (apps/cli): argv and a --config file go through an
// app's AppCommandLine exactly as its main() takes them (StartCommandLine, then its read, inside
// RunApp), without running the app. It asserts the promises of docs/reliability.md:
//   * no crash, no sanitizer report, no hang (libFuzzer's -timeout);
//   * the exit status is 0 or 1: every error is a ConfigError, InputError or an options error
//     (RunApp maps anything else to 2);
//   * a run that reads its flags without an error honours every flag it was given: Flags records
//     each flag the app read into its configuration, and none given may be left unread.
//
// Input: byte 0 chooses the app; the rest is "ARGS\0CONFIG": ARGS split at '\n' into argv
// (empty words kept), CONFIG (when there is a '\0') written to a memfd and passed as
// `--config /proc/self/fd/N`. Inputs naming --plugin are skipped: loading one would dlopen whatever
// library the input names (the loader has its own tests, tests/plugins).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "apps/cli/exponential_decay_cli.hpp"
#include "apps/cli/lotka_volterra_cli.hpp"
#include "apps/cli/mnist_classifier_cli.hpp"
#include "apps/cli/reaction_diffusion_cli.hpp"
#include "apps/cli/stiffness_study_cli.hpp"
#include "apps/common/app_common.hpp"
#include "tests/fuzz/fuzz_util.hpp"

namespace {

using snode::app::AppCommandLine;
using snode::app::Flags;

const std::vector<AppCommandLine>& Apps() {
  static const std::vector<AppCommandLine> apps = {
      snode::app::ExponentialDecayCommandLine(),     snode::app::LotkaVolterraAppCommandLine(),
      snode::app::MnistClassifierCommandLine(),      snode::app::StiffnessStudyCommandLine(),
      snode::app::ReactionDiffusionAppCommandLine(),
  };
  return apps;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// The app's start as its main() runs it; returns the exit status and checks the promise of a
// successful read: every given flag was read.
int RunCommandLine(const AppCommandLine& app, const std::vector<std::string>& words) {
  std::vector<const char*> argv = {app.name.c_str()};
  for (const std::string& word : words) argv.push_back(word.c_str());
  return snode::app::RunApp([&] {
    std::ostringstream info;  // --help and --list-* output
    const std::optional<Flags> flags =
        snode::app::StartCommandLine(static_cast<int>(argv.size()), argv.data(), app, info);
    if (!flags) return 0;
    app.read(*flags);
    const std::vector<std::string> unread = flags->UnreadNames();
    if (!unread.empty()) {
      std::fprintf(stderr, "cli_fuzz: %s accepted --%s without reading it\n", app.name.c_str(),
                   unread.front().c_str());
      std::abort();
    }
    return 0;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static snode::fuzz::MemFile config("cli_fuzz_config");
  if (size == 0) return 0;
  const AppCommandLine& app = Apps()[data[0] % Apps().size()];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (input.find("plugin") != std::string_view::npos) return 0;
  const std::size_t split = input.find('\0');
  std::vector<std::string> words = SplitWords(input.substr(0, split));
  if (split != std::string_view::npos) {
    const std::string_view text = input.substr(split + 1);
    config.Write(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    words.push_back("--config");
    words.push_back(config.path());
  }
  const int status = RunCommandLine(app, words);
  if (status != 0 && status != 1) {
    std::fprintf(stderr, "cli_fuzz: %s exited with status %d\n", app.name.c_str(), status);
    std::abort();
  }
  return 0;
}
