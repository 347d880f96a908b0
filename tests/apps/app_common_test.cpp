// Tests of apps/common: flag parsing and validation, RunApp's error contract, --help and lists.
#include "apps/common/app_common.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode::app {
namespace {

namespace fs = std::filesystem;

using test_util::TempDir;

Flags Parse(std::vector<std::string> args, po::options_description* desc) {
  AddCommonOptions(*desc);
  std::vector<const char*> argv = {"app"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), *desc);
}

TEST(AppCommon, ParsesCommonFlagsIntoOptions) {
  po::options_description desc;
  const Flags vm =
      Parse({"--integrator", "sdirk", "--gradient", "cvodes_adjoint", "--rtol", "1e-9", "--atol",
             "1e-11", "--step", "0.01", "--max-steps", "77", "--seed", "5", "--out", "x", "-q"},
            &desc);
  const CommonOptions options = ReadCommonOptions(vm);
  EXPECT_EQ(options.integrator, "sdirk");
  EXPECT_EQ(options.gradient, "cvodes_adjoint");
  EXPECT_TRUE(options.integrator_set);
  EXPECT_TRUE(options.rtol_set);
  EXPECT_FALSE(options.linear_solver_set);
  EXPECT_DOUBLE_EQ(options.integrator_options.rtol, 1e-9);
  EXPECT_DOUBLE_EQ(options.integrator_options.atol, 1e-11);
  EXPECT_DOUBLE_EQ(options.integrator_options.fixed_step, 0.01);
  EXPECT_EQ(options.integrator_options.max_steps, 77);
  EXPECT_EQ(options.gradient_options.integrator, "sdirk");
  EXPECT_EQ(options.seed, 5u);
  EXPECT_EQ(options.out_dir, "x");
  EXPECT_TRUE(options.quiet);
  EXPECT_TRUE(options.gradient_options.method_settings.empty());  // method flags not given
}

Settings MethodSettingsOf(const std::vector<std::string>& args) {
  po::options_description desc;
  return ReadCommonOptions(Parse(args, &desc)).gradient_options.method_settings;
}

TEST(AppCommon, MethodFlagsGivenExplicitlyBecomeTheMethodsSettings) {
  EXPECT_EQ(MethodSettingsOf({"--gradient", "cvodes_adjoint", "--cvodes-observations", "restart"})
                .values(),
            (std::map<std::string, std::string>{{"observations", "restart"}}));
  EXPECT_EQ(MethodSettingsOf({"--gradient", "backsolve_adjoint", "--seminorm", "off",
                              "--backsolve-quadrature", "on", "--backsolve-checkpoints", "off"})
                .values(),
            (std::map<std::string, std::string>{
                {"seminorm", "off"}, {"quadrature", "on"}, {"checkpoints", "off"}}));
  // Defaults are not passed on, whatever the method.
  EXPECT_TRUE(MethodSettingsOf({"--gradient", "backsolve_adjoint"}).empty());
}

TEST(AppCommon, MethodFlagOfAnotherMethodIsConfigError) {
  po::options_description desc;
  const Flags vm = Parse({"--cvodes-observations", "restart"}, &desc);  // bptt
  try {
    ReadCommonOptions(vm);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "--cvodes-observations is an option of --gradient cvodes_adjoint, not of 'bptt'"),
              std::string::npos)
        << e.what();
  }
  po::options_description desc2;
  EXPECT_THROW(
      ReadCommonOptions(Parse({"--gradient", "cvodes_adjoint", "--seminorm", "on"}, &desc2)),
      ConfigError);
}

TEST(AppCommon, GradientOptionIsRepeatableAndReachesAnyMethod) {
  EXPECT_EQ(MethodSettingsOf({"--gradient", "cvodes_adjoint", "--gradient-option",
                              "quadrature=gauss", "--gradient-option", "jump_layer = off"})
                .values(),
            (std::map<std::string, std::string>{{"quadrature", "gauss"}, {"jump_layer", "off"}}));
  // Not checked here (a plug-in's names are its own): the method's factory rejects it.
  po::options_description desc;
  const CommonOptions options =
      ReadCommonOptions(Parse({"--gradient-option", "quadrature=gauss"}, &desc));
  EXPECT_THROW(GradientRegistry().Create(options.gradient, options.gradient_options), ConfigError);
  // The same setting twice with different values; malformed text.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--gradient", "backsolve_adjoint", "--seminorm", "off",
                                 "--gradient-option", "seminorm=on"},
        std::vector<std::string>{"--gradient-option", "quadrature"}}) {
    po::options_description bad_desc;
    EXPECT_THROW(ReadCommonOptions(Parse(args, &bad_desc)), ConfigError) << args.back();
  }
  EXPECT_EQ(MethodSettingsOf({"--gradient", "backsolve_adjoint", "--seminorm", "off",
                              "--gradient-option", "seminorm=off"})
                .values(),
            (std::map<std::string, std::string>{{"seminorm", "off"}}));
}

