// LoadPlugin / LoadPluginsFromEnvironment (plugins/plugin_loader.hpp) with the plug-ins built in
// tests/plugins/: a working one whose integrator, gradient method and problem are then run and
// checked, and one per fault, each of which must fail with a clear error and register nothing.
// ctest runs every test in its own process; run together in one process they still hold, because
// each fault has its own plug-in and loading the working one twice is a no-op.
#include "plugins/plugin_loader.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "adjoint/gradient_method.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "plugins/plugin.hpp"
#include "problems/decay.hpp"
#include "problems/problem_registry.hpp"
#include "tests/apps/app_run_util.hpp"
#include "tests/test_util/finite_difference_checks.hpp"
#include "tests/test_util/temp_files.hpp"

namespace snode {
namespace {

namespace fs = std::filesystem;

// Runs LoadPlugin(path), which must throw ErrorType; returns the message.
template <class ErrorType>
std::string LoadError(const std::string& path) {
  try {
    LoadPlugin(path);
  } catch (const ErrorType& e) {
    return e.what();
  }
  ADD_FAILURE() << "LoadPlugin('" << path << "') did not throw the expected error type";
  return "";
}

std::size_t TimesLoaded(const std::string& path) {
  const std::vector<std::string> loaded = LoadedPlugins();
  return std::count(loaded.begin(), loaded.end(), fs::canonical(path).string());
}

TEST(PluginLoader, WorkingPluginsIntegratorMatchesHeunAndItsGradientIsRight) {
  LoadPlugin(SNODE_GOOD_PLUGIN);
  ASSERT_TRUE(IntegratorRegistry().Contains("plugin_heun"));
  ASSERT_TRUE(GradientRegistry().Contains("plugin_central_difference"));
  EXPECT_EQ(TimesLoaded(SNODE_GOOD_PLUGIN), 1u);

  // The plug-in's integrator is Heun's method: identical to the built-in, bit for bit.
  IntegratorOptions fixed;
  fixed.fixed_step = 0.01;
  const OdeProblem problem = problems::DecayOde(2.0, {0.5, 1.0});
  const auto plugin = IntegratorRegistry().Create("plugin_heun", fixed);
  EXPECT_EQ(plugin->name(), "plugin_heun");
  const Trajectory ours = plugin->Solve(problem);
  const Trajectory heun = IntegratorRegistry().Create("heun", fixed)->Solve(problem);
  ASSERT_EQ(ours.states.size(), 2u);
  EXPECT_EQ(ours.states[1](0), heun.states[1](0));
  EXPECT_NEAR(ours.states[1](0), std::exp(-2.0), 1e-3);  // second order, h = 0.01

  // The plug-in's gradient method: dL/dλ and dL/dy0 of y(1) = e^{-λ}, to 1e-6 relative.
  GradientOptions options;
  options.integrator = "dopri5";
  options.integrator_options.rtol = 1e-10;
  options.integrator_options.atol = 1e-12;
  const LossAndGradient result = GradientRegistry()
                                     .Create("plugin_central_difference", options)
                                     ->Compute(problems::DecayOde(2.0), problems::DecayLoss());
  const Vector exact = problems::DecayExactGradient(2.0);
  EXPECT_NEAR(result.dtheta(0), exact(0), 1e-6 * std::abs(exact(0)));
  EXPECT_NEAR(result.dz0(0), exact(1), 1e-6 * std::abs(exact(1)));
}

TEST(PluginLoader, WorkingPluginsProblemIsUsableByName) {
  LoadPlugin(SNODE_GOOD_PLUGIN);
  ASSERT_TRUE(problems::ProblemRegistry().Contains("plugin_two_rate_decay"));
  // Next to the built-ins, which the first use of the registry put there.
  EXPECT_TRUE(problems::ProblemRegistry().Contains("w1b"));
  const auto definition =
      problems::ProblemRegistry().Create("plugin_two_rate_decay", problems::ProblemOptions());
  const problems::ProblemCapabilities c = definition->Capabilities();
  EXPECT_EQ(c.description, "two-rate decay from a plug-in");
  EXPECT_TRUE(c.sweeps && c.exact_gradient);
  const problems::ProblemSetup setup = definition->Make(1e3);
  EXPECT_EQ(setup.name, "plugin_two_rate_decay");
  ASSERT_TRUE(setup.exact_gradient);
  EXPECT_EQ(*setup.exact_gradient, problems::TwoRateDecayExactGradient(1e3));
  // The plug-in's problem solves like the built-in: the loss through the host's integrator.
  IntegratorOptions tight;
  tight.rtol = 1e-10;
  tight.atol = 1e-12;
  auto integrator = IntegratorRegistry().Create("dopri5", tight);
  const problems::ProblemSetup builtin = problems::MakeTwoRateDecay(1e3);
  EXPECT_NEAR(EvaluateLoss(setup.ode, *setup.loss, *integrator),
              EvaluateLoss(builtin.ode, *builtin.loss, *integrator), 1e-12);
  // Its declared range is enforced by the host.
  try {
    definition->Make(1.0);
    ADD_FAILURE() << "λ = 1 below min_lambda = 2 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("problem 'plugin_two_rate_decay': λ = 1 is out of range"),
              std::string::npos)
        << e.what();
  }
}

// examples/problem_plugin: Michaelis–Menten kinetics, stiff with an eigenvalue ≈ −(s + κ)λ.
TEST(PluginLoader, ExampleProblemPluginsFieldIsRightAndStiff) {
  LoadPlugin(SNODE_EXAMPLE_PROBLEM_PLUGIN);
  const auto definition =
      problems::ProblemRegistry().Create("michaelis_menten", problems::ProblemOptions());
  EXPECT_TRUE(definition->Capabilities().positive_states);
  EXPECT_FALSE(definition->Capabilities().exact_gradient);
  const problems::ProblemSetup setup = definition->Make(1e3);
  EXPECT_EQ(setup.ode.theta(2), 1e3);  // λ = 1/ε
  const Vector z = (Vector(2) << 0.7, 0.3).finished();
  auto field = setup.ode.field->Clone();
  EXPECT_TRUE(test_util::FieldDerivativesMatchFiniteDifferences(*field, 0.1, z, setup.ode.theta));
  Matrix jac(2, 2);
  field->DenseJacobian(0.1, z, setup.ode.theta, jac);
  const double fastest = jac.eigenvalues().real().minCoeff();
  EXPECT_NEAR(fastest, -(0.7 + 1.0) * 1e3, 0.01 * 1.7e3);
  EXPECT_THROW(definition->Make(5.0), ConfigError);  // below min_lambda = 10
}

TEST(PluginLoader, LoadingTheSameFileTwiceIsANoOp) {
  LoadPlugin(SNODE_GOOD_PLUGIN);
  LoadPlugin(SNODE_GOOD_PLUGIN);
  // Through another path to the same file (a symbolic link): the same canonical path.
  const fs::path dir = test_util::TempDir("plugin_twice");
  fs::create_symlink(SNODE_GOOD_PLUGIN, dir / "link.so");
  LoadPlugin((dir / "link.so").string());
  EXPECT_EQ(TimesLoaded(SNODE_GOOD_PLUGIN), 1u);
  EXPECT_TRUE(IntegratorRegistry().Contains("plugin_heun"));
  fs::remove_all(dir);
}

TEST(PluginLoader, MissingFileIsAnInputErrorNamingIt) {
  const std::string message = LoadError<InputError>("/nonexistent/snode_plugin.so");
  EXPECT_NE(message.find("'/nonexistent/snode_plugin.so' does not exist"), std::string::npos)
      << message;
}

// A directory, a device or a FIFO is refused before dlopen (which would block on a FIFO).
TEST(PluginLoader, PathThatIsNotARegularFileIsAnInputErrorNamingIt) {
  EXPECT_NE(LoadError<InputError>("/dev/zero").find("'/dev/zero' is not a regular file"),
            std::string::npos);
  EXPECT_NE(LoadError<InputError>("/tmp").find("'/tmp' is not a regular file"), std::string::npos);
}

TEST(PluginLoader, FileThatIsNotASharedObjectIsAnInputErrorWithDlerrorsText) {
  const fs::path dir = test_util::TempDir("plugin_text");
  const fs::path path = dir / "notes.so";
  std::ofstream(path) << "not an ELF file\n";
  const std::string message = LoadError<InputError>(path.string());
  EXPECT_NE(message.find("cannot load plug-in '" + fs::canonical(path).string() + "': "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("notes.so: "), std::string::npos) << message;  // dlerror names the file
  fs::remove_all(dir);
}

TEST(PluginLoader, UnresolvedSymbolIsAnInputErrorNamingTheSymbol) {
  const std::string message = LoadError<InputError>(SNODE_UNRESOLVED_PLUGIN);
  EXPECT_NE(message.find("snode_test_symbol_nobody_defines"), std::string::npos) << message;
  EXPECT_FALSE(IntegratorRegistry().Contains("unresolved_heun"));
}

TEST(PluginLoader, SharedObjectWithoutEntryPointIsNotAPlugin) {
  const std::string message = LoadError<ConfigError>(SNODE_NO_ENTRY_PLUGIN);
  EXPECT_NE(message.find("is not an snode plug-in (no symbol snode_plugin_abi_version"),
            std::string::npos)
      << message;
}

TEST(PluginLoader, WrongAbiVersionNamesBothVersionsAndRegistersNothing) {
  const std::string message = LoadError<ConfigError>(SNODE_WRONG_ABI_PLUGIN);
  EXPECT_NE(message.find("ABI version " + std::to_string(kPluginAbiVersion + 98) +
                         ", this snode has version " + std::to_string(kPluginAbiVersion)),
            std::string::npos)
      << message;
  EXPECT_FALSE(IntegratorRegistry().Contains("wrong_abi_heun"));
}

TEST(PluginLoader, ExceptionDuringRegistrationIsReportedAndRegistersNothing) {
  const std::size_t loaded_before = LoadedPlugins().size();
  for (int attempt = 0; attempt < 2; ++attempt) {  // a failed plug-in is not marked loaded
    const std::string message = LoadError<ConfigError>(SNODE_THROWS_PLUGIN);
    EXPECT_NE(message.find("failed during registration: the plug-in's coefficient file is "
                           "missing; nothing was registered"),
              std::string::npos)
        << message;
  }
  EXPECT_FALSE(IntegratorRegistry().Contains("throwing_heun"));
  EXPECT_FALSE(problems::ProblemRegistry().Contains("throwing_problem"));
  EXPECT_EQ(LoadedPlugins().size(), loaded_before);
}

TEST(PluginLoader, NameAlreadyTakenNamesTheNameAndThePlugin) {
  const std::string message = LoadError<ConfigError>(SNODE_TAKEN_PLUGIN);
  EXPECT_NE(message.find(fs::canonical(SNODE_TAKEN_PLUGIN).string() +
                         "' registers integrator 'dopri5', which is already registered"),
            std::string::npos)
      << message;
  // The built-in is untouched.
  EXPECT_EQ(IntegratorRegistry().Create("dopri5", {})->name(), "dopri5");
}

TEST(PluginLoader, SecondNameTakenRegistersNeitherName) {
  const std::string message = LoadError<ConfigError>(SNODE_SECOND_TAKEN_PLUGIN);
  EXPECT_NE(message.find("registers gradient method 'bptt', which is already registered"),
            std::string::npos)
      << message;
  EXPECT_FALSE(IntegratorRegistry().Contains("second_taken_heun"));
}

TEST(PluginLoader, ProblemNameTakenRegistersNothing) {
  const std::string message = LoadError<ConfigError>(SNODE_PROBLEM_TAKEN_PLUGIN);
  EXPECT_NE(message.find("registers problem 'w1', which is already registered; nothing was "
                         "registered"),
            std::string::npos)
      << message;
  EXPECT_FALSE(IntegratorRegistry().Contains("problem_taken_heun"));
  EXPECT_FALSE(problems::ProblemRegistry().Contains("problem_taken_decay"));
  // The built-in is untouched.
  EXPECT_EQ(problems::ProblemRegistry().Create("w1", {})->Make(2.0).name, "w1");
}

TEST(PluginLoader, NameThatIsNotSnakeCaseIsRejected) {
  const std::string message = LoadError<ConfigError>(SNODE_BAD_NAME_PLUGIN);
  EXPECT_NE(message.find("integrator name 'Bad-Name' must be lowercase snake_case"),
            std::string::npos)
      << message;
}

TEST(PluginLoader, OneNameStagedTwiceRegistersNothing) {
  const std::string message = LoadError<ConfigError>(SNODE_SAME_NAME_TWICE_PLUGIN);
  EXPECT_NE(message.find("registers integrator 'twice_heun' twice; nothing was registered"),
            std::string::npos)
      << message;
  EXPECT_FALSE(IntegratorRegistry().Contains("twice_heun"));
}

// Sets SNODE_PLUGIN_PATH for one test.
class PluginPathEnvironment : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("SNODE_PLUGIN_PATH"); }
  static void Set(const std::string& value) { setenv("SNODE_PLUGIN_PATH", value.c_str(), 1); }
};

