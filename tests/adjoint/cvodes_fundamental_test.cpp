// Tests of cvodes_adjoint's fundamental-matrix backward (CvodesAdjointOptions::observations
// "fundamental"): one CVODES backward solve of U (n × n, U(T) = I) and, with a running cost, of
// its particular solution v, with the observation jumps folded into a = U c + v instead of a
// CVodeReInitB at each observation. Checked against central finite differences, closed forms, a
// tight reference and the restart path; restarts where U(t_i) is ill-conditioned (stiff decay);
// the dense and the Krylov backward linear solvers; configuration errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "tests/test_util/cvodes_test_problems.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

using test_util::MakeProblem;
using Case = test_util::ProblemCase;

GradientOptions Options(const std::string& integrator, double rtol, double atol) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.max_steps = 200000;
  return options;
}

// The Gauss quadrature without the jump layer, and the given observations setting.
CvodesAdjointOptions Own(const std::string& observations) {
  return CvodesAdjointOptions::FromSettings(
      {{"quadrature", "gauss"}, {"jump_layer", "off"}, {"observations", observations}});
}

std::vector<Vector> Targets(std::size_t count, Index n) {
  std::vector<Vector> targets;
  for (std::size_t i = 0; i < count; ++i) {
    Vector target = Vector::Constant(n, 0.5);
    target(0) = 1.0 + 0.1 * static_cast<double>(i);
    targets.push_back(target);
  }
  return targets;
}

// Central differences of L in θ and z0, L from forward solves at rtol 1e-12 / atol 1e-14.
struct Differences {
  Vector dtheta, dz0;
};

Differences CentralDifferences(const OdeProblem& problem, const Loss& loss) {
  CvodesAdjoint reference(Options("cvodes_bdf", 1e-12, 1e-14), Own("restart"));
  auto loss_at = [&](const Vector& theta, const Vector& z0) {
    OdeProblem shifted = problem;
    shifted.theta = theta;
    shifted.z0 = z0;
    return Vector::Constant(1, reference.Compute(shifted, loss).loss);
  };
  Differences d;
  d.dtheta =
      ::test_util::CentralDifferenceJacobian(
          [&](const Vector& theta) { return loss_at(theta, problem.z0); }, problem.theta, 1e-4)
          .row(0)
          .transpose();
  d.dz0 = ::test_util::CentralDifferenceJacobian(
              [&](const Vector& z0) { return loss_at(problem.theta, z0); }, problem.z0, 1e-4)
              .row(0)
              .transpose();
  return d;
}

// Lotka–Volterra (10 outputs), a linear 3-state field with a running cost and an output at t0,
// and an MLP 2-8-2 with an output before the first one at t0 < t_1.
std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"Lotka-Volterra", test_util::LotkaVolterraProblem(),
                   std::make_shared<MseLoss>(Targets(10, 2))});
  cases.push_back({"linear (running cost, output at t0)", test_util::LinearProblem(),
                   test_util::LinearProblemLoss()});
  MlpOptions mlp;
  mlp.widths = {2, 8, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  std::vector<double> mlp_times;
  for (int i = 1; i <= 12; ++i) mlp_times.push_back(0.25 * i);
  cases.push_back(
      {"MLP 2-8-2 (t0 = -0.5)",
       MakeProblem(field, Vector{{1.0, -0.5}}, field->InitialParams(3), mlp_times, -0.5),
       std::make_shared<MseLoss>(Targets(mlp_times.size(), 2))});
  return cases;
}

// Gradient check: dL/dθ and dL/dz0 at rtol 1e-10 against central differences (step 1e-4 on a
// loss solved to 1e-12: truncation ≈ 1e-8, noise ≈ 1e-8 relative), for both backward families.
TEST(CvodesFundamental, MatchesFiniteDifferences) {
  for (const Case& c : Cases()) {
    const Differences fd = CentralDifferences(c.problem, *c.loss);
    for (const std::string integrator : {"cvodes_adams", "cvodes_bdf"}) {
      CvodesAdjoint method(Options(integrator, 1e-10, 1e-12), Own("fundamental"));
      const LossAndGradient result = method.Compute(c.problem, *c.loss);
      const double theta_error = ::test_util::MaxRelativeError(result.dtheta, fd.dtheta);
      const double z0_error = ::test_util::MaxRelativeError(result.dz0, fd.dz0);
      std::printf(
          "%-12s %-36s vs central FD: dL/dθ %.2e, dL/dz0 %.2e; %ld backward steps, %ld "
          "backward solves\n",
          integrator.c_str(), c.label.c_str(), theta_error, z0_error, result.stats.backward_steps,
          result.stats.backward_restarts);
      EXPECT_LT(theta_error, 1e-6) << integrator << " " << c.label;
      EXPECT_LT(z0_error, 1e-6) << integrator << " " << c.label;
      // Non-stiff: U stays well-conditioned, one backward solve for all observations.
      EXPECT_EQ(result.stats.backward_restarts, 1) << integrator << " " << c.label;
    }
  }
}

