// Tests of apps/common/flags.hpp: which flags a run read, the error for a given flag it did not
// read, range checks in the user's units and regular-file checks.
#include "apps/common/flags.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode::app {
namespace {

Flags Parse(const std::vector<std::string>& args) {
  po::options_description desc;
  // clang-format off
  desc.add_options()
      ("lr", po::value<double>()->default_value(0.01), "")
      ("iterations", po::value<int>()->default_value(10), "")
      ("steps", po::value<long>(), "")
      ("mode", po::value<std::string>()->default_value("a"), "")
      ("quiet", po::bool_switch(), "");
  // clang-format on
  std::vector<const char*> argv = {"test"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  po::variables_map vm;
  po::store(po::parse_command_line(static_cast<int>(argv.size()), argv.data(), desc), vm);
  po::notify(vm);
  return Flags(std::move(vm));
}

std::string ConfigMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

TEST(Flags, GivenFlagsNeverReadAreErrorsNamingThemAndTheContext) {
  const Flags flags = Parse({"--lr", "0.5", "--quiet", "--steps", "3"});
  EXPECT_EQ(flags.GivenNames(), (std::vector<std::string>{"lr", "quiet", "steps"}));
  EXPECT_EQ(flags.count("mode"), 1u);  // a default: there, but not given
  EXPECT_FALSE(flags.Given("mode"));
  EXPECT_TRUE(flags.Given("lr"));  // asking does not read
  EXPECT_EQ(flags.UnreadNames(), (std::vector<std::string>{"lr", "quiet", "steps"}));
  EXPECT_EQ(flags["mode"].as<std::string>(), "a");  // reading a default is fine
  EXPECT_DOUBLE_EQ(flags["lr"].as<double>(), 0.5);
  EXPECT_EQ(ConfigMessage([&] { RejectUnusedFlags(flags, "--mode a"); }),
            "--quiet does not apply to --mode a; leave it out (the same holds for --steps)");
  flags.MarkRead("quiet");
  EXPECT_EQ(ConfigMessage([&] { RejectUnusedFlags(flags, "--mode a"); }),
            "--steps does not apply to --mode a; leave it out");
  flags.MarkRead("steps");
  RejectUnusedFlags(flags, "--mode a");  // every given flag read: no error
}

TEST(Flags, NumbersAreRangeCheckedInTheUsersUnits) {
  EXPECT_DOUBLE_EQ(Number(Parse({"--lr", "0.25"}), "lr", 1e-12, 10.0), 0.25);
  EXPECT_EQ(ConfigMessage([] {
              Number(Parse({"--lr", "-1"}), "lr", 1e-12, 10.0);
            }),
            "--lr must be between 1e-12 and 10, got -1");
  EXPECT_EQ(ConfigMessage([] {
              Number(Parse({"--lr", "1e-400"}), "lr", 1e-12, 10.0, "(a step)");
            }),
            "--lr must be between 1e-12 and 10 (a step), got 0 (a number below 2.2e-308 reads "
            "as 0)");
  EXPECT_EQ(ConfigMessage([] {
              Number(Parse({"--lr", "inf"}), "lr", 1e-12, 10.0);
            }),
            "--lr must be between 1e-12 and 10, got inf");
  EXPECT_THROW(Parse({"--lr", "1e400"}), po::invalid_option_value);  // the parser refuses it
  EXPECT_EQ(ConfigMessage([] {
              Number(Parse({"--lr", "nan"}), "lr", 1e-12, 10.0);
            }),
            "--lr must be between 1e-12 and 10, got nan");
  EXPECT_EQ(Count(Parse({"--iterations", "5"}), "iterations", 1, 100000), 5);
  EXPECT_EQ(Count(Parse({"--steps", "7"}), "steps", 1, 100000), 7);  // a long flag
  EXPECT_EQ(ConfigMessage([] {
              Count(Parse({"--iterations", "0"}), "iterations", 1, 100000);
            }),
            "--iterations must be between 1 and 100000, got 0");
}

TEST(Flags, InputPathsMustBeRegularFiles) {
  const std::filesystem::path dir = test_util::TempDir("flags_regular");
  const std::string file = (dir / "w.json").string();
  std::ofstream(file) << "{}";
  RequireRegularFile(file, "--weights");
  const auto message = [](const std::string& path) -> std::string {
    try {
      RequireRegularFile(path, "--weights");
    } catch (const InputError& e) {
      return e.what();
    }
    return "no InputError";
  };
  EXPECT_EQ(message(dir.string()), "--weights '" + dir.string() + "': is a directory, not a file");
  EXPECT_EQ(message("/dev/zero"), "--weights '/dev/zero': is not a regular file");
  EXPECT_EQ(message((dir / "none").string()),
            "--weights '" + (dir / "none").string() + "': no such file");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace snode::app
