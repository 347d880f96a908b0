// CheckGradient (adjoint/gradient_checker.hpp) and the registered "finite_difference" method
// (adjoint/finite_difference.hpp): passes on correct fields, catches a user field whose VJPs are
// wrong, checks a subset for large parameter vectors, and flags differences inside the noise of
// an adaptive map.
#include "adjoint/gradient_checker.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"

namespace snode {
namespace {

GradientOptions Options(const std::string& integrator, double rtol, double atol,
                        double fixed_step = 0.0) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.fixed_step = fixed_step;
  return options;
}

// A user's field: Lotka–Volterra written out by hand, with a deliberate mistake in one VJP.
enum class Mistake { kNone, kVjpParams, kVjpState };

class UserLotkaVolterra final : public VectorField {
 public:
  explicit UserLotkaVolterra(Mistake mistake) : mistake_(mistake) {}
  std::string name() const override { return "user lotka-volterra"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 4; }
  void F(double, ConstVectorRef z, ConstVectorRef p, VectorRef out) override {
    out[0] = p[0] * z[0] - p[1] * z[0] * z[1];
    out[1] = p[2] * z[0] * z[1] - p[3] * z[1];
  }
  void Jvp(double, ConstVectorRef z, ConstVectorRef p, ConstVectorRef v, VectorRef out) override {
    out = Jacobian(z, p) * v;
  }
  void VjpState(double, ConstVectorRef z, ConstVectorRef p, ConstVectorRef a,
                VectorRef out) override {
    Eigen::Matrix2d jac = Jacobian(z, p);
    if (mistake_ == Mistake::kVjpState) jac(0, 1) = -jac(0, 1);  // sign slip in ∂f0/∂y
    out = jac.transpose() * a;
  }
  void VjpParams(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef a,
                 VectorRef grad) override {
    const double xy = z[0] * z[1];
    grad[0] += a[0] * z[0];
    grad[1] -= a[0] * xy;
    // The mistake: ∂f1/∂δ taken as x instead of x·y.
    grad[2] += a[1] * (mistake_ == Mistake::kVjpParams ? z[0] : xy);
    grad[3] -= a[1] * z[1];
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<UserLotkaVolterra>(*this);
  }

