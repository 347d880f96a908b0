// Tests of apps/common: flag parsing and validation, RunApp's error contract, number formats,
// tables, CSV/JSON/atomic files, gnuplot rendering, and the gradient-study helpers.
#include "apps/common/app_common.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "studies/gradient_study.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"

namespace snode::app {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("snode_app_common_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

po::variables_map Parse(std::vector<std::string> args, po::options_description* desc) {
  AddCommonOptions(*desc);
  std::vector<const char*> argv = {"app"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), *desc);
}

TEST(AppCommon, ParsesCommonFlagsIntoOptions) {
  po::options_description desc;
  const po::variables_map vm =
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
  EXPECT_EQ(options.gradient_options.cvodes_observations, "auto");
  po::options_description restart_desc;
  EXPECT_EQ(ReadCommonOptions(Parse({"--cvodes-observations", "restart"}, &restart_desc))
                .gradient_options.cvodes_observations,
            "restart");
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
    const po::variables_map vm = Parse(args, &desc);
    EXPECT_THROW(ReadCommonOptions(vm), ConfigError) << args[0] << " " << args[1];
  }
}

TEST(AppCommon, UnknownIntegratorMessageListsKnownNames) {
  po::options_description desc;
  const po::variables_map vm = Parse({"--integrator", "rk45"}, &desc);
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
  const po::variables_map vm = Parse({"--config", config.string(), "--rtol", "1e-7"}, &desc);
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

TEST(AppCommon, HelpAndListsAreHandled) {
  po::options_description desc;
  const po::variables_map vm = Parse({"--list-integrators"}, &desc);
  std::ostringstream out;
  EXPECT_TRUE(HandleInfoOptions(vm, desc, "usage", out));
  EXPECT_NE(out.str().find("dopri5\n"), std::string::npos);
  po::options_description desc2;
  const po::variables_map vm2 = Parse({}, &desc2);
  std::ostringstream out2;
  EXPECT_FALSE(HandleInfoOptions(vm2, desc2, "usage", out2));
}

TEST(AppCommon, ParsesLists) {
  EXPECT_EQ(ParseDoubleList("1, 10,1e3", "--l"), (std::vector<double>{1.0, 10.0, 1000.0}));
  EXPECT_THROW(ParseDoubleList("1,,2", "--l"), ConfigError);
  EXPECT_THROW(ParseDoubleList("1,abc", "--l"), ConfigError);
  EXPECT_THROW(ParseDoubleList("inf", "--l"), ConfigError);
  EXPECT_EQ(ParseNameList(" a, b ,"), (std::vector<std::string>{"a", "b"}));
}

TEST(AppCommon, FormatsNumbers) {
  EXPECT_EQ(FormatCompact(1e-3), "1e-3");
  EXPECT_EQ(FormatCompact(1e4), "1e4");
  EXPECT_EQ(FormatCompact(100), "100");
  EXPECT_EQ(FormatCompact(3390.0), "3.39e3");
  EXPECT_EQ(FormatCompact(0.5), "0.5");
  EXPECT_EQ(FormatNumber(std::nan("")), "nan");
  EXPECT_EQ(FormatScientific(-INFINITY), "-inf");
  EXPECT_EQ(FormatSeconds(0.0123), "12.3 ms");
  EXPECT_EQ(FormatBytes(2048), "2.0 kB");
}

TEST(AppCommon, TablePadsColumnsAndRejectsRaggedRows) {
  Table table({"name", "value"});
  table.AddRow({"a", "1"});
  table.AddRow({"λλλλλ", "12345"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_NE(out.str().find("a          1\n"), std::string::npos) << out.str();
  EXPECT_THROW(table.AddRow({"x"}), ConfigError);
}

TEST(AppCommon, WritesCsvJsonAtomically) {
  const fs::path dir = TempDir("files");
  WriteCsv((dir / "a.csv").string(), {"x", "y"}, {{"1", "has,comma"}, {"2", "quote\"d"}});
  EXPECT_EQ(ReadAll(dir / "a.csv"), "x,y\n1,\"has,comma\"\n2,\"quote\"\"d\"\n");
  WriteJson((dir / "b.json").string(), {{"v", JsonNumber(NAN)}, {"w", 2.5}});
  const nlohmann::json parsed = nlohmann::json::parse(ReadAll(dir / "b.json"));
  EXPECT_TRUE(parsed["v"].is_null());
  EXPECT_DOUBLE_EQ(parsed["w"].get<double>(), 2.5);
  // No temporary files left behind.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_THROW(AtomicWriteFile("/proc/snode_cannot_write/x", "y"), InputError);
  fs::remove_all(dir);
}

TEST(AppCommon, RendersGnuplotOrSaysWhy) {
  const fs::path dir = TempDir("plot");
  std::ofstream(dir / "d.dat") << "1 1\n2 4\n3 9\n";
  const PlotResult result =
      RenderGnuplot(dir.string(), "p", "set xlabel 'x'\nset ylabel 'y'\nplot 'd.dat' w lp");
  EXPECT_TRUE(fs::exists(dir / "p.gp"));
  if (GnuplotAvailable()) {
    ASSERT_TRUE(result.rendered) << result.note;
    EXPECT_GT(fs::file_size(dir / "p.png"), 1000u);
    EXPECT_GT(fs::file_size(dir / "p.svg"), 1000u);
  } else {
    EXPECT_FALSE(result.rendered);
    EXPECT_NE(result.note.find("gnuplot not found"), std::string::npos);
  }
  ::setenv("SNODE_GNUPLOT", "none", 1);
  const PlotResult absent = RenderGnuplot(dir.string(), "q", "plot 'd.dat'");
  ::unsetenv("SNODE_GNUPLOT");
  EXPECT_FALSE(absent.rendered);
  EXPECT_NE(absent.note.find("gnuplot not found"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "q.gp"));
  fs::remove_all(dir);
}

TEST(GradientStudy, ComparesAndClassifiesGradients) {
  Vector exact(3);
  exact << 1.0, -2.0, 0.0;  // the last one "underflows"
  Vector g(3);
  g << 1.0 + 1e-6, -2.0, 1e-13;
  const GradientError error = CompareGradient(g, exact);
  EXPECT_NEAR(error.rel, 1e-6, 1e-12);
  EXPECT_TRUE(error.underflow);
  EXPECT_NEAR(error.underflow_abs, 1e-13, 1e-20);
  EXPECT_TRUE(WithinTolerance(g, exact, 1e-5, 1e-12, false));
  EXPECT_FALSE(WithinTolerance(g, exact, 1e-7, 1e-12, false));
  g(2) = 1e-11;
  EXPECT_FALSE(WithinTolerance(g, exact, 1e-5, 1e-12, false));
  EXPECT_TRUE(std::isnan(CompareGradient(Vector(), exact).rel));
}

TEST(GradientStudy, RunsMethodsAndReportsFailuresAsStatus) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.z0 = Vector::Ones(1);
  problem.theta = Vector::Constant(1, 2.0);
  problem.output_times = {1.0};
  const LinearFunctionalLoss loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1);
  Vector exact(2);
  exact << -std::exp(-2.0), std::exp(-2.0);
  const GradientRun ok =
      RunGradient(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12), problem, loss);
  ASSERT_FALSE(ok.threw) << ok.message;
  EXPECT_EQ(Classify(ok, exact, 1e-6, 0.0, false), "ok");
  // Explicit RK4 with h = 1 on λ = 1e4 blows up: a status, not an exception.
  problem.theta(0) = 1e4;
  const GradientRun bad = RunGradient(MakeMethod("bptt", "rk4", 1e-6, 1e-8, 0.5), problem, loss);
  EXPECT_NE(Classify(bad, exact, 1e-3, 0.0, false), "ok");
  std::string reason;
  EXPECT_FALSE(SupportsCombination(MakeMethod("cvodes_adjoint", "dopri5", 1e-6, 1e-8), &reason));
  EXPECT_FALSE(reason.empty());
  EXPECT_TRUE(SupportsCombination(MakeMethod("bptt", "dopri5", 1e-6, 1e-8), &reason));
}

