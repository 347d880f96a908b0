// bptt's run-time diagnosis (adjoint/bptt.hpp, "Diagnosis"): the growth of the reverse pass in
// GradientStats::amplification and error_estimate, and the flag. Both directions are tested:
// runs whose gradient is wrong by far more than rtol (measured against exact gradients) must be
// flagged, and ordinary runs whose gradient is right must not be.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/bptt.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/vector_field.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"
#include "problems/nonnormal_linear.hpp"

namespace snode {
namespace {

// The suite's bound measure: max_i |g_i − e_i| / max(|e_i|, 1e-3‖e‖∞).
double BoundError(const LossAndGradient& r, const Vector& exact) {
  Vector g(r.dtheta.size() + r.dz0.size());
  g << r.dtheta, r.dz0;
  const double floor = 1e-3 * exact.lpNorm<Eigen::Infinity>();
  double worst = 0.0;
  for (Index i = 0; i < g.size(); ++i) {
    worst = std::max(worst, std::abs(g(i) - exact(i)) / std::max(std::abs(exact(i)), floor));
  }
  return worst;
}

LossAndGradient RunBptt(const std::string& integrator, double rtol, double atol,
                        const OdeProblem& problem, const Loss& loss, double fixed_step = 0.0,
                        const std::string& step_controller = "i") {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.fixed_step = fixed_step;
  options.integrator_options.step_controller = step_controller;
  options.integrator_options.max_steps = 1000000;
  Bptt bptt(options);
  return bptt.Compute(problem, loss);
}

// Van der Pol in relaxation form, x' = y, y' = μ((1 − x²) y − x), θ = (μ).
class VanDerPolField final : public VectorField {
 public:
  std::string name() const override { return "van_der_pol"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 1; }
  void F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    out(0) = z(1);
    out(1) = theta(0) * ((1.0 - z(0) * z(0)) * z(1) - z(0));
  }
  void Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    const double mu = theta(0);
    out(0) = v(1);
    out(1) = mu * (-2.0 * z(0) * z(1) - 1.0) * v(0) + mu * (1.0 - z(0) * z(0)) * v(1);
  }
  void VjpState(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    const double mu = theta(0);
    out(0) = a(1) * mu * (-2.0 * z(0) * z(1) - 1.0);
    out(1) = a(0) + a(1) * mu * (1.0 - z(0) * z(0));
  }
  void VjpParams(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef a,
                 VectorRef grad) override {
    grad(0) += a(1) * ((1.0 - z(0) * z(0)) * z(1) - z(0));
  }
  std::unique_ptr<VectorField> Clone() const override { return std::make_unique<VanDerPolField>(); }
};

// ---------------------------------------------------------------- flagged when broken

// The 4×4 non-normal system (stiffness 1e5) under ERKStep's own step control ("arkode", whose
// steps sit at the stability limit): measured errors 1.3e-5 at rtol 1e-9, 4.7e2 at 3e-10 and
// 2.4e65 at 1e-10 while the loss stays right; every one of them is flagged.
TEST(BpttDiagnosis, NonNormalSystemAtTightTolerancesIsFlagged) {
  const problems::ProblemSetup setup = problems::NonNormalLinearProblem();
  for (const double rtol : {1e-9, 3e-10, 1e-10}) {
    const LossAndGradient r =
        RunBptt("dopri5", rtol, rtol * 1e-2, setup.ode, *setup.loss, 0.0, "arkode");
    const double error = BoundError(r, *setup.exact_gradient);
    EXPECT_GT(error, 1e3 * rtol) << "rtol " << rtol << ": the case is broken";
    EXPECT_TRUE(r.stats.flagged) << "rtol " << rtol << " error " << error << " amplification "
                                 << r.stats.amplification;
    EXPECT_GT(r.stats.error_estimate, rtol);
    EXPECT_NE(r.stats.diagnosis.find("bptt: reverse pass amplified round-off"), std::string::npos)
        << r.stats.diagnosis;
    // The loss is right: only the reverse pass is broken.
    const double exact_loss = problems::NonNormalClosedFormLoss(
        problems::NonNormalMatrix(setup.stiffness), setup.ode.output_times.back());
    EXPECT_NEAR(r.loss, exact_loss, 1e-6 * std::abs(exact_loss));
  }
}