 private:
  static Eigen::Matrix2d Jacobian(ConstVectorRef z, ConstVectorRef p) {
    Eigen::Matrix2d jac;
    jac << p[0] - p[1] * z[1], -p[1] * z[0], p[2] * z[1], p[2] * z[0] - p[3];
    return jac;
  }
  Mistake mistake_;
};

struct LvFit {
  OdeProblem problem;
  std::unique_ptr<MseLoss> loss;
};

LvFit LvProblem(std::shared_ptr<VectorField> field) {
  const std::vector<double> times = problems::EquallySpacedTimes(2.0, 11);
  const Vector start = (Vector(4) << 1.0, 0.5, 0.5, 2.0).finished();
  problems::FitWindow window = problems::MakeFitWindow(
      std::move(field), times, problems::LotkaVolterraTruth(times), 2.0, start);
  return {window.problem, std::move(window.loss)};
}

void Print(const GradientCheckResult& r) {
  std::printf("%s vs %s: max rel err %.2e (%s), tol %.1e, verdict %s\n", r.method.c_str(),
              r.reference.c_str(), r.max_relative_error, r.components[r.worst].name.c_str(),
              r.tolerance, VerdictName(r.verdict).c_str());
}

TEST(GradientChecker, PassesOnCorrectFields) {
  const LvFit lv = LvProblem(std::make_shared<LotkaVolterraField>());
  for (const std::string method : {"bptt", "backsolve_adjoint", "cvodes_adjoint"}) {
    const std::string integrator = method == "cvodes_adjoint" ? "cvodes_bdf" : "dopri5";
    SCOPED_TRACE(method + "/" + integrator);
    const GradientCheckResult r =
        CheckGradient(lv.problem, *lv.loss, method, Options(integrator, 1e-6, 1e-8));
    Print(r);
    EXPECT_EQ(r.verdict, GradientVerdict::kPass);
    EXPECT_EQ(r.components.size(), 6u);
    EXPECT_FALSE(r.subset);
    EXPECT_LE(r.max_relative_error, 1e-4);
  }
  for (const double lambda : {1.0, 10.0}) {
    SCOPED_TRACE("decay lambda = " + std::to_string(lambda));
    const GradientCheckResult r = CheckGradient(problems::DecayOde(lambda), problems::DecayLoss(),
                                                "bptt", Options("dopri5", 1e-6, 1e-8));
    Print(r);
    EXPECT_EQ(r.verdict, GradientVerdict::kPass);
  }
  // λ = 100: L = e^{-100} ≈ 4e-44 lies far below atol; no relative comparison means anything
  // there, and the checker says so instead of passing or failing.
  const GradientCheckResult tiny = CheckGradient(problems::DecayOde(100.0), problems::DecayLoss(),
                                                 "bptt", Options("dopri5", 1e-6, 1e-8));
  Print(tiny);
  EXPECT_EQ(tiny.verdict, GradientVerdict::kInconclusive);
  EXPECT_TRUE(tiny.reference_flagged);
}

TEST(GradientChecker, FixedStepComparesTheDiscreteMap) {
  const LvFit lv = LvProblem(std::make_shared<LotkaVolterraField>());
  const GradientCheckResult r =
      CheckGradient(lv.problem, *lv.loss, "bptt", Options("rk4", 1e-6, 1e-8, 0.05));
  Print(r);
  EXPECT_EQ(r.verdict, GradientVerdict::kPass);
  EXPECT_LE(r.max_relative_error, 1e-6);  // bptt is exact for its own discrete map
}

TEST(GradientChecker, CatchesAWrongVjpInAUserField) {
  for (const Mistake mistake : {Mistake::kVjpParams, Mistake::kVjpState}) {
    const LvFit lv = LvProblem(std::make_shared<UserLotkaVolterra>(mistake));
    for (const std::string method : {"bptt", "backsolve_adjoint"}) {
      SCOPED_TRACE(method + (mistake == Mistake::kVjpParams ? " VjpParams" : " VjpState"));
      const GradientCheckResult r =
          CheckGradient(lv.problem, *lv.loss, method, Options("dopri5", 1e-6, 1e-8));
      Print(r);
      EXPECT_EQ(r.verdict, GradientVerdict::kFail);
      EXPECT_GT(r.max_relative_error, 1e-2);
      if (mistake == Mistake::kVjpParams) {
        EXPECT_EQ(r.components[r.worst].name, "dtheta[2]");
      }
    }
  }
  // The same field without the mistake passes.
  const LvFit good = LvProblem(std::make_shared<UserLotkaVolterra>(Mistake::kNone));
  EXPECT_EQ(CheckGradient(good.problem, *good.loss, "bptt", Options("dopri5", 1e-6, 1e-8)).verdict,
            GradientVerdict::kPass);
}

TEST(GradientChecker, AnotherMethodAsReference) {
  const LvFit lv = LvProblem(std::make_shared<UserLotkaVolterra>(Mistake::kVjpParams));
  GradientCheckOptions check;
  check.reference = "cvodes_adjoint";  // the user field has no dense Jacobian: CVODES uses JVPs
  GradientOptions options = Options("cvodes_bdf", 1e-6, 1e-8);
  const GradientCheckResult r =
      CheckGradient(lv.problem, *lv.loss, "backsolve_adjoint", options, check);
  Print(r);
  // Both use the same wrong VjpParams: a second method is not independent of the field.
  EXPECT_EQ(r.verdict, GradientVerdict::kPass);
  const GradientCheckResult fd = CheckGradient(lv.problem, *lv.loss, "backsolve_adjoint", options);
  EXPECT_EQ(fd.verdict, GradientVerdict::kFail);
}

TEST(GradientChecker, LargeParameterVectorsCheckASubsetAndDirections) {
  MlpOptions mlp;
  mlp.widths = {2, 16, 16, 2};
  auto field = std::make_shared<MlpField>(mlp);
  const std::vector<double> times = {0.25, 0.5, 0.75, 1.0};
  std::vector<Vector> targets(times.size(), (Vector(2) << 0.3, -0.2).finished());
  OdeProblem problem;
  problem.field = field;
  problem.theta = field->InitialParams(3);
  problem.z0 = (Vector(2) << 0.5, -0.5).finished();
  problem.output_times = times;
  const MseLoss loss(targets);
  GradientCheckOptions check;
  check.max_components = 20;
  check.directions = 2;
  const GradientCheckResult r =
      CheckGradient(problem, loss, "bptt", Options("dopri5", 1e-6, 1e-8), check);
  Print(r);
  EXPECT_TRUE(r.subset);
  EXPECT_EQ(r.total_components, problem.theta.size() + 2);
  ASSERT_EQ(r.components.size(), 22u);
  EXPECT_EQ(r.components[20].name, "direction 0");
  EXPECT_EQ(r.verdict, GradientVerdict::kPass);
  // Deterministic: the same seed checks the same components.
  const GradientCheckResult again =
      CheckGradient(problem, loss, "bptt", Options("dopri5", 1e-6, 1e-8), check);
  for (std::size_t k = 0; k < r.components.size(); ++k) {
    EXPECT_EQ(r.components[k].name, again.components[k].name);
  }
}

TEST(GradientChecker, BadOptionsAreConfigErrors) {
  const LvFit lv = LvProblem(std::make_shared<LotkaVolterraField>());
  GradientCheckOptions check;
  check.reference = "no_such_method";
  EXPECT_THROW(CheckGradient(lv.problem, *lv.loss, "bptt", Options("dopri5", 1e-6, 1e-8), check),
               ConfigError);
  check = {};
  check.max_components = 0;
  EXPECT_THROW(CheckGradient(lv.problem, *lv.loss, "bptt", Options("dopri5", 1e-6, 1e-8), check),
               ConfigError);
  EXPECT_THROW(CheckGradient(lv.problem, *lv.loss, "no_such", Options("dopri5", 1e-6, 1e-8)),
               ConfigError);
}

// ---------------------------------------------------------------- finite_difference

TEST(FiniteDifferenceMethod, IsRegisteredAndReadsItsStep) {
  EXPECT_TRUE(GradientRegistry().Contains("finite_difference"));
  GradientOptions options = Options("dopri5", 1e-10, 1e-12);
  for (const std::string bad : {"0", "-1", "abc", "1e-3x", "2"}) {
    options.method_settings = Settings();
    options.method_settings.Set("step", bad);
    EXPECT_THROW(GradientRegistry().Create("finite_difference", options), ConfigError) << bad;
  }
  options.method_settings = Settings();
  options.method_settings.Set("stepp", "auto");
  EXPECT_THROW(GradientRegistry().Create("finite_difference", options), ConfigError);
  options.method_settings = Settings();
  options.method_settings.Set("step", "1e-6");
  const auto fixed = GradientRegistry().Create("finite_difference", options);
  const LossAndGradient a = fixed->Compute(problems::DecayOde(2.0), problems::DecayLoss());
  const LossAndGradient b =
      CentralDifferenceGradient(problems::DecayOde(2.0), problems::DecayLoss(), options);
  EXPECT_EQ(a.dtheta[0], b.dtheta[0]);  // CentralDifferenceGradient is step = 1e-6
}

TEST(FiniteDifferenceMethod, AutoStepMatchesTheClosedForm) {
  // y' = −λy, L = y(1): dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}; λ = 20 puts θ far from 1 in scale
  // (the relative step would be 20 times too large without the ladder).
  for (const double lambda : {1.0, 20.0}) {
    SCOPED_TRACE("lambda = " + std::to_string(lambda));
    const LossAndGradient fd = GradientRegistry()
                                   .Create("finite_difference", Options("dopri5", 1e-10, 1e-16))
                                   ->Compute(problems::DecayOde(lambda), problems::DecayLoss());
    const double e = std::exp(-lambda);
    std::printf("lambda %g: dL/dlambda rel err %.2e, dL/dy0 rel err %.2e, estimate %.2e\n", lambda,
                std::abs(fd.dtheta[0] + e) / e, std::abs(fd.dz0[0] - e) / e,
                fd.stats.error_estimate);
    EXPECT_NEAR(fd.dtheta[0], -e, 1e-5 * e);
    EXPECT_NEAR(fd.dz0[0], e, 1e-5 * e);
    EXPECT_TRUE(std::isfinite(fd.stats.error_estimate));
  }
}

TEST(FiniteDifferenceMethod, FlagsAStepInsideTheNoiseOfAnAdaptiveMap) {
  // Robertson-like stiffness through cvodes_bdf at the default tolerances with the historical
  // step 1e-6: the quotient is dominated by the map's noise. It is either within the bound or
  // flagged, never silently wrong; the tiny step must be flagged.
  const OdeProblem problem = problems::DecayOde(1e3);
  GradientOptions options = Options("cvodes_bdf", 1e-6, 1e-8);
  options.method_settings.Set("step", "1e-6");
  const LossAndGradient fd = GradientRegistry()
                                 .Create("finite_difference", options)
                                 ->Compute(problem, problems::DecayLoss());
  std::printf("flagged %d: %s\n", fd.stats.flagged, fd.stats.diagnosis.c_str());
  EXPECT_TRUE(fd.stats.flagged);
  // A fixed-step map is never flagged for noise.
  const LossAndGradient fixed = CentralDifferenceGradient(
      problems::DecayOde(1.0), problems::DecayLoss(), Options("rk4", 1e-6, 1e-8, 0.01));
  EXPECT_FALSE(fixed.stats.flagged);
}

// Through the noisy maps of adaptive implicit and multistep integrators at the default
// tolerances, finite_difference is within the documented bound (100·rtol in the error
// convention) or flagged, with the auto step and with the historical step 1e-6: never silently
// wrong. The reference is the tight cvodes_adjoint gradient (exact for the decays).
TEST(FiniteDifferenceMethod, WithinBoundOrFlaggedThroughNoisyMaps) {
  struct Case {
    std::string name;
    OdeProblem problem;
    std::shared_ptr<const Loss> loss;
  };
  const LvFit lv = LvProblem(std::make_shared<LotkaVolterraField>());
  const std::shared_ptr<const Loss> lv_loss(lv.loss.get(), [](const Loss*) {});
  std::vector<Case> cases = {{"lotka_volterra", lv.problem, lv_loss}};
  for (const problems::ProblemSetup& setup :
       {problems::MakeDecay(10.0), problems::MakeTwoRateDecay(1e3)}) {
    cases.push_back({setup.name, setup.ode, setup.loss});
  }
  for (const Case& c : cases) {
    GradientOptions tight = Options("cvodes_bdf", 1e-11, 1e-13);
    const LossAndGradient exact =
        GradientRegistry().Create("cvodes_adjoint", tight)->Compute(c.problem, *c.loss);
    Vector e(exact.dtheta.size() + exact.dz0.size());
    e << exact.dtheta, exact.dz0;
    for (const std::string integrator : {"cvodes_bdf", "sdirk", "dopri5"}) {
      for (const std::string step : {"auto", "1e-6"}) {
        GradientOptions options = Options(integrator, 1e-6, 1e-8);
        options.method_settings.Set("step", step);
        const LossAndGradient fd =
            GradientRegistry().Create("finite_difference", options)->Compute(c.problem, *c.loss);
        Vector g(fd.dtheta.size() + fd.dz0.size());
        g << fd.dtheta, fd.dz0;
        const double floor = 1e-3 * e.cwiseAbs().maxCoeff();
        const double error =
            ((g - e).cwiseAbs().array() / e.cwiseAbs().cwiseMax(floor).array()).maxCoeff();
        std::printf("%-16s %-10s step %-4s: error %.2e, flagged %d\n", c.name.c_str(),
                    integrator.c_str(), step.c_str(), error, fd.stats.flagged);
        EXPECT_TRUE(error <= 100 * 1e-6 || fd.stats.flagged)
            << c.name << " " << integrator << " step " << step << ": error " << error;
      }
    }
  }
}

}  // namespace
}  // namespace snode
