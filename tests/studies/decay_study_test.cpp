// studies/decay_study: verdicts, the findings on hand-made rows, the method selection, one
// evaluated row, and the bench's sweep note.
#include "studies/decay_study.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace snode {
namespace {

const MethodSpec kBacksolve = MakeMethod("backsolve_adjoint", "dopri5", 1e-6, 1e-8);
const MethodSpec kBdf = MakeMethod("cvodes_adjoint", "cvodes_bdf", 1e-8, 1e-60);

DecayRow Row(const MethodSpec& spec, double lambda, const std::string& verdict, double abs_err,
             double y0_rec) {
  DecayRow row;
  row.lambda = lambda;
  row.run.spec = spec;
  row.verdict = verdict;
  row.error.abs = abs_err;
  row.y0_rec = y0_rec;
  return row;
}

TEST(DecayStudy, VerdictSplitsInaccurateByAbsoluteError) {
  GradientRun run;
  run.loss = 1.0;
  run.gradient = Vector::Ones(2);
  const Vector exact = Vector::Constant(2, 2.0);  // rel err 0.5, abs err 1
  const GradientError error = CompareGradient(run.gradient, exact);
  EXPECT_EQ(Verdict(run, error, exact, 1e-3, 1e-6), "inaccurate");
  EXPECT_EQ(Verdict(run, error, exact, 1e-3, 2.0), "reasonable");
  EXPECT_EQ(Verdict(run, error, exact, 0.6, 1e-6), "ok");
  run.threw = true;
  EXPECT_EQ(Verdict(run, error, exact, 1e-3, 2.0), "failed");
}

TEST(DecayStudy, FindingsStateWhetherTheSeedsClaimHolds) {
  const std::vector<DecayRow> rows = {
      Row(kBacksolve, 100, "reasonable", 6e-10, 1.6e34), Row(kBdf, 100, "ok", 1e-50, NAN),
      Row(kBacksolve, 1e4, "non-finite", NAN, NAN), Row(kBdf, 1e4, "ok", 1e-70, NAN)};
  const std::vector<std::string> findings = DecayFindings(rows, {kBacksolve, kBdf}, {100, 1e4});
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0],
            "backsolve_adjoint/dopri5 tol=1e-6/1e-8: λ = 100 works (reasonable, max abs err "
            "6.0e-10, y0 rec 1.60e+34), λ = 1e4 fails (non-finite, y0 rec non-finite): the "
            "seed's claim holds.");
  EXPECT_EQ(findings[1], "Correct at λ = 1e4: cvodes_adjoint/cvodes_bdf tol=1e-8/1e-60.");
  // One λ: no claim to test.
  EXPECT_EQ(DecayFindings({rows[1]}, {kBacksolve, kBdf}, {100}).size(), 1u);
}

TEST(DecayStudy, SelectSeedMethods) {
  MethodOverrides overrides;
  EXPECT_EQ(SelectSeedMethods(overrides).size(), SeedMethods().size());
  overrides.gradient = "cvodes_adjoint";
  overrides.gradient_set = true;
  EXPECT_EQ(SelectSeedMethods(overrides).size(), 2u);  // with and without the epi2 backward
  overrides.rtol_set = true;
  overrides.given.rtol = 1e-9;
  overrides.integrator = "cvodes_bdf";
  const std::vector<MethodSpec> both = SelectSeedMethods(overrides);
  ASSERT_EQ(both.size(), 2u);
  for (const MethodSpec& spec : both) {
    EXPECT_EQ(spec.options.integrator_options.rtol, 1e-9);
    EXPECT_EQ(spec.settings.rfind("tol=1e-9/1e-60", 0), 0u) << spec.settings;
  }
}

TEST(DecayStudy, EveryGivenFlagReachesTheSelectedMethods) {
  // Tolerances alone (no filter) reach every adaptive seed method; fixed-step ones keep h.
  MethodOverrides overrides;
  overrides.rtol_set = true;
  overrides.given.rtol = 0.1;
  overrides.max_steps_set = true;
  overrides.given.max_steps = 10;
  for (const MethodSpec& spec : SelectSeedMethods(overrides)) {
    const IntegratorOptions& io = spec.options.integrator_options;
    EXPECT_EQ(io.max_steps, 10) << spec.Label();
    if (io.fixed_step == 0.0) {
      EXPECT_EQ(io.rtol, 0.1) << spec.Label();
    } else {
      EXPECT_EQ(spec.settings.rfind("h=", 0), 0u) << spec.Label();
    }
  }
  // The backward integrator replaces the one a spec had, and is added where it had none.
  overrides = MethodOverrides();
  overrides.gradient = "cvodes_adjoint";
  overrides.gradient_set = true;
  overrides.backward_integrator_set = true;
  overrides.backward_integrator = "dopri5";
  const std::vector<MethodSpec> selected = SelectSeedMethods(overrides);
  ASSERT_EQ(selected.size(), 1u);  // the two cvodes_adjoint rows became one
  for (const MethodSpec& spec : selected) {
    EXPECT_EQ(spec.options.backward_integrator, "dopri5");
    EXPECT_NE(spec.settings.find("bwd=dopri5"), std::string::npos) << spec.settings;
    EXPECT_EQ(spec.settings.find("epi2"), std::string::npos) << spec.settings;
  }
}

TEST(DecayStudy, EvaluateDecayWithBacksolveReconstructsY0) {
  const DecayRow row =
      EvaluateDecay(MakeMethod("backsolve_adjoint", "dopri5", 1e-8, 1e-10), 1.0, 1e-3, 1e-6);
  EXPECT_EQ(row.verdict, "ok");
  EXPECT_NEAR(row.forward, std::exp(-1.0), 1e-7);
  EXPECT_TRUE(row.has_reconstruction);
  EXPECT_NEAR(row.y0_rec, 1.0, 1e-6);
}

TEST(DecayStudy, SweepNoteListsEveryLambda) {
  DecayBench bench;
  bench.problems = {DecayStudyProblem(1.0), DecayStudyProblem(10.0), TwoRateStudyProblem(1.0)};
  const MethodSpec spec = MakeMethod("bptt", "rk4", 1e-6, 1e-8, 1e-3);
  for (std::size_t p = 0; p < 3; ++p) bench.cells.push_back({p, spec, {}, {}});
  bench.cells[0].last.status = "ok";
  bench.cells[1].last.status = "failed";
  bench.cells[2].last.status = "ok";
  bool finished = true;
  EXPECT_EQ(SweepNote(bench, "W1", spec.Label(), &finished), "λ=1 ok, λ=10 failed");
  EXPECT_FALSE(finished);
  EXPECT_EQ(SweepNote(bench, "W1b", spec.Label(), &finished), "λ=1 ok");
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace snode
