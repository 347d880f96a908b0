// Tests of studies/gradient_study.hpp: error measures and classification, guarded gradient runs,
// the backsolve adjoint's reconstruction.
#include "studies/gradient_study.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "adjoint/loss.hpp"
#include "models/analytic_fields.hpp"
#include "problems/decay.hpp"

namespace snode {
namespace {

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
  OdeProblem problem = problems::DecayOde(2.0);
  const LinearFunctionalLoss loss = problems::DecayLoss();
  Vector exact(2);
  exact << -std::exp(-2.0), std::exp(-2.0);
  const GradientRun ok =
      RunGradient(MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-10, 1e-12), problem, loss);
  ASSERT_FALSE(ok.threw) << ok.message;
  EXPECT_EQ(Classify(ok, exact, 1e-6, 0.0, false), "ok");
  // The method's own flag outranks an accurate comparison: never "ok".
  GradientRun flagged = ok;
  flagged.stats.Flag("test diagnosis");
  EXPECT_EQ(Classify(flagged, exact, 1e-6, 0.0, false), "flagged");
  EXPECT_EQ(Classify(flagged, exact + Vector::Ones(2), 1e-6, 0.0, false), "flagged");
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