TEST(AppCommon, AppsWithTheirOwnMethodsRefuseMethodOptions) {
  po::options_description desc;
  EXPECT_NO_THROW(RejectMethodOptions(ReadCommonOptions(Parse({}, &desc)), "stiffness_study"));
  po::options_description desc2;
  const CommonOptions given =
      ReadCommonOptions(Parse({"--gradient", "backsolve_adjoint", "--seminorm", "off"}, &desc2));
  try {
    RejectMethodOptions(given, "stiffness_study");
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("stiffness_study runs its own gradient methods"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("(given: seminorm)"), std::string::npos) << e.what();
  }
}

TEST(AppCommon, GradientOptionInConfigFile) {
  const fs::path dir = TempDir("config");
  const fs::path config = dir / "run.cfg";
  std::ofstream(config) << "gradient = cvodes_adjoint\ngradient-option = checkpoint_interval=20\n";
  EXPECT_EQ(
      MethodSettingsOf({"--config", config.string(), "--gradient-option", "quadrature=gauss"})
          .values(),
      (std::map<std::string, std::string>{{"checkpoint_interval", "20"}, {"quadrature", "gauss"}}));
  fs::remove_all(dir);
}

TEST(AppCommon, RejectsBadValuesWithConfigError) {
  const std::vector<std::vector<std::string>> bad = {{"--rtol", "-1"},
                                                     {"--atol", "0"},
                                                     {"--step", "-0.1"},
                                                     {"--max-steps", "0"},
                                                     {"--linear-solver", "lu"},
                                                     {"--integrator", "rk45"},
                                                     {"--gradient", "magic"},
                                                     {"--rtol", "nan"},
                                                     {"--seed", "-1"},
                                                     {"--seed", "abc"},
                                                     {"--seed", "99999999999999999999"},
                                                     {"--cvodes-observations", "sometimes"}};
  for (const auto& args : bad) {
    po::options_description desc;
    const Flags vm = Parse(args, &desc);
    EXPECT_THROW(ReadCommonOptions(vm), ConfigError) << args[0] << " " << args[1];
  }
}

TEST(AppCommon, UnknownIntegratorMessageListsKnownNames) {
  po::options_description desc;
  const Flags vm = Parse({"--integrator", "rk45"}, &desc);
  try {
    ReadCommonOptions(vm);
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown integrator 'rk45'"), std::string::npos) << message;
    EXPECT_NE(message.find("dopri5"), std::string::npos) << message;
  }
}

TEST(AppCommon, ConfigFileIsReadAndCommandLineWins) {
  const fs::path dir = TempDir("config");
  const fs::path config = dir / "run.cfg";
  std::ofstream(config) << "# comment\nrtol = 1e-4\natol = 1e-5\nintegrator = sdirk\n";
  po::options_description desc;
  const Flags vm = Parse({"--config", config.string(), "--rtol", "1e-7"}, &desc);
  const CommonOptions options = ReadCommonOptions(vm);
  EXPECT_DOUBLE_EQ(options.integrator_options.rtol, 1e-7);
  EXPECT_DOUBLE_EQ(options.integrator_options.atol, 1e-5);
  EXPECT_EQ(options.integrator, "sdirk");
  fs::remove_all(dir);
}

TEST(AppCommon, UnreadableConfigIsInputError) {
  po::options_description desc;
  EXPECT_THROW(Parse({"--config", "/nonexistent/snode.cfg"}, &desc), InputError);
}

