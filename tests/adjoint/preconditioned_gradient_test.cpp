// Tests of the preconditioned Krylov solves inside the gradient methods: cvodes_adjoint (CVODES
// forward, kForward; CVODES backward, kTransposed with γ = −γB), bptt's implicit stages (Newton
// corrections and transposed stage solves, both with +γ = h a_ii) and backsolve_adjoint's
// augmented system (block-diagonal: z block with −γ, a block with +γ). Gradients with and without
// the field's exact preconditioner agree and match central differences; with it the Krylov
// iterations per Newton iteration stay near one in every pass, and a preconditioner given the
// wrong sign of γ (the field's gamma_sign = −1) is far from that, so a sign error in any path
// fails these tests. The dense Newton paths refuse large states.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "adjoint/backsolve_adjoint.hpp"
#include "adjoint/bptt.hpp"
#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/finite_difference.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "testing/advection_diffusion_field.hpp"

namespace snode {
namespace {

using testfields::AdvectionDiffusionField;
using testfields::LinearDecayField;

// n = 40, D = 1: |λ|max ≈ 4D/dx² = 6400 on t ∈ [0, 1].
AdvectionDiffusionField::Config Config(double gamma_sign = 1.0) {
  AdvectionDiffusionField::Config config;
  config.n = 40;
  config.diffusion = 1.0;
  config.velocity = 1.0;
  config.gamma_sign = gamma_sign;
  return config;
}

OdeProblem Problem(const AdvectionDiffusionField::Config& config) {
  return testfields::AdvectionDiffusionProblem(config);
}

LinearFunctionalLoss Loss(Index n) {
  Vector weights(n);
  for (Index i = 0; i < n; ++i) weights[i] = std::cos(0.3 * static_cast<double>(i));
  return LinearFunctionalLoss::SameAtEveryTime(weights, 4);
}

GradientOptions Options(const std::string& integrator, const std::string& preconditioner,
                        double rtol) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = rtol * 1e-2;
  options.integrator_options.linear_solver = "gmres";
  options.integrator_options.preconditioner = preconditioner;
  options.integrator_options.max_steps = 100000;
  return options;
}

double RelativeDifference(const Vector& a, const Vector& b) { return (a - b).norm() / b.norm(); }

double Ratio(long linear, long nonlinear) {
  return static_cast<double>(linear) / static_cast<double>(std::max(1L, nonlinear));
}

// The reference: central differences of tight dense BDF solves.
Vector Reference(const OdeProblem& problem) {
  GradientOptions options = Options("cvodes_bdf", "none", 1e-12);
  options.integrator_options.linear_solver = "dense";
  return CentralDifferenceGradient(problem, Loss(problem.z0.size()), options).Joined();
}

void PrintRatios(const char* what, const GradientStats& stats) {
  std::printf("%s: Krylov per Newton forward %.3f, backward %.3f\n", what,
              Ratio(stats.forward_linear_iters, stats.forward_nonlinear_iters),
              Ratio(stats.backward_linear_iters, stats.backward_nonlinear_iters));
}

TEST(PreconditionedGradient, CvodesAdjointAgreesAndMatchesDifferences) {
  const OdeProblem problem = Problem(Config());
  const auto loss = Loss(problem.z0.size());
  const Vector reference = Reference(problem);
  const LossAndGradient plain =
      CvodesAdjoint(Options("cvodes_bdf", "none", 1e-10)).Compute(problem, loss);
  const LossAndGradient field =
      CvodesAdjoint(Options("cvodes_bdf", "field", 1e-10)).Compute(problem, loss);
  EXPECT_LT(RelativeDifference(field.Joined(), plain.Joined()), 1e-6);
  // A continuous adjoint at rtol 1e-10: within a few 1e-5 of the differences of the exact map.
  EXPECT_LT(RelativeDifference(field.Joined(), reference), 5e-5);
  EXPECT_LT(RelativeDifference(plain.Joined(), reference), 5e-5);
  EXPECT_GT(field.stats.backward_preconditioner_setups, 0);
  EXPECT_GT(field.stats.forward_preconditioner_solves, 0);
  EXPECT_EQ(plain.stats.backward_preconditioner_setups, 0);
}

// Iteration counts at rtol 1e-6, where the steps are long (γ|λ| ≫ 1).
TEST(PreconditionedGradient, CvodesAdjointKrylovIterationsAndGammaSigns) {
  const OdeProblem problem = Problem(Config());
  const auto loss = Loss(problem.z0.size());
  for (const char* krylov : {"gmres", "fgmres"}) {
    GradientOptions plain_options = Options("cvodes_bdf", "none", 1e-6);
    GradientOptions field_options = Options("cvodes_bdf", "field", 1e-6);
    plain_options.integrator_options.linear_solver = krylov;
    field_options.integrator_options.linear_solver = krylov;
    const GradientStats plain = CvodesAdjoint(plain_options).Compute(problem, loss).stats;
    const GradientStats field = CvodesAdjoint(field_options).Compute(problem, loss).stats;
    PrintRatios("cvodes_adjoint none", plain);
    PrintRatios("cvodes_adjoint field", field);
    const double forward = Ratio(field.forward_linear_iters, field.forward_nonlinear_iters);
    const double backward = Ratio(field.backward_linear_iters, field.backward_nonlinear_iters);
    EXPECT_LT(forward, 1.6) << krylov;
    EXPECT_LT(backward, 1.6) << krylov;  // catches a wrong sign of γB (see below)
    // Unpreconditioned, CVODES keeps γ|λ| moderate by shorter steps: fewer iterations than the
    // wrong sign below, still clearly more than with the preconditioner.
    EXPECT_GT(Ratio(plain.backward_linear_iters, plain.backward_nonlinear_iters), 1.3 * backward);
    EXPECT_GT(Ratio(plain.forward_linear_iters, plain.forward_nonlinear_iters), 1.3 * forward);
    EXPECT_LT(field.forward_steps, plain.forward_steps) << krylov;
  }
  // The field's preconditioner with the opposite sign of γ (what −γB ↔ +γB would do).
  const OdeProblem wrong_problem = Problem(Config(-1.0));
  const GradientStats wrong =
      CvodesAdjoint(Options("cvodes_bdf", "field", 1e-6)).Compute(wrong_problem, loss).stats;
  PrintRatios("cvodes_adjoint wrong sign", wrong);
  EXPECT_GT(Ratio(wrong.backward_linear_iters, wrong.backward_nonlinear_iters), 3.0);
}

// The interpolating adjoint (backward sdirk on the reversed state adjoint field): the field's
// transposed side with +γ at t = −s.
TEST(PreconditionedGradient, CvodesAdjointInterpolatingBackward) {
  const OdeProblem problem = Problem(Config());
  const auto loss = Loss(problem.z0.size());
  auto options_for = [](const std::string& preconditioner, double rtol) {
    GradientOptions options = Options("cvodes_bdf", preconditioner, rtol);
    options.backward_integrator = "sdirk";
    return options;
  };
  const LossAndGradient plain = CvodesAdjoint(options_for("none", 1e-10)).Compute(problem, loss);
  const LossAndGradient field = CvodesAdjoint(options_for("field", 1e-10)).Compute(problem, loss);
  EXPECT_LT(RelativeDifference(field.Joined(), plain.Joined()), 1e-6);
  EXPECT_LT(RelativeDifference(field.Joined(), Reference(problem)), 5e-5);
  const GradientStats loose =
      CvodesAdjoint(options_for("field", 1e-6)).Compute(problem, loss).stats;
  const GradientStats loose_plain =
      CvodesAdjoint(options_for("none", 1e-6)).Compute(problem, loss).stats;
  const GradientStats wrong =
      CvodesAdjoint(options_for("field", 1e-6)).Compute(Problem(Config(-1.0)), loss).stats;
  PrintRatios("interpolating adjoint none", loose_plain);
  PrintRatios("interpolating adjoint field", loose);
  PrintRatios("interpolating adjoint wrong sign", wrong);
  const double with = Ratio(loose.backward_linear_iters, loose.backward_nonlinear_iters);
  EXPECT_GT(loose.backward_preconditioner_setups, 0);
  EXPECT_LT(with, 2.2);
  EXPECT_GT(Ratio(loose_plain.backward_linear_iters, loose_plain.backward_nonlinear_iters),
            2.0 * with);
  EXPECT_GT(Ratio(wrong.backward_linear_iters, wrong.backward_nonlinear_iters), 2.0 * with);
}

TEST(PreconditionedGradient, CvodesAdjointBandAndBadOptions) {
  AdvectionDiffusionField::Config banded = Config();
  banded.periodic = false;
  const OdeProblem problem = Problem(banded);
  const auto loss = Loss(problem.z0.size());
  const LossAndGradient band =
      CvodesAdjoint(Options("cvodes_bdf", "band", 1e-10)).Compute(problem, loss);
  const LossAndGradient plain =
      CvodesAdjoint(Options("cvodes_bdf", "none", 1e-10)).Compute(problem, loss);
  EXPECT_LT(RelativeDifference(band.Joined(), plain.Joined()), 1e-6);
  EXPECT_GT(band.stats.backward_preconditioner_setups, 0);
  EXPECT_GT(band.stats.forward_preconditioner_setups, 0);
  // Periodic: no declared bandwidth.
  EXPECT_THROW(CvodesAdjoint(Options("cvodes_bdf", "band", 1e-6)).Compute(Problem(Config()), loss),
               ConfigError);
  AdvectionDiffusionField::Config without = Config();
  without.offers_preconditioner = false;
  EXPECT_THROW(CvodesAdjoint(Options("cvodes_bdf", "field", 1e-6)).Compute(Problem(without), loss),
               ConfigError);
}

// bptt on sdirk with fixed steps: the discrete gradient, preconditioned or not.
GradientOptions BpttOptions(const std::string& preconditioner) {
  GradientOptions options = Options("sdirk", preconditioner, 1e-8);
  options.integrator_options.fixed_step = 0.01;
  return options;
}

TEST(PreconditionedGradient, BpttAgreesAndNeedsOneKrylovIterationPerSolve) {
  const OdeProblem problem = Problem(Config());
  const auto loss = Loss(problem.z0.size());
  const LossAndGradient plain = Bptt(BpttOptions("none")).Compute(problem, loss);
  const LossAndGradient field = Bptt(BpttOptions("field")).Compute(problem, loss);
  PrintRatios("bptt none", plain.stats);
  PrintRatios("bptt field", field.stats);
  EXPECT_LT(RelativeDifference(field.Joined(), plain.Joined()), 1e-9);
  // The fixed-step map is within the step's error (h = 0.01, order 4) of the exact gradient.
  EXPECT_LT(RelativeDifference(field.Joined(), Reference(problem)), 1e-4);
  const GradientStats& s = field.stats;
  EXPECT_EQ(s.forward_preconditioner_setups, s.forward_nonlinear_iters);
  EXPECT_EQ(s.backward_preconditioner_setups, s.backward_nonlinear_iters);
  EXPECT_LT(Ratio(s.forward_linear_iters, s.forward_nonlinear_iters), 1.2);
  EXPECT_LT(Ratio(s.backward_linear_iters, s.backward_nonlinear_iters), 1.2);
  const GradientStats& p = plain.stats;
  EXPECT_GT(Ratio(p.forward_linear_iters, p.forward_nonlinear_iters), 4.0);
  EXPECT_GT(Ratio(p.backward_linear_iters, p.backward_nonlinear_iters), 4.0);

  const OdeProblem wrong_problem = Problem(Config(-1.0));
  const GradientStats wrong = Bptt(BpttOptions("field")).Compute(wrong_problem, loss).stats;
  PrintRatios("bptt wrong sign", wrong);
  EXPECT_GT(Ratio(wrong.forward_linear_iters, wrong.forward_nonlinear_iters), 3.0);
  EXPECT_GT(Ratio(wrong.backward_linear_iters, wrong.backward_nonlinear_iters), 3.0);
}

TEST(PreconditionedGradient, BpttRefusesBandAndMissingPreconditioner) {
  const auto loss = Loss(Config().n);
  EXPECT_THROW(Bptt(BpttOptions("band")).Compute(Problem(Config()), loss), ConfigError);
  AdvectionDiffusionField::Config without = Config();
  without.offers_preconditioner = false;
  EXPECT_THROW(Bptt(BpttOptions("field")).Compute(Problem(without), loss), ConfigError);
}

// backsolve_adjoint with an implicit backward (sdirk, GMRES): the augmented system's
// block-diagonal preconditioner. Backsolve reconstructs z backward in time, which diffusion
// forbids; central advection (n = 20, imaginary eigenvalues up to v·n = 800) is stable both ways
// and still needs several Krylov iterations without a preconditioner.
TEST(PreconditionedGradient, BacksolveAugmentedSystem) {
  AdvectionDiffusionField::Config config = Config();
  config.n = 20;
  config.diffusion = 0.0;
  config.velocity = 40.0;
  const OdeProblem problem = Problem(config);
  const auto loss = Loss(problem.z0.size());
  auto options_for = [](const std::string& preconditioner, double rtol) {
    GradientOptions options = Options("sdirk", preconditioner, rtol);
    options.backward_integrator = "sdirk";
    return options;
  };
  const LossAndGradient plain = BacksolveAdjoint(options_for("none", 1e-7)).Compute(problem, loss);
  const LossAndGradient field = BacksolveAdjoint(options_for("field", 1e-7)).Compute(problem, loss);
  ASSERT_FALSE(field.stats.reconstruction_failed);
  ASSERT_FALSE(plain.stats.reconstruction_failed);
  EXPECT_LT(RelativeDifference(field.Joined(), plain.Joined()), 1e-5);
  // backsolve's own accuracy on this problem (continuous adjoint, reconstructed z): 1.4e-3.
  const Vector reference = Reference(problem);
  EXPECT_LT(RelativeDifference(field.Joined(), reference), 3e-3);
  EXPECT_LT(RelativeDifference(plain.Joined(), reference), 3e-3);
  EXPECT_GT(field.stats.backward_preconditioner_setups, 0);

  const GradientStats loose_plain =
      BacksolveAdjoint(options_for("none", 1e-6)).Compute(problem, loss).stats;
  const GradientStats loose_field =
      BacksolveAdjoint(options_for("field", 1e-6)).Compute(problem, loss).stats;
  PrintRatios("backsolve none", loose_plain);
  PrintRatios("backsolve field", loose_field);
  const double with =
      Ratio(loose_field.backward_linear_iters, loose_field.backward_nonlinear_iters);
  // ARKODE reuses a set-up over steps: its forward solve with the exact preconditioner needs
  // about 2 iterations here too.
  EXPECT_LT(with, 2.6);
  EXPECT_GT(Ratio(loose_plain.backward_linear_iters, loose_plain.backward_nonlinear_iters),
            1.3 * with);
}

TEST(PreconditionedGradient, DenseNewtonRefusesLargeStates) {
  const Index n = 5000;
  OdeProblem problem;
  problem.field = std::make_shared<LinearDecayField>(n);
  problem.theta = Vector::Constant(1, 2.0);
  problem.z0 = Vector::Ones(n);
  problem.output_times = {0.1};
  const auto loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(n), 1);
  GradientOptions cvodes = Options("cvodes_bdf", "auto", 1e-6);
  cvodes.integrator_options.linear_solver = "dense";
  GradientOptions bptt = BpttOptions("auto");
  bptt.integrator_options.linear_solver = "dense";
  auto expect_refusal = [&](GradientMethod& method, const char* name) {
    try {
      method.Compute(problem, loss);
      FAIL() << name << ": expected ConfigError";
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("5000"), std::string::npos) << message;
      EXPECT_NE(message.find("4096"), std::string::npos) << message;
      EXPECT_NE(message.find("gmres"), std::string::npos) << message;
    }
  };
  CvodesAdjoint cvodes_adjoint(cvodes);
  expect_refusal(cvodes_adjoint, "cvodes_adjoint");
  Bptt bptt_method(bptt);
  expect_refusal(bptt_method, "bptt");
  // With GMRES the same problem is solved, and dL/dθ = −Σ t e^{−θt} z0 at t = 0.1.
  cvodes.integrator_options.linear_solver = "gmres";
  const LossAndGradient solved = CvodesAdjoint(cvodes).Compute(problem, loss);
  EXPECT_NEAR(solved.dtheta[0], -static_cast<double>(n) * 0.1 * std::exp(-0.2),
              1e-4 * static_cast<double>(n));
}

}  // namespace
}  // namespace snode
