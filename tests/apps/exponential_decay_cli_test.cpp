// Tests of apps/cli/exponential_decay_cli.hpp: exponential_decay's flags read into the study's
// options without running it; every given flag is honoured or an error.
#include "apps/cli/exponential_decay_cli.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace snode::app {
namespace {

DecayCommandLine Read(const std::vector<std::string>& args) {
  return ReadDecayCommandLine(test_util::ParseArgs(ExponentialDecayCommandLine(), args));
}

std::string ErrorOf(const std::vector<std::string>& args) {
  return test_util::ReadError(ExponentialDecayCommandLine(), args);
}

TEST(ExponentialDecayCli, ReadsEveryFlagIntoTheStudyOptions) {
  const DecayCommandLine line = Read({"--lambdas", "1e4,100,100", "--rtol", "1e-7", "--max-steps",
                                      "500", "--ok-tol", "1e-4", "--no-plots", "--out", "x"});
  EXPECT_EQ(line.study.lambdas, (std::vector<double>{100.0, 1e4}));
  EXPECT_TRUE(line.study.overrides.rtol_set);
  EXPECT_DOUBLE_EQ(line.study.overrides.given.rtol, 1e-7);
  EXPECT_TRUE(line.study.overrides.max_steps_set);
  EXPECT_EQ(line.study.overrides.given.max_steps, 500);
  EXPECT_DOUBLE_EQ(line.study.ok_tol, 1e-4);
  EXPECT_FALSE(line.study.plots);
  EXPECT_EQ(line.study.out_dir, "x");
  EXPECT_FALSE(line.bench_repetitions.has_value());
  EXPECT_EQ(Read({"--bench", "3"}).bench_repetitions.value_or(0), 3);
}

TEST(ExponentialDecayCli, BadValuesAreErrorsInTheUsersUnits) {
  EXPECT_EQ(ErrorOf({"--rtol", "1e-400"}),
            "--rtol must be positive and finite, got 0 (a number below 2.2e-308 reads as 0)");
  EXPECT_EQ(ErrorOf({"--rtol", "0.5", "--atol", "inf"}),
            "--atol must be positive and finite, got inf");
  EXPECT_EQ(ErrorOf({"--rtol", "2"}), "--rtol must be below 1 (a relative tolerance), got 2");
  EXPECT_EQ(ErrorOf({"--ok-tol", "2"}),
            "--ok-tol must be between 1e-16 and 1 (a relative error), got 2");
  EXPECT_EQ(ErrorOf({"--lambdas", "1e-320"}),
            "--lambdas: '1e-320' is too small for a double (nonzero values must be at least "
            "2.2e-308 in size)");
  EXPECT_EQ(ErrorOf({"--lambdas", "100,1e400"}),
            "--lambdas: '1e400' is too large for a double (at most 1.8e308 in size)");
  EXPECT_EQ(ErrorOf({"--lambdas", "100,x"}), "--lambdas: 'x' is not a finite number");
  EXPECT_EQ(ErrorOf({"--lambdas", "-1"}), "--lambdas: λ must be positive, got -1");
  EXPECT_EQ(ErrorOf({"--seminorm", "off"}),
            "--seminorm is an option of --gradient backsolve_adjoint, not of 'bptt'");
  EXPECT_EQ(ErrorOf({"--bench", "0"}), "--bench must be between 1 and 1000 (repetitions), got 0");
}

}  // namespace
}  // namespace snode::app
