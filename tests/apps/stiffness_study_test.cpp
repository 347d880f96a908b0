// Runs the built stiffness_study binary with small settings: its outputs, the λ = 1e4 verdicts
// on W1b, and its handling of bad input (one-line error, exit code 1, no crash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "app_run_util.hpp"

#ifndef SNODE_STIFFNESS_STUDY_BINARY
#error "SNODE_STIFFNESS_STUDY_BINARY must name the stiffness_study executable"
#endif

namespace {

namespace fs = std::filesystem;
using test_util::AppResult;

const std::string kBinary = SNODE_STIFFNESS_STUDY_BINARY;

fs::path OutDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("snode_stiffness_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

AppResult RunBinary(const std::string& args) { return test_util::RunApp(kBinary, args); }

// A bad invocation: exit code 1, stdout clean of results, exactly one stderr line "error: ...".
void ExpectOneLineError(const AppResult& result, const std::string& needle) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.rfind("error: ", 0), 0u) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "more than one line: " << result.err;
  EXPECT_NE(result.err.find(needle), std::string::npos) << result.err;
}

TEST(StiffnessStudy, SmallSweepWritesOutputsAndFlagsBacksolveAtLambda1e4) {
  const fs::path dir = OutDir("sweep");
  const AppResult result =
      RunBinary("--problems w1b --lambdas 100,1e4 --quiet --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("preset default: 1 problem"), std::string::npos) << result.out;
  const auto rows = test_util::ReadCsv(dir / "stiffness_results.csv");
  int backsolve = 0, cvodes_tight = 0, bptt_implicit = 0;
  for (const auto& row : rows) {
    if (row.at("problem") != "w1b" || std::stod(row.at("lambda")) != 1e4) continue;
    const std::string& method = row.at("gradient");
    const std::string& status = row.at("status");
    if (method == "backsolve_adjoint") {
      ++backsolve;
      EXPECT_NE(status, "ok") << row.at("integrator") << " " << row.at("settings");
      EXPECT_EQ(row.at("recon_flagged"), "1") << row.at("integrator") << " " << row.at("settings");
    }
    if (method == "cvodes_adjoint" && row.at("settings") == "tol=1e-10") {
      ++cvodes_tight;
      EXPECT_EQ(status, "ok");
      EXPECT_LE(std::stod(row.at("rel_err")), 1e-6);
    }
    // BPTT through the adaptive implicit SDIRK integrator.
    if (method == "bptt" && row.at("integrator") == "sdirk" && row.at("settings") == "tol=1e-10") {
      ++bptt_implicit;
      EXPECT_EQ(status, "ok");
      EXPECT_LE(std::stod(row.at("rel_err")), 1e-6);
    }
    // Explicit RK4 with h = 1e-3 is unstable at hλ = 10.
    if (method == "bptt" && row.at("integrator") == "rk4") {
      EXPECT_NE(status, "ok");
    }
  }
  EXPECT_GE(backsolve, 2);
  EXPECT_EQ(cvodes_tight, 1);
  EXPECT_EQ(bptt_implicit, 1);

  const nlohmann::json json =
      nlohmann::json::parse(test_util::ReadFile(dir / "stiffness_results.json"));
  EXPECT_EQ(json["runs"].size(), rows.size());
  EXPECT_EQ(json["schema_version"], 2);
  EXPECT_FALSE(json["summary"].empty());
  // The report: one page with the verdict and inline figures, and its Markdown twin.
  const std::string html = test_util::ReadFile(dir / "report.html");
  EXPECT_NE(html.find("id=\"verdict-table\""), std::string::npos);
  EXPECT_TRUE(test_util::NonEmptyFile(dir / "report.md"));
  EXPECT_NE(result.out.find("report: "), std::string::npos) << result.out;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_NE(html.find("<svg"), std::string::npos);
    for (const std::string figure : {"w1b_error", "w1b_cost", "w1b_pareto"}) {
      EXPECT_GT(fs::file_size(dir / "figures" / (figure + ".svg")), 5000u) << figure;
    }
  }
  fs::remove_all(dir);
}

// The 4x4 non-normal system: bptt/dopri5 at rtol 1e-10 with ERKStep's own step control (steps
// at the stability limit) is wrong by orders of magnitude and its own reverse-pass diagnosis says
// so: "flagged", never "ok".
// bptt/dopri5 at rtol 1e-10 on the non-normal system into `dir`, with `flags` added.
AppResult RunNonNormalBpttDopri5(const fs::path& dir, const std::string& flags) {
  return RunBinary(
      "--problems nonnormal --gradient bptt --integrator dopri5 --rtol 1e-10 --atol 1e-12 " +
      flags + " --no-plots --quiet --tables --out '" + dir.string() + "'");
}

