// libFuzzer target for the options-file path of apps/common/app_common.hpp: the input is the
// content of a --config file, parsed by ParseCommandLine with the common flags plus a set of
// app flags like mnist_classifier's, then validated by ReadCommonOptions. Boost's
// program_options errors and snode's ConfigError/InputError are the expected answers to a bad
// file; any other exception, crash, leak or sanitizer report is a bug.

#include <boost/program_options.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "apps/common/app_common.hpp"
#include "core/errors.hpp"
#include "tests/fuzz/fuzz_util.hpp"

namespace po = boost::program_options;

namespace {

po::options_description MakeDescription() {
  po::options_description desc("fuzz");
  snode::app::AddCommonOptions(desc);
  // clang-format off
  desc.add_options()
      ("data", po::value<std::string>()->default_value("data"), "data directory")
      ("epochs", po::value<long>()->default_value(5), "epochs")
      ("batch", po::value<long>()->default_value(128), "batch size")
      ("lr", po::value<double>()->default_value(1e-3), "learning rate")
      ("hidden", po::value<long>()->default_value(64), "hidden width")
      ("times", po::value<std::string>()->default_value("0,1"), "output times")
      ("no-ode", po::bool_switch(), "switch")
      ("resume", po::value<std::string>(), "checkpoint");
  // clang-format on
  return desc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static snode::fuzz::MemFile file("options_file_fuzz");
  static const po::options_description desc = MakeDescription();
  // `plugin = PATH` would dlopen whatever library the input names (and run its constructors):
  // the plug-in loader has its own tests (tests/plugins); here such inputs are skipped.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text.find("plugin") != std::string_view::npos) return 0;
  file.Write(data, size);
  const char* argv[] = {"options_file_fuzz", "--config", file.path().c_str()};
  try {
    const snode::app::Flags vm = snode::app::ParseCommandLine(3, argv, desc);
    snode::app::ReadCommonOptions(vm);
    snode::app::ParseDoubleList(vm["times"].as<std::string>(), "--times");
  } catch (const po::error&) {
  } catch (const snode::Error&) {
  }
  return 0;
}