// A directory or a device that never ends is a clear InputError, not ignored or read forever.
TEST(AppCommon, ConfigThatIsNotARegularFileIsInputError) {
  const auto message = [](const std::string& path) -> std::string {
    po::options_description desc;
    try {
      Parse({"--config", path}, &desc);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no InputError";
  };
  EXPECT_EQ(message("/tmp"), "--config file '/tmp' is a directory, not an options file");
  EXPECT_EQ(message("/dev/zero"),
            "--config file '/dev/zero' is not a regular file (a device or a pipe)");
  // A regular file over the limit is refused after reading at most one byte more than it.
  const std::filesystem::path big = std::filesystem::temp_directory_path() / "snode_big.cfg";
  {
    std::ofstream out(big);
    out << std::string((1 << 20) + 10, '#');
  }
  EXPECT_EQ(message(big.string()),
            "--config file '" + big.string() +
                "' is larger than the 1048576 bytes an options file may have");
  std::filesystem::remove(big);
}

// A word that is not a flag (a typo, a missing "--") is an error, not silently ignored.
TEST(AppCommon, StrayPositionalArgumentIsConfigErrorNamingIt) {
  po::options_description desc;
  try {
    Parse({"--rtol", "1e-6", "stray"}, &desc);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unexpected argument 'stray': every option is a flag (--name value); see --help");
  }
}

TEST(AppCommon, UnknownFlagIsOptionsError) {
  po::options_description desc;
  EXPECT_THROW(Parse({"--bogus"}, &desc), po::error);
}

TEST(AppCommon, RunAppMapsExceptionsToExitCodes) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunApp([] { return 0; }), 0);
  EXPECT_EQ(RunApp([]() -> int { throw ConfigError("bad\nthing"); }), 1);
  EXPECT_EQ(RunApp([]() -> int { throw po::unknown_option("--x"); }), 1);
  EXPECT_EQ(RunApp([]() -> int { throw std::runtime_error("boom"); }), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("error: bad thing\n"), std::string::npos) << err;  // one line
  EXPECT_NE(err.find("error: boom"), std::string::npos) << err;
}

// Boost fills the user's word into its message; a word holding the placeholder itself
// ("%original_token%", "%value%") made that loop endless (found by the CLI fuzzer). RunApp prints
// the word with a full-width percent sign instead, and returns.
TEST(AppCommon, OptionErrorsWithPlaceholderTextInTheUsersWordsEnd) {
  const auto run = [](std::vector<std::string> args) {
    testing::internal::CaptureStderr();
    const int status = RunApp([&] {
      po::options_description desc;  // Parse adds the common flags (--rtol among them)
      Parse(args, &desc);
      return 0;
    });
    return std::make_pair(status, testing::internal::GetCapturedStderr());
  };
  const auto [unknown_status, unknown] = run({"--lambda-max%original_token%", "1"});
  EXPECT_EQ(unknown_status, 1);
  EXPECT_EQ(unknown, "error: unrecognised option '--lambda-max％original_token％' (see --help)\n");
  const auto [value_status, value] = run({"--rtol", "%value%"});
  EXPECT_EQ(value_status, 1);
  EXPECT_EQ(value,
            "error: the argument ('％value％') for option '--rtol' is invalid (see --help)\n");
}

TEST(AppCommon, HelpAndListsAreHandled) {
  po::options_description desc;
  const Flags vm = Parse({"--list-integrators"}, &desc);
  std::ostringstream out;
  EXPECT_TRUE(HandleInfoOptions(vm, desc, "usage", out));
  EXPECT_NE(out.str().find("dopri5\n"), std::string::npos);
  po::options_description desc2;
  const Flags vm2 = Parse({}, &desc2);
  std::ostringstream out2;
  EXPECT_FALSE(HandleInfoOptions(vm2, desc2, "usage", out2));
}

// --tableau FILE registers the file's method before the names are checked, so --integrator and
// --list-integrators see it; a tableau that fails its order conditions is a ConfigError naming
// the file.
TEST(AppCommon, TableauFileIsRegisteredBeforeNamesAreChecked) {
  const std::string examples = SNODE_TABLEAU_EXAMPLES_DIR;
  po::options_description desc;
  const Flags vm = Parse({"--tableau", examples + "/bogacki_shampine.json", "--integrator",
                          "bogacki_shampine", "--list-integrators"},
                         &desc);
  EXPECT_EQ(ReadCommonOptions(vm).integrator, "bogacki_shampine");
  std::ostringstream out;
  EXPECT_TRUE(HandleInfoOptions(vm, desc, "usage", out));
  EXPECT_NE(out.str().find("bogacki_shampine\n"), std::string::npos) << out.str();
  po::options_description desc2;
  try {
    Parse({"--tableau", examples + "/wrong_coefficient.json"}, &desc2);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("wrong_coefficient.json': weights b fail order"),
              std::string::npos)
        << error.what();
  }
}

TEST(AppCommon, ParsesLists) {
  EXPECT_EQ(ParseDoubleList("1, 10,1e3", "--l"), (std::vector<double>{1.0, 10.0, 1000.0}));
  EXPECT_THROW(ParseDoubleList("1,,2", "--l"), ConfigError);
  EXPECT_THROW(ParseDoubleList("1,abc", "--l"), ConfigError);
  EXPECT_THROW(ParseDoubleList("inf", "--l"), ConfigError);
  EXPECT_EQ(ParseNameList(" a, b ,"), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace snode::app