TEST(StiffnessStudy, NonNormalBpttDopri5AtTightToleranceIsFlagged) {
  const fs::path dir = OutDir("nonnormal");
  const AppResult result = RunNonNormalBpttDopri5(dir, "--step-controller arkode");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("== nonnormal"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("flagged (bptt: reverse pass amplified round-off"), std::string::npos)
      << result.out;
  const auto rows = test_util::ReadCsv(dir / "stiffness_results.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("problem"), "nonnormal");
  EXPECT_EQ(rows[0].at("status"), "flagged");
  EXPECT_EQ(rows[0].at("flagged"), "1");
  EXPECT_GT(std::stod(rows[0].at("rel_err")), 1.0);  // the gradient is indeed wrong
  EXPECT_GT(std::stod(rows[0].at("error_estimate")), 1e-10);
  fs::remove_all(dir);
}

// The same run with the default step control ("i" with its stability cap) is right and "ok".
TEST(StiffnessStudy, NonNormalBpttDopri5IsRightUnderTheStabilityCap) {
  const fs::path dir = OutDir("nonnormal_cap");
  const AppResult result = RunNonNormalBpttDopri5(dir, "");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto rows = test_util::ReadCsv(dir / "stiffness_results.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("status"), "ok");
  EXPECT_EQ(rows[0].at("flagged"), "0");
  EXPECT_LT(std::stod(rows[0].at("rel_err")), 1e-8);
  fs::remove_all(dir);
}

TEST(StiffnessStudy, WithoutGnuplotKeepsDataAndSaysSo) {
  const fs::path dir = OutDir("nognuplot");
  const AppResult result = test_util::RunApp(
      "/usr/bin/env", "SNODE_GNUPLOT=none '" + kBinary +
                          "' --problems w1 --lambdas 1,10 --gradient bptt --integrator rk4 --quiet "
                          "--out '" +
                          dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("gnuplot was not found"), std::string::npos) << result.out;
  EXPECT_NE(test_util::ReadFile(dir / "report.html").find("gnuplot was not found"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "figures" / "w1_error.svg"));
  const auto rows = test_util::ReadCsv(dir / "stiffness_results.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("status"), "ok");
  fs::remove_all(dir);
}

TEST(StiffnessStudy, HelpAndListsExitZero) {
  const AppResult help = RunBinary("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--lambda-max"), std::string::npos);
  const AppResult list = RunBinary("--list-gradients");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("backsolve_adjoint\n"), std::string::npos);
}

TEST(StiffnessStudy, UnknownFlagIsOneLineError) {
  ExpectOneLineError(RunBinary("--bogus"), "bogus");
}

TEST(StiffnessStudy, UnknownIntegratorIsOneLineError) {
  ExpectOneLineError(RunBinary("--integrator rk45"), "unknown integrator 'rk45'");
}

TEST(StiffnessStudy, NegativeToleranceIsOneLineError) {
  ExpectOneLineError(RunBinary("--rtol -1e-6"), "--rtol");
}

TEST(StiffnessStudy, NonPositiveLambdaIsOneLineError) {
  ExpectOneLineError(RunBinary("--lambdas 1,-5"), "λ must be positive");
  ExpectOneLineError(RunBinary("--lambdas 0"), "λ must be positive");
  ExpectOneLineError(RunBinary("--lambda-max 0"), "--lambda-max");
  // A sweep too long to be meant, and values a double cannot hold: refused at once, by name.
  ExpectOneLineError(RunBinary("--lambda-max 1e300"), "more than 61 values of λ");
  ExpectOneLineError(RunBinary("--lambdas 1e-320"), "between 2.2e-308 and 1.8e308");
  ExpectOneLineError(RunBinary("--lambdas 1:1e4:100"), "100 points is more than 61");
}

TEST(StiffnessStudy, UnreadableConfigIsOneLineError) {
  ExpectOneLineError(RunBinary("--config /nonexistent/study.cfg"), "/nonexistent/study.cfg");
}

TEST(StiffnessStudy, ConfigFileSetsOptions) {
  const fs::path dir = OutDir("config");
  fs::create_directories(dir);
  std::ofstream(dir / "study.cfg") << "problems = w1\nlambdas = 10\ngradient = bptt\n"
                                      "integrator = dopri5\nno-plots = true\nquiet = true\n";
  const AppResult result =
      RunBinary("--config '" + (dir / "study.cfg").string() + "' --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto rows = test_util::ReadCsv(dir / "stiffness_results.csv");
  ASSERT_FALSE(rows.empty());
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("gradient"), "bptt");
    EXPECT_EQ(row.at("integrator"), "dopri5");
    EXPECT_EQ(std::stod(row.at("lambda")), 10.0);
  }
  fs::remove_all(dir);
}

// Issue 19 case 8: an unwritable --out fails before any work (it failed after the study before).
TEST(StiffnessStudy, UnwritableOutFailsBeforeAnyWork) {
  const AppResult result = RunBinary("--problems w1 --lambdas 10 --quiet --out /proc/self");
  ExpectOneLineError(result, "--out '/proc/self': cannot write there");
  EXPECT_EQ(result.out.find("stiffness study"), std::string::npos) << result.out;
}

// Issue 19 case 9: flags the run would not use were ignored with exit code 0; now each is an
// error naming it, before any work (no output directory).
TEST(StiffnessStudy, FlagsThatDoNotApplyAreOneLineErrors) {
  const fs::path dir = OutDir("unused");
  ExpectOneLineError(RunBinary("--problems w1 --neural-iterations 5 --out '" + dir.string() + "'"),
                     "--neural-iterations applies only when the study trains");
  ExpectOneLineError(RunBinary("--problems w1 --neural-lr 0.5 --out '" + dir.string() + "'"),
                     "--neural-lr applies only when the study trains");
  ExpectOneLineError(RunBinary("--problems w1 --robertson-horizons 7 --out '" + dir.string() + "'"),
                     "--robertson-horizons does not apply to stiffness_study without --bench");
  ExpectOneLineError(RunBinary("--bench 1 --methods bptt/dopri5 --out '" + dir.string() + "'"),
                     "--methods does not apply to stiffness_study --bench");
  ExpectOneLineError(RunBinary("--threads 0"), "--threads must be between 1 and 256");
  ExpectOneLineError(RunBinary("--ok-tol 1e300"), "--ok-tol must be between 1e-16 and 1");
  ExpectOneLineError(RunBinary("--problem-file /tmp"), "--problem-file '/tmp': is a directory");
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