// The same runs under the default step control "i": its stability cap keeps the steps at
// dopri5's stability interval once they reach it, so the frozen-step reverse pass grows little
// (measured amplification 202 at most, errors ≤ 1.1e-11 at all three tolerances) and is not
// flagged.
TEST(BpttDiagnosis, NonNormalSystemIsRightUnderTheStabilityCap) {
  const problems::ProblemSetup setup = problems::NonNormalLinearProblem();
  for (const double rtol : {1e-9, 3e-10, 1e-10}) {
    const LossAndGradient r = RunBptt("dopri5", rtol, rtol * 1e-2, setup.ode, *setup.loss);
    EXPECT_LT(BoundError(r, *setup.exact_gradient), 1e-9) << rtol;
    EXPECT_FALSE(r.stats.flagged) << rtol << ": " << r.stats.diagnosis;
    EXPECT_LT(r.stats.amplification, 1e3) << rtol;
    std::printf("rtol %.0e: error %.2g, amplification %.3g\n", rtol,
                BoundError(r, *setup.exact_gradient), r.stats.amplification);
  }
}

// The fixed-step rule (error_estimate > √u): the adaptive rtol 1e-10 step sequence of the 4×4
// replayed as a given sequence under fixed-step options is flagged; fixed steps of 1/40000 (rk4,
// stable: measured error 1.1e-11, amplification 32) are not. Coarser fixed steps (rk4 ≤ 35000,
// dopri5 ≤ 30000 steps) make the forward state non-finite, a NumericalError.
TEST(BpttDiagnosis, FixedStepRuleFlagsAnAmplifyingSequenceOnly) {
  const problems::ProblemSetup setup = problems::NonNormalLinearProblem();
  GradientOptions adaptive;
  adaptive.integrator = "dopri5";
  adaptive.integrator_options.step_controller = "arkode";  // steps at the stability limit
  adaptive.integrator_options.rtol = 1e-10;
  adaptive.integrator_options.atol = 1e-12;
  adaptive.integrator_options.max_steps = 1000000;
  const std::vector<double> steps = Bptt(adaptive).StepTimes(setup.ode);
  GradientOptions fixed = adaptive;
  fixed.integrator_options.fixed_step = 1e-5;  // selects the fixed-step rule
  Bptt replay(fixed);
  const LossAndGradient bad = replay.ComputeOnSteps(setup.ode, *setup.loss, steps);
  EXPECT_GT(BoundError(bad, *setup.exact_gradient), 1.0);
  EXPECT_TRUE(bad.stats.flagged);
  EXPECT_NE(bad.stats.diagnosis.find("fixed-step limit"), std::string::npos) << bad.stats.diagnosis;

  const LossAndGradient good = RunBptt("rk4", 1e-6, 1e-8, setup.ode, *setup.loss, 1.0 / 40000.0);
  EXPECT_LT(BoundError(good, *setup.exact_gradient), 1e-8);
  EXPECT_FALSE(good.stats.flagged) << good.stats.diagnosis;
  EXPECT_GT(good.stats.amplification, 1.0);
  EXPECT_LT(good.stats.error_estimate, Bptt::kFixedStepRoundoffLimit);
}

// ---------------------------------------------------------------- not flagged when fine

TEST(BpttDiagnosis, DecayAndTwoRateDecayAreNotFlagged) {
  for (const double lambda : {1.0, 1e3}) {
    const problems::ProblemSetup decay = problems::MakeTwoRateDecay(lambda);
    for (const double rtol : {1e-6, 1e-10}) {
      for (const std::string integrator : {"dopri5", "sdirk"}) {
        const LossAndGradient r = RunBptt(integrator, rtol, rtol * 1e-2, decay.ode, *decay.loss);
        EXPECT_FALSE(r.stats.flagged) << integrator << " " << rtol << ": " << r.stats.diagnosis;
        EXPECT_LE(r.stats.amplification, 10.0) << integrator << " " << rtol;
        EXPECT_LT(r.stats.error_estimate, 1e-12);
        EXPECT_LT(BoundError(r, *decay.exact_gradient), 100.0 * rtol) << integrator << " " << rtol;
      }
    }
    // Fixed steps (rk4 h = 1e-3, stable up to hλ ≈ 2.8): the fixed-step rule.
    const LossAndGradient fixed = RunBptt("rk4", 1e-6, 1e-8, decay.ode, *decay.loss, 1e-3);
    EXPECT_FALSE(fixed.stats.flagged) << fixed.stats.diagnosis;
    EXPECT_LT(fixed.stats.error_estimate, Bptt::kFixedStepRoundoffLimit);
  }
}