TEST(GradientStudy, BacksolveReconstructionMatchesForwardOnNonStiffDecay) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.z0 = Vector::Ones(1);
  problem.theta = Vector::Constant(1, 1.0);
  problem.output_times = {0.5, 1.0};
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(1), 2);
  const MethodSpec spec = MakeMethod("backsolve_adjoint", "dopri5", 1e-10, 1e-12);
  const GradientRun run = RunGradient(spec, problem, loss);
  ASSERT_FALSE(run.threw) << run.message;
  const Reconstruction rec = ReconstructBacksolve(spec, problem, loss, run.forward_states, 11);
  ASSERT_TRUE(rec.complete) << rec.message;
  ASSERT_EQ(rec.times.size(), 11u);
  for (std::size_t k = 0; k < rec.times.size(); ++k) {
    EXPECT_NEAR(rec.states[k](0), std::exp(-rec.times[k]), 1e-8) << "t = " << rec.times[k];
  }
  Vector z0;
  std::string message;
  ASSERT_TRUE(ReconstructInitialState(spec, problem, loss, run.forward_states, &z0, &message));
  EXPECT_NEAR(z0(0), 1.0, 1e-8);
  // The same relative error the method itself reports.
  EXPECT_NEAR(std::abs(z0(0) - 1.0), run.stats.reconstruction_error, 1e-9);
}

}  // namespace
}  // namespace snode::app
