// Tests of apps/cli/reaction_diffusion_cli.hpp: reaction_diffusion's flags read into a gradient
// run or the scaling benchmark without running either; every given flag is honoured or an error.
#include "apps/cli/reaction_diffusion_cli.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/errors.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace snode::app {
namespace {

ReactionDiffusionCommandLine Read(const std::vector<std::string>& args) {
  return ReadReactionDiffusionCommandLine(
      test_util::ParseArgs(ReactionDiffusionAppCommandLine(), args));
}

std::string ErrorOf(const std::vector<std::string>& args) {
  return test_util::ReadError(ReactionDiffusionAppCommandLine(), args);
}

TEST(ReactionDiffusionCli, DefaultsAreTheStiffKrylovPath) {
  const ReactionDiffusionCommandLine line = Read({});
  EXPECT_EQ(line.points, 1000);
  EXPECT_EQ(line.common.gradient, "cvodes_adjoint");
  EXPECT_EQ(line.common.integrator, "cvodes_bdf");
  EXPECT_EQ(line.common.integrator_options.linear_solver, "gmres");
  EXPECT_FALSE(line.reference);
  EXPECT_FALSE(line.bench_repetitions.has_value());
}

TEST(ReactionDiffusionCli, ReadsTheGradientRunAndTheBenchFlags) {
  const ReactionDiffusionCommandLine run =
      Read({"--points", "64", "--reference", "--rtol", "1e-7", "--out", "x"});
  EXPECT_EQ(run.points, 64);
  EXPECT_TRUE(run.reference);
  EXPECT_DOUBLE_EQ(run.common.integrator_options.rtol, 1e-7);
  EXPECT_EQ(run.common.out_dir, "x");

  const ReactionDiffusionCommandLine bench =
      Read({"--bench", "2", "--sizes", "1000,100", "--no-plots", "--seed", "4", "--out", "y"});
  EXPECT_EQ(bench.bench_repetitions.value_or(0), 2);
  EXPECT_EQ(bench.bench.repetitions, 2);
  EXPECT_EQ(bench.bench.sizes, (std::vector<Index>{1000, 100}));
  EXPECT_FALSE(bench.bench.plots);
  EXPECT_EQ(bench.bench.seed, 4u);
  EXPECT_EQ(bench.bench.out_dir, "y");
}

TEST(ReactionDiffusionCli, BadValuesAndUnusedFlagsAreErrors) {
  EXPECT_EQ(ErrorOf({"--points", "2"}),
            "--points must be between 3 and 10000000 (grid points), got 2");
  EXPECT_EQ(ErrorOf({"--bench", "1", "--sizes", "100,2.5"}),
            "--sizes: a grid size must be a whole number between 3 and 1e7, got 2.5");
  EXPECT_EQ(ErrorOf({"--sizes", "100"}),
            "--sizes does not apply to reaction_diffusion; leave it out");
  EXPECT_EQ(ErrorOf({"--bench", "1", "--points", "100"}),
            "--points does not apply to reaction_diffusion --bench; leave it out");
  EXPECT_NE(ErrorOf({"--bench", "1", "--rtol", "1e-3"}).find("--bench runs its own methods"),
            std::string::npos);
  EXPECT_EQ(ErrorOf({"--bench", "0"}), "--bench must be between 1 and 1000 (repetitions), got 0");
}

}  // namespace
}  // namespace snode::app