// The same gradient as the restart path (both at rtol 1e-10), and the same loss.
TEST(CvodesFundamental, AgreesWithRestartAtEveryObservation) {
  for (const Case& c : Cases()) {
    for (const std::string integrator : {"cvodes_adams", "cvodes_bdf"}) {
      const LossAndGradient fundamental =
          CvodesAdjoint(Options(integrator, 1e-10, 1e-12), Own("fundamental"))
              .Compute(c.problem, *c.loss);
      const LossAndGradient restart =
          CvodesAdjoint(Options(integrator, 1e-10, 1e-12), Own("restart"))
              .Compute(c.problem, *c.loss);
      EXPECT_EQ(fundamental.loss, restart.loss) << c.label;  // the same forward solve
      EXPECT_LT(::test_util::MaxRelativeError(fundamental.dtheta, restart.dtheta), 1e-7)
          << integrator << " " << c.label;
      EXPECT_LT(::test_util::MaxRelativeError(fundamental.dz0, restart.dz0), 1e-7)
          << integrator << " " << c.label;
      EXPECT_EQ(restart.stats.backward_restarts,
                static_cast<long>(c.problem.output_times.size()) -
                    (c.problem.output_times.front() == c.problem.t0 ? 1 : 0))
          << integrator << " " << c.label;
    }
  }
}

// W2's shape (MLP 2-32-32-2 tanh, 101 outputs on [0, 10], rtol 1e-6 / atol 1e-8): against a
// reference at rtol 1e-12, the fundamental matrix is at least as accurate as the restarts (W2:
// 1.5e-6 / 3.8e-6 against 6.1e-6 / 2.9e-5, Adams / BDF) with a fraction of their backward steps.
TEST(CvodesFundamental, W2ShapeOneSolveFewerStepsSameAccuracy) {
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  std::vector<double> times;
  for (int i = 0; i <= 100; ++i) times.push_back(0.1 * i);
  const OdeProblem problem = MakeProblem(field, Vector{{1.0, 1.0}}, field->InitialParams(7), times);
  const MseLoss loss(Targets(times.size(), 2));
  const LossAndGradient reference =
      CvodesAdjoint(Options("cvodes_adams", 1e-12, 1e-14), Own("restart")).Compute(problem, loss);
  for (const std::string integrator : {"cvodes_adams", "cvodes_bdf"}) {
    GradientStats stats[2];
    double errors[2];
    const char* modes[2] = {"fundamental", "restart"};
    for (int k = 0; k < 2; ++k) {
      const LossAndGradient result =
          CvodesAdjoint(Options(integrator, 1e-6, 1e-8), Own(modes[k])).Compute(problem, loss);
      errors[k] = (result.dtheta - reference.dtheta).norm() / reference.dtheta.norm();
      stats[k] = result.stats;
      std::printf(
          "%-12s %-11s: dL/dθ rel err %.2e; %ld backward steps, %ld fB + recomputation, "
          "%ld VJPs, %ld backward solves\n",
          integrator.c_str(), modes[k], errors[k], stats[k].backward_steps,
          stats[k].backward_rhs_evals, stats[k].vjp_evals, stats[k].backward_restarts);
    }
    EXPECT_LT(errors[0], 2e-5) << integrator;
    EXPECT_LT(errors[0], errors[1] * 1.5) << integrator;
    EXPECT_EQ(stats[0].backward_restarts, 1) << integrator;
    EXPECT_LT(4 * stats[0].backward_steps, stats[1].backward_steps) << integrator;
    EXPECT_LT(stats[0].vjp_evals, stats[1].vjp_evals) << integrator;
  }
}

