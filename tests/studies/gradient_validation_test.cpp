// studies/gradient_validation: the bound measure, the verdicts and the summary line on a small
// grid (the two-rate decay, where every method is accurate, and a deliberately tiny step budget,
// where every run must fail loudly).
#include "studies/gradient_validation.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.hpp"
#include "problems/decay.hpp"

namespace snode {
namespace {

TEST(GradientValidation, BoundErrorUsesTheFloorForSmallComponents) {
  const Vector e = (Vector(3) << 1000.0, 1.0, 0.0).finished();
  // Component 1: |0.5| / max(1, 1) = 0.5; component 2: 0.1 / 1 (floor 1e-3·1000).
  EXPECT_DOUBLE_EQ(BoundError((Vector(3) << 1000.0, 1.5, 0.1).finished(), e), 0.5);
  EXPECT_DOUBLE_EQ(BoundError((Vector(3) << 1000.0, 1.0, 0.1).finished(), e), 0.1);
  EXPECT_TRUE(std::isnan(BoundError(Vector(), e)));
  EXPECT_THROW(BoundError(Vector::Zero(2), e), ConfigError);
  EXPECT_THROW(BoundError(Vector::Zero(3), Vector::Zero(3)), ConfigError);
}

TEST(GradientValidation, LevelsAndAdaptiveIntegrators) {
  const auto levels = ValidationLevels();
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[2].rtol, 1e-10);
  const auto adaptive = AdaptiveIntegrators();
  EXPECT_NE(std::find(adaptive.begin(), adaptive.end(), "dopri5"), adaptive.end());
  EXPECT_EQ(std::find(adaptive.begin(), adaptive.end(), "rk4"), adaptive.end());
}

std::vector<ValidationProblem> TwoRate() {
  return {{"two_rate", [] { return problems::MakeTwoRateDecay(10.0); }, 1.0}};
}

TEST(GradientValidation, AccurateRunsAreWithinBound) {
  ValidationOptions options;
  options.methods = {"cvodes_adjoint"};
  options.integrators = {"cvodes_bdf"};
  options.levels = {ValidationLevels()[1]};
  const ValidationResult result = RunGradientValidation(TwoRate(), options);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].verdict, "within") << FormatRecord(result.records[0]);
  EXPECT_EQ(result.references[0].source, "exact");
  EXPECT_EQ(SummaryLine(result.summary),
            "gradient validation: 1 runs, 1 within bound, 0 flagged, 0 silent");
}

TEST(GradientValidation, StepBudgetMakesRunsLoud) {
  ValidationOptions options;
  options.methods = {"bptt"};
  options.integrators = {"dopri5"};
  options.max_steps = 2;
  const ValidationResult result = RunGradientValidation(TwoRate(), options);
  ASSERT_EQ(result.records.size(), 3u);
  for (const ValidationRecord& r : result.records) {
    EXPECT_EQ(r.verdict, "flagged") << FormatRecord(r);
    EXPECT_TRUE(r.threw);
  }
}

TEST(GradientValidation, SummaryCountsVerdictsAndSilentRuns) {
  ValidationRecord within, silent, loud;
  within.method = silent.method = loud.method = "bptt";
  within.rtol = silent.rtol = loud.rtol = 1e-6;
  within.verdict = "within";
  within.error = 2e-5;
  silent.verdict = "silent";
  silent.error = 1e-2;
  loud.verdict = "flagged";
  loud.threw = true;
  loud.error = std::nan("");
  const ValidationSummary summary = Summarize({within, silent, loud});
  EXPECT_EQ(SummaryLine(summary),
            "gradient validation: 3 runs, 1 within bound, 1 flagged, 1 silent");
  EXPECT_NEAR(summary.within_c.at("bptt"), 20.0, 1e-9);
  EXPECT_NEAR(summary.needed_c.at("bptt"), 1e4, 1e-6);
}

TEST(GradientValidation, UnknownNamesAreConfigErrors) {
  ValidationOptions options;
  options.methods = {"no_such_method"};
  EXPECT_THROW(RunGradientValidation(TwoRate(), options), ConfigError);
  options.methods = {"bptt"};
  options.integrators = {"no_such_integrator"};
  EXPECT_THROW(RunGradientValidation(TwoRate(), options), ConfigError);
}

TEST(GradientValidation, MethodSettingsReachTheMethod) {
  ValidationOptions options;
  options.methods = {"cvodes_adjoint"};
  options.integrators = {"cvodes_bdf"};
  options.levels = {ValidationLevels()[1]};
  options.method_settings["cvodes_adjoint"].Set("no_such_setting", "1");
  const ValidationResult result = RunGradientValidation(TwoRate(), options);
  EXPECT_TRUE(result.records.empty());
  ASSERT_EQ(result.notes.size(), 1u);
  EXPECT_NE(result.notes[0].find("no_such_setting"), std::string::npos) << result.notes[0];
}

}  // namespace
}  // namespace snode