// A non-normal system of moderate stiffness at the same tight tolerance is right and unflagged:
// the flag follows the measured amplification, not the problem's name or shape.
TEST(BpttDiagnosis, ModerateNonNormalSystemIsNotFlagged) {
  const problems::ProblemSetup setup = problems::NonNormalLinearProblem(1e2);
  for (const double rtol : {1e-6, 1e-10}) {
    const LossAndGradient r = RunBptt("dopri5", rtol, rtol * 1e-2, setup.ode, *setup.loss);
    EXPECT_FALSE(r.stats.flagged) << rtol << ": " << r.stats.diagnosis;
    EXPECT_LT(BoundError(r, *setup.exact_gradient), 100.0 * rtol) << rtol;
  }
}

TEST(BpttDiagnosis, LotkaVolterraAndMlpFieldsAreNotFlagged) {
  const OdeProblem lv =
      problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), {0.8, 1.6, 2.4, 3.2, 4.0});
  const LinearFunctionalLoss lv_loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 5);
  for (const double rtol : {1e-6, 1e-10}) {
    const LossAndGradient r = RunBptt("dopri5", rtol, rtol, lv, lv_loss);
    EXPECT_FALSE(r.stats.flagged) << rtol << ": " << r.stats.diagnosis;
    EXPECT_GE(r.stats.amplification, 1.0);
  }
  MlpOptions mlp;
  mlp.widths = {2, 16, 16, 2};
  auto field = std::make_shared<MlpField>(mlp);
  OdeProblem problem;
  problem.field = field;
  problem.theta = field->InitialParams(7);
  problem.z0 = (Vector(2) << 0.5, -0.3).finished();
  problem.output_times = {0.5, 1.0, 1.5, 2.0};
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 4);
  for (const std::string integrator : {"dopri5", "sdirk"}) {
    const LossAndGradient r = RunBptt(integrator, 1e-6, 1e-8, problem, loss);
    EXPECT_FALSE(r.stats.flagged) << integrator << ": " << r.stats.diagnosis;
  }
  const LossAndGradient fixed = RunBptt("rk4", 1e-6, 1e-8, problem, loss, 1e-2);
  EXPECT_FALSE(fixed.stats.flagged) << fixed.stats.diagnosis;
}

// Stiff van der Pol (μ = 1e3, relaxation form, one relaxation jump before T = 1) at rtol down to
// 1e-12: the reverse pass does not amplify (amplification 1) and the gradient converges to the
// rtol 1e-13 one (measured bound errors 7e-4, 1.9e-8, 2.9e-9 at rtol 1e-6, 1e-10, 1e-12: the
// truncation error of the forward map at tolerance rtol, up to ~1e3·rtol, not round-off), so it
// is not flagged.
TEST(BpttDiagnosis, StiffVanDerPolIsRightAndNotFlagged) {
  OdeProblem problem;
  problem.field = std::make_shared<VanDerPolField>();
  problem.theta = Vector::Constant(1, 1e3);
  problem.z0 = (Vector(2) << 2.0, -0.66).finished();
  problem.output_times = {1.0};
  const LinearFunctionalLoss loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(2), 1);
  const LossAndGradient reference = RunBptt("dopri5", 1e-13, 1e-13, problem, loss);
  Vector exact(3);
  exact << reference.dtheta, reference.dz0;
  for (const double rtol : {1e-6, 1e-10, 1e-12}) {
    const LossAndGradient r = RunBptt("dopri5", rtol, rtol, problem, loss);
    EXPECT_FALSE(r.stats.flagged) << rtol << ": " << r.stats.diagnosis;
    EXPECT_LT(r.stats.amplification, 10.0) << rtol;
    EXPECT_LT(BoundError(r, exact), std::max(1e4 * rtol, 1e-8)) << rtol;
  }
}

}  // namespace
}  // namespace snode
