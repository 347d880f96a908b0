// --check-gradient in the apps (apps/common/app_common.hpp, RunGradientCheck): each app checks
// its configuration before its main work and prints a table and a verdict; a plug-in gradient
// method whose field has a deliberately wrong VjpParams is caught (FAIL); bad input is a
// one-line error. mnist_classifier's cases are in mnist_classifier_test.cpp (they need its data).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "app_run_util.hpp"

#if !defined(SNODE_EXPONENTIAL_DECAY_BINARY) || !defined(SNODE_LOTKA_VOLTERRA_BINARY) || \
    !defined(SNODE_STIFFNESS_STUDY_BINARY) || !defined(SNODE_WRONG_VJP_PLUGIN)
#error "the app binaries and the wrong-VJP plug-in must be named"
#endif

namespace {

namespace fs = std::filesystem;
using test_util::AppResult;

// One directory per test and process: ctest runs the tests of this file in parallel, and two of
// them writing (and clearing) one directory made each other fail.
std::string OutDir(const std::string& name) {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const fs::path dir = fs::temp_directory_path() / ("snode_check_gradient_" + name + "_" + test +
                                                    "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return "'" + dir.string() + "'";
}

AppResult Decay(const std::string& args) {
  return test_util::RunApp(SNODE_EXPONENTIAL_DECAY_BINARY,
                           "--no-plots --quiet --out " + OutDir("decay") + " " + args);
}
AppResult LotkaVolterra(const std::string& args) {
  return test_util::RunApp(SNODE_LOTKA_VOLTERRA_BINARY,
                           "--quiet --iterations 1 --out " + OutDir("lv") + " " + args);
}
AppResult Stiffness(const std::string& args) {
  return test_util::RunApp(SNODE_STIFFNESS_STUDY_BINARY,
                           "--no-plots --quiet --out " + OutDir("stiff") + " " + args);
}

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

void ExpectOneLineError(const AppResult& result, const std::string& needle) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.err.rfind("error: ", 0), 0u) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "more than one line: " << result.err;
  EXPECT_TRUE(Has(result.err, needle)) << result.err;
}

const std::string kPlugin = std::string("--plugin '") + SNODE_WRONG_VJP_PLUGIN + "'";

TEST(CheckGradientApps, ExponentialDecayChecksEveryLambdaBeforeTheStudy) {
  const AppResult r = Decay("--check-gradient --lambdas 2,5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "gradient check decay λ=2: bptt/dopri5 vs central differences")) << r.out;
  EXPECT_TRUE(Has(r.out, "gradient check decay λ=2: pass (max relative error")) << r.out;
  EXPECT_TRUE(Has(r.out, "gradient check decay λ=5: pass")) << r.out;
  EXPECT_LT(r.out.find("gradient check"), r.out.find("Seed experiment")) << "check runs first";
  // The older spelling is an alias.
  const AppResult alias = Decay("--check-gradients --lambdas 2");
  ASSERT_EQ(alias.exit_code, 0) << alias.err;
  EXPECT_TRUE(Has(alias.out, "gradient check decay λ=2: pass")) << alias.out;
  // Another gradient method as the reference.
  const AppResult other =
      Decay("--check-gradient --lambdas 2 --check-gradient-reference cvodes_adjoint");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_TRUE(Has(other.out, "bptt/dopri5 vs cvodes_adjoint through")) << other.out;
}

TEST(CheckGradientApps, LotkaVolterraChecksDiscoverAndNeural) {
  const AppResult r = LotkaVolterra("--check-gradient --mode discover --horizons 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "gradient check discover (start rates, horizon 2): bptt/dopri5 vs"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "dtheta[3]")) << r.out;
  const AppResult neural = LotkaVolterra("--check-gradient --mode neural");
  EXPECT_TRUE(Has(neural.out, "gradient check neural (initial weights")) << neural.out;
  EXPECT_TRUE(Has(neural.out, "a seeded random subset plus random directions")) << neural.out;
}

TEST(CheckGradientApps, CatchesAWrongVjpInTheField) {
  const AppResult r = LotkaVolterra(
      kPlugin + " --gradient wrong_vjp_bptt --check-gradient --mode discover --horizons 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;  // the verdict is a report; the fit still runs
  EXPECT_TRUE(Has(r.out, "gradient check discover (start rates, horizon 2): FAIL")) << r.out;
  EXPECT_TRUE(Has(r.out, "wrong_vjp_bptt/dopri5")) << r.out;
}

TEST(CheckGradientApps, StiffnessStudyChecksItsProblemsAndKeepsItsNotes) {
  const AppResult r = Stiffness("--check-gradient --problems w1b --lambdas 1,1e3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "gradient check w1b λ=1: pass")) << r.out;
  EXPECT_TRUE(Has(r.out, "gradient check w1b λ=1e3: pass")) << r.out;
  EXPECT_TRUE(Has(r.out, "check-gradients w1b")) << "the study's notes as before: " << r.out;
  // Robertson with the explicit default integrator: within the study's step budget, checked or
  // reported as not run, never a hang or an abort.
  const AppResult robertson = Stiffness("--check-gradient --problems robertson --lambdas 40");
  EXPECT_EQ(robertson.exit_code, 0) << robertson.err;
  EXPECT_TRUE(Has(robertson.out, "gradient check robertson T=40")) << robertson.out;
}

TEST(CheckGradientApps, BadInputIsOneLineError) {
  ExpectOneLineError(Decay("--check-gradient --check-gradient-reference magic"),
                     "--check-gradient-reference: unknown gradient method 'magic'");
  ExpectOneLineError(Decay("--check-gradient-reference bptt"),
                     "--check-gradient-reference needs --check-gradient");
  ExpectOneLineError(LotkaVolterra("--check-gradient --check-gradient-reference nope"),
                     "unknown gradient method 'nope'");
  ExpectOneLineError(Stiffness("--check-gradient-reference cvodes_adjoint"),
                     "needs --check-gradient");
  ExpectOneLineError(Decay("--check-gradient=maybe"), "check-gradient");
}

}  // namespace