TEST_F(PluginPathEnvironment, DirectoriesAndFilesAreLoadedEmptyEntriesSkipped) {
  Set(std::string(SNODE_PLUGIN_DIR) + "::" + SNODE_GOOD_PLUGIN + ":");
  LoadPluginsFromEnvironment();
  EXPECT_TRUE(IntegratorRegistry().Contains("dir_plugin_heun"));
  EXPECT_TRUE(IntegratorRegistry().Contains("plugin_heun"));
  EXPECT_EQ(TimesLoaded(std::string(SNODE_PLUGIN_DIR) + "/libsnode_test_dir_plugin.so"), 1u);
}

TEST_F(PluginPathEnvironment, UnsetOrEmptyLoadsNothing) {
  const std::size_t loaded_before = LoadedPlugins().size();
  LoadPluginsFromEnvironment();
  Set("");
  LoadPluginsFromEnvironment();
  EXPECT_EQ(LoadedPlugins().size(), loaded_before);
}

TEST_F(PluginPathEnvironment, MissingEntryIsAnInputErrorNamingTheVariable) {
  Set("/nonexistent/plugins");
  try {
    LoadPluginsFromEnvironment();
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("SNODE_PLUGIN_PATH names '/nonexistent/plugins'"),
              std::string::npos)
        << e.what();
  }
}

