// studies/gradient_study (the sweep and matrix helpers): decades, sorting, the decay study
// problems, a judged run, and dropping unsupported combinations.
#include "studies/gradient_study.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace snode {
namespace {

TEST(GradientStudy, DecadesUpTo) {
  EXPECT_EQ(DecadesUpTo(1e3), (std::vector<double>{1, 10, 100, 1e3}));
  EXPECT_EQ(DecadesUpTo(500), (std::vector<double>{1, 10, 100, 500}));
  EXPECT_EQ(DecadesUpTo(1), (std::vector<double>{1}));
  EXPECT_EQ(SortedUnique({10, 1, 10, 3}), (std::vector<double>{1, 3, 10}));
}

TEST(GradientStudy, DecayStudyProblems) {
  const StudyProblem decay = DecayStudyProblem(100.0);
  EXPECT_EQ(decay.name, "W1");
  EXPECT_EQ(decay.lambda, 100.0);
  EXPECT_TRUE(decay.abs_for_all);
  EXPECT_EQ(decay.exact.size(), 2);
  const StudyProblem two_rate = TwoRateStudyProblem(10.0);
  EXPECT_EQ(two_rate.name, "W1b");
  EXPECT_FALSE(two_rate.abs_for_all);
  EXPECT_EQ(two_rate.exact.size(), 4);
}

TEST(GradientStudy, EvaluateJudgesTheRun) {
  const GradientRecord ok = Evaluate(
      TwoRateStudyProblem(1.0), MakeMethod("bptt", "dopri5", 1e-9, 1e-9), 1e-3, kGradientAbsTol);
  EXPECT_EQ(ok.problem, "W1b");
  EXPECT_EQ(ok.status, "ok");
  EXPECT_LT(ok.error.rel, 1e-5);
  // rk4 with h = 1e-3 is unstable for λ = 1e4 (h·λ = 10).
  const GradientRecord bad = Evaluate(
      DecayStudyProblem(1e4), MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3), 1e-3, kGradientAbsTol);
  EXPECT_NE(bad.status, "ok");
}

TEST(GradientStudy, SupportedOnlyNotesEachSkipOnce) {
  std::vector<std::string> notes;
  const MethodSpec unknown = MakeMethod("bptt", "no_such_integrator", 1e-6, 1e-6);
  const std::vector<MethodSpec> kept =
      SupportedOnly({MakeMethod("bptt", "dopri5", 1e-6, 1e-6), unknown, unknown}, &notes);
  EXPECT_EQ(kept.size(), 1u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rfind("skipped bptt/no_such_integrator tol=1e-6: ", 0), 0u);
  EXPECT_EQ(WithBackward(kept[0], "epi2").Label(), "bptt/dopri5 tol=1e-6 bwd=epi2");
}

}  // namespace
}  // namespace snode
