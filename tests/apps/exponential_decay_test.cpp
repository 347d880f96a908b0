// Runs the built exponential_decay binary: the seed's claim (backsolve adjoint works at λ = 100
// and fails at λ = 10 000), a correct method at λ = 10 000, outputs, and bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "app_run_util.hpp"

#ifndef SNODE_EXPONENTIAL_DECAY_BINARY
#error "SNODE_EXPONENTIAL_DECAY_BINARY must name the exponential_decay executable"
#endif

namespace {

namespace fs = std::filesystem;
using test_util::AppResult;

const std::string kBinary = SNODE_EXPONENTIAL_DECAY_BINARY;

AppResult RunBinary(const std::string& args) { return test_util::RunApp(kBinary, args); }

void ExpectOneLineError(const AppResult& result, const std::string& needle) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.rfind("error: ", 0), 0u) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "more than one line: " << result.err;
  EXPECT_NE(result.err.find(needle), std::string::npos) << result.err;
}

TEST(ExponentialDecay, ReproducesTheSeedClaimAndTheRemedy) {
  const fs::path dir = fs::temp_directory_path() / ("snode_decay_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const AppResult result = RunBinary("--quiet --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("λ = 100 works"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("λ = 1e4 fails"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("the seed's claim holds"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("Correct at λ = 1e4: none"), std::string::npos) << result.out;

  const auto rows = test_util::ReadCsv(dir / "decay_results.csv");
  bool backsolve_small_ok = false, backsolve_large_failed = true, remedy_ok = false;
  for (const auto& row : rows) {
    const double lambda = std::stod(row.at("lambda"));
    const std::string& verdict = row.at("verdict");
    if (row.at("gradient") == "backsolve_adjoint" && row.at("settings") == "tol=1e-8/1e-60") {
      if (lambda == 100) {
        backsolve_small_ok = verdict == "ok";
        EXPECT_NEAR(std::stod(row.at("y0_reconstructed")), 1.0, 1e-4);
      }
    }
    if (row.at("gradient") == "backsolve_adjoint" && lambda == 1e4 &&
        (verdict == "ok" || verdict == "reasonable")) {
      backsolve_large_failed = false;
    }
    // At λ = 1e4 every exact value underflows to 0: cvodes_adjoint returns values far below any
    // tolerance, and its own quadrature check may flag them (their relative error is unbounded).
    if (row.at("gradient") == "cvodes_adjoint" && lambda == 1e4 &&
        (verdict == "ok" || verdict == "flagged")) {
      remedy_ok = true;
      // e^{-1e4} underflows to 0: the gradient must be 0 to far below any solver tolerance.
      EXPECT_LE(std::abs(std::stod(row.at("dL_dlambda"))), 1e-12);
      EXPECT_LE(std::abs(std::stod(row.at("dL_dy0"))), 1e-12);
    }
    if (row.at("gradient") == "bptt" && row.at("integrator") == "dopri5" && lambda == 100) {
      EXPECT_EQ(verdict, "ok");
      EXPECT_LE(std::stod(row.at("rel_err")), 1e-6);
    }
  }
  EXPECT_TRUE(backsolve_small_ok);
  EXPECT_TRUE(backsolve_large_failed);
  EXPECT_TRUE(remedy_ok);
  const nlohmann::json json =
      nlohmann::json::parse(test_util::ReadFile(dir / "decay_results.json"));
  EXPECT_EQ(json["runs"].size(), rows.size());
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_GT(fs::file_size(dir / "decay_backsolve.png"), 5000u);
    EXPECT_GT(fs::file_size(dir / "decay_backsolve.svg"), 5000u);
  }
  fs::remove_all(dir);
}

TEST(ExponentialDecay, SinglePairFromFlags) {
  const fs::path dir =
      fs::temp_directory_path() / ("snode_decay_pair_" + std::to_string(::getpid()));
  const AppResult result = RunBinary(
      "--lambdas 2 --gradient cvodes_adjoint --integrator cvodes_bdf "
      "--backward-integrator cvodes_bdf --rtol 1e-10 --atol 1e-12 --no-plots --out '" +
      dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto rows = test_util::ReadCsv(dir / "decay_results.csv");
  // The seed's two cvodes_adjoint rows (CVODES and epi2 backward) become one with the
  // backward integrator given.
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("verdict"), "ok");
  EXPECT_NEAR(std::stod(rows[0].at("dL_dlambda")), -std::exp(-2.0), 1e-8);
  fs::remove_all(dir);
}

// Every gradient flag the app accepts reaches the methods it runs (none is silently ignored).
TEST(ExponentialDecay, GradientFlagsAreHonoured) {
  const fs::path dir =
      fs::temp_directory_path() / ("snode_decay_flags_" + std::to_string(::getpid()));
  AppResult result = RunBinary(
      "--lambdas 2 --gradient cvodes_adjoint --backward-integrator dopri5 --no-plots --out '" +
      dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto rows = test_util::ReadCsv(dir / "decay_results.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].at("settings").find("bwd=dopri5"), std::string::npos);
  EXPECT_EQ(rows[0].at("verdict"), "ok");
  // A step budget of 10 is too small for λ = 1e4 with dopri5: the run fails and says so.
  result = RunBinary(
      "--lambdas 1e4 --gradient bptt --integrator dopri5 --max-steps 10 "
      "--no-plots --out '" +
      dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  rows = test_util::ReadCsv(dir / "decay_results.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("verdict"), "failed") << rows[0].at("settings");
  // Tolerances alone reach every adaptive seed method.
  result = RunBinary("--lambdas 2 --rtol 1e-4 --no-plots --out '" + dir.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const auto& row : test_util::ReadCsv(dir / "decay_results.csv")) {
    const std::string& settings = row.at("settings");
    EXPECT_TRUE(settings.rfind("tol=1e-4/", 0) == 0 || settings.rfind("h=", 0) == 0) << settings;
  }
  fs::remove_all(dir);
}

TEST(ExponentialDecay, UnknownFlagIsOneLineError) {
  ExpectOneLineError(RunBinary("--bogus"), "bogus");
}

TEST(ExponentialDecay, UnknownIntegratorIsOneLineError) {
  ExpectOneLineError(RunBinary("--integrator rk45"), "unknown integrator 'rk45'");
}

TEST(ExponentialDecay, NegativeToleranceIsOneLineError) {
  ExpectOneLineError(RunBinary("--atol -1"), "--atol");
}

TEST(ExponentialDecay, NonPositiveLambdaIsOneLineError) {
  ExpectOneLineError(RunBinary("--lambdas 0"), "λ must be positive");
  ExpectOneLineError(RunBinary("--lambdas=-100"), "λ must be positive");
}

TEST(ExponentialDecay, UnreadableConfigIsOneLineError) {
  ExpectOneLineError(RunBinary("--config /nonexistent/decay.cfg"), "/nonexistent/decay.cfg");
}

// The shared tolerance and step-budget flags reach every method of the matrix they apply to
// (they were once ignored): the adaptive rows run at --rtol, and --max-steps 10 makes them fail
// with the solver's "too much work" instead of reporting ok.
TEST(ExponentialDecay, ToleranceAndStepBudgetFlagsAreHonoured) {
  const fs::path dir =
      fs::temp_directory_path() / ("snode_decay_flags_" + std::to_string(::getpid()));
  const AppResult loose =
      RunBinary("--quiet --no-plots --lambdas 100 --rtol 0.1 --out '" + dir.string() + "'");
  ASSERT_EQ(loose.exit_code, 0) << loose.err;
  EXPECT_NE(loose.out.find("tol=0.1/"), std::string::npos) << loose.out;
  EXPECT_EQ(loose.out.find("tol=1e-8/"), std::string::npos) << loose.out;
  const AppResult budget =
      RunBinary("--quiet --no-plots --lambdas 100 --max-steps 10 --out '" + dir.string() + "'");
  ASSERT_EQ(budget.exit_code, 0) << budget.err;
  EXPECT_NE(budget.out.find("TOO_MUCH_WORK"), std::string::npos) << budget.out;
  EXPECT_NE(budget.out.find("Correct at λ = 100: none"), std::string::npos) << budget.out;
  fs::remove_all(dir);
}

}  // namespace