// The apps load plug-ins before they look at names: --list-integrators shows them, and a bad
// plug-in is one `error:` line and exit code 1.
TEST_F(PluginPathEnvironment, AppListsThePluginsIntegratorsAndRejectsABadPlugin) {
  const std::string app = SNODE_STIFFNESS_STUDY_BINARY;
  const auto listed = test_util::RunApp(
      app, std::string("--plugin '") + SNODE_GOOD_PLUGIN + "' --list-integrators");
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("\nplugin_heun\n"), std::string::npos) << listed.out;

  const auto taken = test_util::RunApp(
      app, std::string("--plugin '") + SNODE_TAKEN_PLUGIN + "' --list-integrators");
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_EQ(taken.err.rfind("error: plug-in '", 0), 0u) << taken.err;
  EXPECT_NE(taken.err.find("'dopri5'"), std::string::npos) << taken.err;

  const auto missing = test_util::RunApp(app, "--plugin /nonexistent/p.so --integrator heun");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "error: plug-in file '/nonexistent/p.so' does not exist\n");

  Set(SNODE_PLUGIN_DIR);
  const auto from_environment = test_util::RunApp(app, "--list-integrators");
  EXPECT_EQ(from_environment.exit_code, 0) << from_environment.err;
  EXPECT_NE(from_environment.out.find("\ndir_plugin_heun\n"), std::string::npos)
      << from_environment.out;
}

}  // namespace
}  // namespace snode