// W1b's stiff pair z' = diag(−θ1, −θ2) z, θ = (1, 1e4): U(t) = diag(e^{−θ_i (T − t)}) loses the
// fast column within one segment, so the solve restarts (U ← I) at the observations, and the
// gradient still matches the closed form.
TEST(CvodesFundamental, RestartsWhereTheMatrixIsIllConditioned) {
  const std::vector<double> times = test_util::W1bTimes();
  const double lambda = 1e4;
  const OdeProblem problem = test_util::W1bProblem(lambda);
  const auto loss = test_util::W1bLoss();
  Vector dtheta_exact, dz0_exact;
  test_util::W1bExactGradient(times, lambda, dtheta_exact, dz0_exact);
  const LossAndGradient result =
      CvodesAdjoint(Options("cvodes_bdf", 1e-10, 1e-14), Own("fundamental")).Compute(problem, loss);
  const double theta_error = ::test_util::MaxRelativeError(result.dtheta, dtheta_exact);
  const double z0_error = ::test_util::MaxRelativeError(result.dz0, dz0_exact);
  std::printf("W1b λ=1e4 fundamental: dL/dθ %.2e, dL/dz0 %.2e; %ld backward solves\n", theta_error,
              z0_error, result.stats.backward_restarts);
  EXPECT_LT(theta_error, 1e-6);
  EXPECT_LT(z0_error, 1e-6);
  // U(0.1) already has condition e^{0.9·1e4}: a restart at each of the three observations.
  EXPECT_EQ(result.stats.backward_restarts, 4);
}

// Equal decay rates z' = −θ z (θ = (2, 2)), 101 observations on [0, 10]: U(t) = e^{−2(T − t)} I
// stays perfectly conditioned but falls to e^{−20} ≈ 2e-9, below atol, while c = U⁻¹ · (jumps)
// grows to 1e9. Solving U at atol / ‖c‖∞ and restarting where ‖c‖∞ grew by fundamental_growth
// keeps dL/dθ, dL/dz0 at the central differences' accuracy, at loose and tight tolerances
// (without the growth restarts, fundamental_growth = 1e300: 1.5e-1 / 9.5e-1 at rtol 1e-6,
// 2.1e-5 / 3.2e-5 at rtol 1e-10).
TEST(CvodesFundamental, RestartsWhereCoefficientsGrowUnderDecay) {
  std::vector<double> times;
  for (int i = 0; i <= 100; ++i) times.push_back(0.1 * i);
  const OdeProblem problem =
      MakeProblem(std::make_shared<DecayField>(2), Vector{{1.0, 2.0}}, Vector{{2.0, 2.0}}, times);
  const MseLoss loss(Targets(times.size(), 2));
  const Differences fd = CentralDifferences(problem, loss);
  struct Tolerance {
    double rtol, atol, bound;
  };
  for (const Tolerance tol : {Tolerance{1e-6, 1e-8, 1e-4}, Tolerance{1e-10, 1e-12, 1e-6}}) {
    for (const std::string growth : {"1e3", "1e300"}) {
      CvodesAdjointOptions own = Own("fundamental");
      own.fundamental_growth = std::stod(growth);
      const LossAndGradient result =
          CvodesAdjoint(Options("cvodes_adams", tol.rtol, tol.atol), own).Compute(problem, loss);
      const double theta_error = ::test_util::MaxRelativeError(result.dtheta, fd.dtheta);
      const double z0_error = ::test_util::MaxRelativeError(result.dz0, fd.dz0);
      std::printf(
          "rtol %.0e fundamental_growth %-5s: dL/dθ %.2e, dL/dz0 %.2e; %ld backward solves\n",
          tol.rtol, growth.c_str(), theta_error, z0_error, result.stats.backward_restarts);
      if (growth != "1e3") continue;
      EXPECT_LT(theta_error, tol.bound) << tol.rtol;
      EXPECT_LT(z0_error, tol.bound) << tol.rtol;
      EXPECT_GT(result.stats.backward_restarts, 1) << tol.rtol;
    }
  }
}

// The backward BDF's linear systems: the dense block-diagonal Jacobian and SPGMR with the
// column-wise VJP agree.
TEST(CvodesFundamental, DenseAndKrylovBackwardAgree) {
  for (const Case& c : Cases()) {
    GradientOptions dense = Options("cvodes_bdf", 1e-10, 1e-12);
    GradientOptions krylov = dense;
    krylov.integrator_options.linear_solver = "gmres";
    const CvodesAdjointOptions fundamental = Own("fundamental");
    const LossAndGradient a = CvodesAdjoint(dense, fundamental).Compute(c.problem, *c.loss);
    const LossAndGradient b = CvodesAdjoint(krylov, fundamental).Compute(c.problem, *c.loss);
    EXPECT_LT(::test_util::MaxRelativeError(b.dtheta, a.dtheta), 1e-7) << c.label;
    EXPECT_LT(::test_util::MaxRelativeError(b.dz0, a.dz0), 1e-7) << c.label;
  }
}

