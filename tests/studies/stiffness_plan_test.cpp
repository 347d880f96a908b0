// studies/stiffness_plan: the --lambdas syntax, --methods, presets, sweeps and the recipes
// instantiated against a problem's declared capabilities.
#include "studies/stiffness_plan.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "problems/decay.hpp"

namespace snode {
namespace {

TEST(StiffnessPlan, LambdaListsRangesAndCounts) {
  EXPECT_EQ(ParseLambdaSpec("100,1,10,10", "--lambdas"), (std::vector<double>{1, 10, 100}));
  EXPECT_EQ(ParseLambdaSpec("1e1:1e4", "--lambdas"), (std::vector<double>{10, 100, 1e3, 1e4}));
  const std::vector<double> spaced = ParseLambdaSpec("1:1e4:5", "--lambdas");
  ASSERT_EQ(spaced.size(), 5u);
  EXPECT_EQ(spaced.front(), 1.0);
  EXPECT_EQ(spaced.back(), 1e4);
  EXPECT_NEAR(spaced[2], 100.0, 1e-12);
  // A range whose end is not a decade of its start ends at the end itself.
  EXPECT_EQ(ParseLambdaSpec("1:50", "--lambdas"), (std::vector<double>{1, 10, 50}));
}

TEST(StiffnessPlan, BadLambdasAreErrorsNamingTheFlag) {
  for (const char* bad : {"", "x", "1,-5", "0", "1e-320", "1e400", "1e4:1", "1:10:0", "1:2:3:4",
                          "1:1e4:100", "1:1e300"}) {
    EXPECT_THROW(ParseLambdaSpec(bad, "--lambdas"), ConfigError) << bad;
  }
  try {
    ParseLambdaSpec("1e-320", "--lambdas");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--lambdas: λ must lie between"), std::string::npos);
  }
}

TEST(StiffnessPlan, MethodListsAreCheckedAgainstTheRegistries) {
  const std::vector<MethodRecipe> recipes =
      ParseMethodList("bptt/dopri5, cvodes_adjoint/cvodes_bdf/epi2,bptt/dopri5", "--methods");
  ASSERT_EQ(recipes.size(), 2u);  // the repeated pair once
  EXPECT_EQ(recipes[1].Label(), "cvodes_adjoint/cvodes_bdf/epi2");
  EXPECT_THROW(ParseMethodList("bptt", "--methods"), ConfigError);
  EXPECT_THROW(ParseMethodList("magic/dopri5", "--methods"), ConfigError);
  EXPECT_THROW(ParseMethodList("bptt/rk45", "--methods"), ConfigError);
  EXPECT_THROW(ParseMethodList(",", "--methods"), ConfigError);
}

TEST(StiffnessPlan, PresetsAndSweeps) {
  EXPECT_EQ(FindPreset("quick").tolerances, std::vector<double>{1e-6});
  EXPECT_TRUE(FindPreset("full").problems.empty());  // every registered problem
  EXPECT_THROW(FindPreset("fast"), ConfigError);
  problems::ProblemCapabilities swept;
  swept.sweeps = true;
  swept.default_lambdas = {1, 100};
  swept.min_lambda = 5;
  EXPECT_EQ(SweepFor(swept, {}, 0), (std::vector<double>{1, 100}));
  EXPECT_EQ(SweepFor(swept, {}, 2), (std::vector<double>{1, 100, 1e3, 1e4}));
  EXPECT_EQ(SweepFor(swept, {1, 10}, 0), std::vector<double>{10});  // below min_lambda dropped
  problems::ProblemCapabilities fixed;
  fixed.default_lambdas = {3};
  EXPECT_EQ(SweepFor(fixed, {1, 10}, 2), std::vector<double>{3});
}

TEST(StiffnessPlan, RecipesFollowTheDeclaredScales) {
  problems::ProblemCapabilities capabilities;
  capabilities.atol_scale = 1e-6;
  capabilities.fixed_steps = 500;
  const problems::ProblemSetup setup = problems::MakeDecay(10.0);  // t in [0, 1]
  const std::vector<MethodSpec> specs = InstantiateRecipes(
      {{"bptt", "dopri5", ""}, {"bptt", "rk4", ""}}, {1e-6, 1e-10}, capabilities, setup.ode, 1234);
  ASSERT_EQ(specs.size(), 3u);  // two tolerances, one fixed step
  EXPECT_EQ(specs[0].Label(), "bptt/dopri5 tol=1e-6");
  EXPECT_EQ(specs[0].options.integrator_options.atol, 1e-12);
  EXPECT_EQ(specs[1].options.integrator_options.rtol, 1e-10);
  EXPECT_EQ(specs[2].Label(), "bptt/rk4 h=span/500");
  EXPECT_DOUBLE_EQ(specs[2].options.integrator_options.fixed_step, 1.0 / 500);
  for (const MethodSpec& spec : specs) EXPECT_EQ(spec.options.integrator_options.max_steps, 1234);
}

}  // namespace
}  // namespace snode