// Reuse: the objects are sized for the loss's running cost (one more column); a call with
// another loss re-creates them and equals a fresh object.
TEST(CvodesFundamental, ReuseAcrossLossesEqualsFreshObjects) {
  const std::vector<Case> cases = Cases();
  const Case& with_cost = cases[1];
  const auto without_cost = std::make_shared<MseLoss>(Targets(5, 3));
  const GradientOptions options = Options("cvodes_adams", 1e-8, 1e-10);
  CvodesAdjoint reused(options, Own("fundamental"));
  for (const Loss* loss : {static_cast<const Loss*>(with_cost.loss.get()),
                           static_cast<const Loss*>(without_cost.get()),
                           static_cast<const Loss*>(with_cost.loss.get())}) {
    const LossAndGradient a = reused.Compute(with_cost.problem, *loss);
    const LossAndGradient b =
        CvodesAdjoint(options, Own("fundamental")).Compute(with_cost.problem, *loss);
    EXPECT_EQ(a.dtheta, b.dtheta);
    EXPECT_EQ(a.dz0, b.dz0);
  }
}

// "auto" takes the fundamental matrix only with at least n observations inside (t0, T) (fewer
// do not pay for its n VJPs per fB), and one object follows the problem from call to call.
TEST(CvodesFundamental, AutoTakesItForEnoughObservationsOnly) {
  MlpOptions mlp;
  mlp.widths = {2, 8, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  const GradientOptions options = Options("cvodes_adams", 1e-8, 1e-10);
  CvodesAdjoint reused(options, Own("auto"));
  for (const std::vector<double>& times :
       {std::vector<double>{2.0}, std::vector<double>{1.0, 2.0},
        std::vector<double>{0.5, 1.0, 1.5, 2.0}, std::vector<double>{2.0}}) {
    const OdeProblem problem =
        MakeProblem(field, Vector{{1.0, -0.5}}, field->InitialParams(3), times);
    const MseLoss loss(Targets(times.size(), 2));
    const bool expect_fundamental = times.size() - 1 >= 2;
    const LossAndGradient chosen = CvodesAdjoint(options, Own("auto")).Compute(problem, loss);
    const LossAndGradient expected =
        CvodesAdjoint(Options("cvodes_adams", 1e-8, 1e-10),
                      Own(expect_fundamental ? "fundamental" : "restart"))
            .Compute(problem, loss);
    EXPECT_EQ(chosen.dtheta, expected.dtheta) << times.size() << " outputs";
    EXPECT_EQ(chosen.stats.vjp_evals, expected.stats.vjp_evals) << times.size() << " outputs";
    const LossAndGradient again = reused.Compute(problem, loss);
    EXPECT_EQ(again.dtheta, expected.dtheta) << times.size() << " outputs, reused object";
  }
}

// An explicit "fundamental" switches the jump layer's "auto" off (BDF backward, Gauss quadrature
// and a small n + p would turn it on): one backward solve, no configuration error.
TEST(CvodesFundamental, ExplicitChoiceTurnsTheAutomaticJumpLayerOff) {
  const Case c = Cases()[2];  // MLP 2-8-2: n + p = 44 < 64
  const GradientOptions options = Options("cvodes_bdf", 1e-8, 1e-10);
  CvodesAdjointOptions own = Own("fundamental");
  own.jump_layer = CvodesAdjointOptions::JumpLayer::kAuto;
  const LossAndGradient result = CvodesAdjoint(options, own).Compute(c.problem, *c.loss);
  EXPECT_EQ(result.stats.backward_restarts, 1);
  own.jump_layer = CvodesAdjointOptions::JumpLayer::kOff;
  EXPECT_EQ(CvodesAdjoint(options, own).Compute(c.problem, *c.loss).dtheta, result.dtheta);
}

TEST(CvodesFundamental, ConfigurationErrorsNameTheOption) {
  EXPECT_THROW(Own("sometimes"), ConfigError);
  GradientOptions options = Options("cvodes_adams", 1e-6, 1e-8);
  options.backward_integrator = "dopri5";
  try {
    CvodesAdjoint method(options, Own("fundamental"));
    FAIL() << "a non-CVODES backward was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("observations 'fundamental'"), std::string::npos)
        << e.what();
  }
  // The fundamental matrix rides on the Gauss quadrature: "cvodes" is refused when computing.
  CvodesAdjointOptions own = Own("fundamental");
  own.quadrature = CvodesAdjointOptions::Quadrature::kCvodes;
  const Case c = Cases()[0];
  CvodesAdjoint method(Options("cvodes_adams", 1e-6, 1e-8), own);
  try {
    method.Compute(c.problem, *c.loss);
    FAIL() << "the CVODES quadrature was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("observations 'fundamental'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace snode
