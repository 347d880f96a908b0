// backsolve_adjoint: the augmented field's derivatives, correctness on non-stiff problems, the
// seed's stiff failure (the decay and the two-rate decay of problems/decay.hpp) reproduced *and
// detected* with and without checkpoints, checkpoints (z reset to the stored forward state at the
// observation times) against finite differences and BPTT on every backward path and on a problem
// whose reconstruction only they rescue, zero steady-state allocations, running cost, reuse and bad
// options.
#include "adjoint/backsolve_adjoint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"
#include "tests/adjoint/plugin_integrators.hpp"
#include "tests/test_util/allocation_counter.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

using ::test_util::MaxRelativeError;

bool HaveIntegrator(const std::string& name) { return IntegratorRegistry().Contains(name); }

#define REQUIRE_INTEGRATOR(name)                                                                \
  do {                                                                                          \
    if (!HaveIntegrator(name)) GTEST_SKIP() << "integrator '" << name << "' is not registered"; \
  } while (0)

GradientOptions Options(const std::string& integrator, double rtol, double atol) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  return options;
}

// The two-rate decay z' = diag(−1, −λ) z, z0 = (1, 1), t ∈ {1e-3, 1e-2, 1e-1, 1},
// L = Σ_t (z1 + z2), and the seed's decay y' = −λy, y0 = 1, L = y(1) (problems/decay.hpp).
using problems::DecayLoss;
using problems::DecayOde;
using problems::TwoRateDecayLoss;
using problems::TwoRateDecayOde;

// The two-rate decay's exact gradient, split into dL/dθ and dL/dz0.
void TwoRateExact(double lambda, Vector* dtheta, Vector* dz0) {
  const Vector exact = problems::TwoRateDecayExactGradient(lambda);
  *dtheta = exact.head(2);
  *dz0 = exact.tail(2);
}

// max_i |a_i − e_i| / |e_i| (every exact W1b value is representable, so per component).
double ComponentwiseRelativeError(const Vector& actual, const Vector& expected) {
  return ((actual - expected).cwiseAbs().array() / expected.cwiseAbs().array()).maxCoeff();
}

// ---------------------------------------------------------------------------------------------
// The augmented field, checked with the shared field checker (Jvp, VjpState, VjpParams, Vjp and
// DenseJacobian against central differences of F). Its second-order blocks are themselves
// directional differences, hence rtol 1e-6 instead of the usual 1e-7.

TEST(BacksolveAdjoint, AugmentedFieldDerivativesMatchFiniteDifferencesLotkaVolterra) {
  auto field = std::make_shared<LotkaVolterraField>();
  const LinearFunctionalLoss loss({Vector::Ones(2)}, Vector::Constant(2, 0.5));
  detail::BacksolveAugmentedField augmented(field, &loss);
  Vector y(2 + 2 + 4);
  y << 1.3, 0.7, 0.4, -0.8, 0.1, 0.2, 0.3, 0.4;
  const Vector theta = problems::LotkaVolterraTrueRates();
  EXPECT_TRUE(::test_util::FieldDerivativesMatchFiniteDifferences(augmented, -0.3, y, theta,
                                                                  /*rtol=*/1e-6,
                                                                  /*identity_rtol=*/1e-9));
}

TEST(BacksolveAdjoint, AugmentedFieldDerivativesMatchFiniteDifferencesLinear) {
  Matrix a(3, 3);
  a << -0.5, 1.0, 0.2, -1.0, -0.3, 0.0, 0.1, 0.4, -2.0;
  auto field = std::make_shared<LinearField>(3);
  detail::BacksolveAugmentedField augmented(field, nullptr);
  Vector y(3 + 3 + 9);
  for (Index i = 0; i < y.size(); ++i) y[i] = std::sin(1.0 + static_cast<double>(i));
  EXPECT_TRUE(::test_util::FieldDerivativesMatchFiniteDifferences(
      augmented, -1.0, y, LinearField::ParamsFromMatrix(a), /*rtol=*/1e-6,
      /*identity_rtol=*/1e-9));
}

TEST(BacksolveAdjoint, AugmentedFieldIsTheTimeReversedAdjointSystem) {
  // F̃(s, y) = [−f; (∂f/∂z)ᵀa + ∂g/∂z; (∂f/∂θ)ᵀa] at t = −s, for decay f = −θ∘z, g = cᵀz.
  auto field = std::make_shared<DecayField>(2);
  Vector c(2);
  c << 0.5, 2.0;
  const LinearFunctionalLoss loss({Vector::Ones(2)}, c);
  detail::BacksolveAugmentedField augmented(field, &loss);
  Vector y(6), theta(2), out(6), expected(6);
  y << 1.0, 2.0, 3.0, 4.0, 0.0, 0.0;
  theta << 1.0, 10.0;
  augmented.F(-0.5, y, theta, out);
  expected << 1.0, 20.0, -3.0 + 0.5, -40.0 + 2.0, -3.0, -8.0;
  EXPECT_LE((out - expected).norm(), 1e-15 * expected.norm());
  EXPECT_EQ(augmented.rhs_evals(), 1);
  EXPECT_EQ(augmented.vjp_evals(), 1);
  EXPECT_FALSE(augmented.IsAutonomous());  // the running cost may depend on t
}

// ---------------------------------------------------------------------------------------------
// Non-stiff correctness against closed forms.

TEST(BacksolveAdjoint, TwoModeGradientIsExactAndFlagDownForMildStiffness) {
  REQUIRE_INTEGRATOR("dopri5");
  for (double lambda : {1.0, 10.0}) {
    SCOPED_TRACE("lambda = " + std::to_string(lambda));
    BacksolveAdjoint method(Options("dopri5", 1e-10, 1e-12));
    const OdeProblem problem = TwoRateDecayOde(lambda);
    const LossAndGradient result = method.Compute(problem, TwoRateDecayLoss());
    Vector dtheta, dz0;
    TwoRateExact(lambda, &dtheta, &dz0);
    std::printf(
        "W1b lambda=%g dopri5 tol 1e-10: dL/dtheta rel err %.3e, dL/dz0 rel err %.3e, "
        "reconstruction error %.3e, backward rhs %ld\n",
        lambda, ComponentwiseRelativeError(result.dtheta, dtheta),
        ComponentwiseRelativeError(result.dz0, dz0), result.stats.reconstruction_error,
        result.stats.backward_rhs_evals);
    EXPECT_LE(ComponentwiseRelativeError(result.dtheta, dtheta), 1e-6);
    EXPECT_LE(ComponentwiseRelativeError(result.dz0, dz0), 1e-6);
    EXPECT_FALSE(result.stats.reconstruction_failed);
    EXPECT_LE(result.stats.reconstruction_error, 1e-6);
  }
}

TEST(BacksolveAdjoint, DecayClosedForm) {
  REQUIRE_INTEGRATOR("dopri5");
  for (double lambda : {1.0, 10.0}) {
    SCOPED_TRACE("lambda = " + std::to_string(lambda));
    BacksolveAdjoint method(Options("dopri5", 1e-10, 1e-12));
    const LossAndGradient result = method.Compute(DecayOde(lambda), DecayLoss());
    const double exact = std::exp(-lambda);
    EXPECT_NEAR(result.loss, exact, 1e-8 * exact);
    EXPECT_NEAR(result.dtheta[0], -exact, 1e-6 * exact);
    EXPECT_NEAR(result.dz0[0], exact, 1e-6 * exact);
    EXPECT_FALSE(result.stats.reconstruction_failed);
  }
}

// ---------------------------------------------------------------------------------------------
// The seed's warning, reproduced and detected.

TEST(BacksolveAdjoint, TwoModeStiffFailureIsReproducedAndDetected) {
  REQUIRE_INTEGRATOR("dopri5");
  const double lambda = 1e4;
  Vector dtheta, dz0;
  TwoRateExact(lambda, &dtheta, &dz0);
  // Checkpoints do not rescue it: the interval [0.1, 1] alone amplifies the backward error by
  // e^{9000} (overflow), so the flag and the NaN gradient are the same with and without them.
  for (int k = 0; k < 4; ++k) {
    const double tol = k % 2 == 0 ? 1e-6 : 1e-9;
    const bool checkpoints = k < 2;
    SCOPED_TRACE("tol = " + std::to_string(tol) + ", checkpoints " + (checkpoints ? "on" : "off"));
    BacksolveOptions backsolve;
    backsolve.checkpoints = checkpoints;
    BacksolveAdjoint method(Options("dopri5", tol, tol), backsolve);
    const LossAndGradient result = method.Compute(TwoRateDecayOde(lambda), TwoRateDecayLoss());
    // Component-wise: dL/dθ₂ ≈ −4.5e-8 is tiny next to dL/dθ₁ ≈ −0.47 but exactly representable,
    // so a relative error per component is meaningful (the two-rate decay, problems/decay.hpp).
    const double error = ComponentwiseRelativeError(result.dtheta, dtheta);
    std::printf(
        "W1b lambda=1e4 dopri5 tol %g checkpoints %d: dL/dtheta = (%.6e, %.6e) exact (%.6e, "
        "%.6e), rel err %.3e, reconstruction error %.3e, flag %d, backward steps %ld\n",
        tol, checkpoints ? 1 : 0, result.dtheta[0], result.dtheta[1], dtheta[0], dtheta[1], error,
        result.stats.reconstruction_error, result.stats.reconstruction_failed ? 1 : 0,
        result.stats.backward_steps);
    // Wrong (or non-finite) gradient …
    EXPECT_TRUE(!result.dtheta.allFinite() || error > 1e-2) << "relative error " << error;
    // … and the method says so.
    EXPECT_TRUE(result.stats.reconstruction_failed);
    EXPECT_TRUE(std::isnan(result.stats.reconstruction_error) ||
                result.stats.reconstruction_error >
                    method.method_options().reconstruction_tolerance);
    // The forward loss is still right: only the backward pass breaks.
    double exact_loss = 0.0;
    for (double t : {1e-3, 1e-2, 1e-1, 1.0}) exact_loss += std::exp(-t) + std::exp(-lambda * t);
    EXPECT_NEAR(result.loss, exact_loss, 1e-4 * exact_loss);
  }
}

TEST(BacksolveAdjoint, DecayWorksAtLambda100AndFailsAtLambda1e4) {
  REQUIRE_INTEGRATOR("dopri5");
  // The seed: "λ = 100: adjoint method works reasonably well; λ = 10 000: fails completely".
  // At λ = 100 the exact gradient is −e^{−100} ≈ −3.7e-44, far below the forward solution's
  // absolute error (≈ atol), so "works" means an absolutely small, finite gradient; the
  // reconstruction of y(0) = 1 from y(1) ≈ noise·e^{100} is already lost and is flagged.
  const double lambda_ok = 100.0;
  {
    BacksolveAdjoint method(Options("dopri5", 1e-6, 1e-6));
    const LossAndGradient result = method.Compute(DecayOde(lambda_ok), DecayLoss());
    std::printf(
        "W1 lambda=100 dopri5 tol 1e-6: y(1) = %.3e, dL/dlambda = %.3e (exact %.3e), "
        "dL/dy0 = %.3e, reconstructed y(0) error %.3e, flag %d\n",
        result.loss, result.dtheta[0], -std::exp(-lambda_ok), result.dz0[0],
        result.stats.reconstruction_error, result.stats.reconstruction_failed ? 1 : 0);
    ASSERT_TRUE(result.dtheta.allFinite());
    EXPECT_LE(std::abs(result.dtheta[0] + std::exp(-lambda_ok)), 1e-6);
    EXPECT_LE(std::abs(result.dz0[0] - std::exp(-lambda_ok)), 1e-6);
  }
  {
    BacksolveAdjoint method(Options("dopri5", 1e-6, 1e-6));
    const LossAndGradient result = method.Compute(DecayOde(1e4), DecayLoss());
    std::printf(
        "W1 lambda=1e4 dopri5 tol 1e-6: y(1) = %.3e, dL/dlambda = %.3e, dL/dy0 = %.3e, "
        "reconstruction error %.3e, flag %d\n",
        result.loss, result.dtheta[0], result.dz0[0], result.stats.reconstruction_error,
        result.stats.reconstruction_failed ? 1 : 0);
    EXPECT_TRUE(result.stats.reconstruction_failed);
  }
}

TEST(BacksolveAdjoint, ImplicitIntegratorsDoNotRescueTheReconstruction) {
  // The failure is in the *problem* (z' = −λz is unstable backward), not in dopri5: an implicit
  // backward integrator follows the growing mode just as faithfully (BDF: z₂(t0) ≈ 1e32; SDIRK:
  // overflow). An integrator that damped it instead would return z₂(t0) ≈ 0; either way dL/dθ₂ is
  // lost and the flag is raised. With checkpoints both overflow on [0.01, 0.1], after the reset
  // at t = 0.1 (BDF near t = 0.061).
  Vector dtheta, dz0;
  TwoRateExact(1e4, &dtheta, &dz0);
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    if (!HaveIntegrator(integrator)) continue;
    for (const bool checkpoints : {true, false}) {
      SCOPED_TRACE(std::string(integrator) +
                   (checkpoints ? ", checkpoints on" : ", checkpoints off"));
      BacksolveOptions backsolve;
      backsolve.checkpoints = checkpoints;
      BacksolveAdjoint method(Options(integrator, 1e-6, 1e-6), backsolve);
      const LossAndGradient result = method.Compute(TwoRateDecayOde(1e4), TwoRateDecayLoss());
      const double theta2_error = std::abs(result.dtheta[1] - dtheta[1]) / std::abs(dtheta[1]);
      std::printf(
          "W1b lambda=1e4 %s tol 1e-6 checkpoints %d: dL/dtheta2 = %.3e (exact %.3e), "
          "reconstruction error %.3e\n",
          integrator, checkpoints ? 1 : 0, result.dtheta[1], dtheta[1],
          result.stats.reconstruction_error);
      EXPECT_TRUE(!std::isfinite(theta2_error) || theta2_error > 1e-2);
      EXPECT_TRUE(result.stats.reconstruction_failed);
    }
  }
}

TEST(BacksolveAdjoint, CheckpointsGiveTheRightTwoModeGradientAtLambda100ButKeepTheFlag) {
  REQUIRE_INTEGRATOR("dopri5");
  // W1b at λ = 100, dopri5 rtol = atol = 1e-9. Without checkpoints z₂ is lost over [0, 1]
  // (e^{100} amplification) and so is dL/dθ₂. With them z₂ is still lost on [0.1, 1], but a₂
  // decays backward exactly as fast as z₂_rec grows, so a₂·z₂, which is what enters dL/dθ₂, keeps
  // its value at t = 1 (≈ atol) and the reset at 0.1 stops the damage: the gradient is right,
  // yet the mismatch at t = 0.1 is flagged (the flag is conservative with checkpoints).
  Vector dtheta, dz0;
  TwoRateExact(100.0, &dtheta, &dz0);
  for (const bool checkpoints : {true, false}) {
    SCOPED_TRACE(checkpoints ? "checkpoints on" : "checkpoints off");
    BacksolveOptions backsolve;
    backsolve.checkpoints = checkpoints;
    const LossAndGradient result = BacksolveAdjoint(Options("dopri5", 1e-9, 1e-9), backsolve)
                                       .Compute(TwoRateDecayOde(100.0), TwoRateDecayLoss());
    const double error = ComponentwiseRelativeError(result.dtheta, dtheta);
    std::printf(
        "W1b lambda=100 dopri5 tol 1e-9 checkpoints %d: dL/dtheta rel err %.3e, "
        "reconstruction error %.3e\n",
        checkpoints ? 1 : 0, error, result.stats.reconstruction_error);
    EXPECT_TRUE(result.stats.reconstruction_failed);
    if (checkpoints) {
      EXPECT_LE(error, 1e-6);
    } else {
      EXPECT_TRUE(!result.dtheta.allFinite() || error > 1e-2) << error;
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(BacksolveAdjoint, RunningCostMatchesClosedForm) {
  REQUIRE_INTEGRATOR("dopri5");
  // L = ∫_0^1 y dt + y(1) for y' = −λy: L = (1 − e^{−λ})/λ + e^{−λ} (times y0),
  // dL/dλ = e^{−λ}/λ − (1 − e^{−λ})/λ² − e^{−λ}, dL/dy0 = L.
  for (double lambda : {1.0, 10.0}) {
    SCOPED_TRACE("lambda = " + std::to_string(lambda));
    const LinearFunctionalLoss loss({Vector::Ones(1)}, Vector::Ones(1));
    BacksolveAdjoint method(Options("dopri5", 1e-10, 1e-12));
    const LossAndGradient result = method.Compute(DecayOde(lambda), loss);
    const double e = std::exp(-lambda);
    const double exact_loss = (1.0 - e) / lambda + e;
    const double exact_dlambda = e / lambda - (1.0 - e) / (lambda * lambda) - e;
    EXPECT_NEAR(result.loss, exact_loss, 1e-9 * exact_loss);
    EXPECT_NEAR(result.dtheta[0], exact_dlambda, 1e-6 * std::abs(exact_dlambda));
    EXPECT_NEAR(result.dz0[0], exact_loss, 1e-6 * exact_loss);
  }
}

TEST(BacksolveAdjoint, OutputTimeAtT0AndStatistics) {
  REQUIRE_INTEGRATOR("dopri5");
  // A first output time equal to t0 contributes ∂ℓ_0/∂z directly to dL/dz0.
  OdeProblem problem = DecayOde(2.0);
  problem.output_times = {0.0, 0.5, 1.0};
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(1), 3);
  BacksolveAdjoint method(Options("dopri5", 1e-10, 1e-12));
  const LossAndGradient result = method.Compute(problem, loss);
  const double exact_dz0 = 1.0 + std::exp(-1.0) + std::exp(-2.0);
  const double exact_dlambda = -0.5 * std::exp(-1.0) - std::exp(-2.0);
  EXPECT_NEAR(result.dz0[0], exact_dz0, 1e-7 * exact_dz0);
  EXPECT_NEAR(result.dtheta[0], exact_dlambda, 1e-6 * std::abs(exact_dlambda));
  EXPECT_EQ(result.stats.stored_bytes, 3.0 * 1.0 * 8.0);
  EXPECT_GT(result.stats.forward_rhs_evals, 0);
  EXPECT_GT(result.stats.backward_rhs_evals, 0);
  EXPECT_GE(result.stats.vjp_evals, result.stats.backward_rhs_evals);
  EXPECT_GT(result.stats.backward_steps, 0);
  EXPECT_GT(result.stats.wall_seconds, 0.0);
  EXPECT_EQ(result.forward.states.size(), 3u);
  EXPECT_EQ(result.dreadout.size(), 0);
}

TEST(BacksolveAdjoint, ReuseGivesTheSameAsAFreshObject) {
  REQUIRE_INTEGRATOR("dopri5");
  const GradientOptions options = Options("dopri5", 1e-8, 1e-10);
  BacksolveAdjoint reused(options);
  OdeProblem problem =
      problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), {0.5, 1.0, 1.5});
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 3);
  reused.Compute(problem, loss);
  problem.theta << 1.2, 0.8, 1.1, 2.5;
  problem.z0 << 0.8, 1.4;
  const LossAndGradient second = reused.Compute(problem, loss);
  BacksolveAdjoint fresh(options);
  const LossAndGradient expected = fresh.Compute(problem, loss);
  EXPECT_EQ(second.loss, expected.loss);
  EXPECT_LE(MaxRelativeError(second.dtheta, expected.dtheta), 1e-14);
  EXPECT_LE(MaxRelativeError(second.dz0, expected.dz0), 1e-14);
}

TEST(BacksolveAdjoint, DifferentBackwardIntegratorAgrees) {
  REQUIRE_INTEGRATOR("dopri5");
  REQUIRE_INTEGRATOR("cvodes_bdf");
  const OdeProblem problem =
      problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), {0.5, 1.0, 1.5, 2.0});
  const LinearFunctionalLoss loss = LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 4);
  GradientOptions options = Options("dopri5", 1e-10, 1e-12);
  const LossAndGradient reference = BacksolveAdjoint(options).Compute(problem, loss);
  options.backward_integrator = "cvodes_bdf";
  const LossAndGradient mixed = BacksolveAdjoint(options).Compute(problem, loss);
  EXPECT_LE(MaxRelativeError(mixed.dtheta, reference.dtheta), 1e-6);
  EXPECT_LE(MaxRelativeError(mixed.dz0, reference.dz0), 1e-6);
  EXPECT_GT(mixed.stats.jvp_evals, 0);  // the implicit backward solve used the augmented Jacobian
  // Matrix-free: GMRES on the augmented Jacobian-vector product (directional differences).
  options.backward_options = options.integrator_options;
  options.backward_options->linear_solver = "gmres";
  const LossAndGradient krylov = BacksolveAdjoint(options).Compute(problem, loss);
  EXPECT_LE(MaxRelativeError(krylov.dtheta, reference.dtheta), 1e-6);
  EXPECT_LE(MaxRelativeError(krylov.dz0, reference.dz0), 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: z reset to the stored forward state at every observation time.

// The backward paths of Compute(): "quadrature" (explicit backward integrator, [z; a] plus
// Gauss–Legendre), "augmented" (the [z; a; G] system through at_output jumps, explicit and
// implicit) and "per-interval" (integrators without jumps: one solve per interval).
struct BackwardPath {
  const char* label;
  const char* forward;
  const char* backward;  // "" = same as forward
  bool quadrature;
};

const BackwardPath kBackwardPaths[] = {
    {"quadrature dopri5", "dopri5", "", true},
    {"augmented dopri5", "dopri5", "", false},
    {"augmented cvodes_bdf", "dopri5", "cvodes_bdf", false},
    {"augmented heun (step-level, jumps)", "heun", "", false},
};

GradientOptions PathOptions(const BackwardPath& path, double rtol, double atol) {
  GradientOptions options = Options(path.forward, rtol, atol);
  // Heun's embedded error estimate is first order: at rtol 1e-10 it would take ~1e7 steps, so it
  // runs with a fixed step of 1e-3 instead (global error O(h²)).
  if (std::string(path.forward) == "heun") options.integrator_options.fixed_step = 1e-3;
  options.backward_integrator = path.backward;
  return options;
}

BacksolveOptions PathBacksolveOptions(const BackwardPath& path, bool checkpoints) {
  BacksolveOptions options;
  options.quadrature = path.quadrature;
  options.checkpoints = checkpoints;
  return options;
}

// Agreement expected of a path with a reference computed by dopri5 at rtol 1e-10: the continuous
// adjoint at the same tolerance (1e-6), or Heun's O(h²) error at h = 1e-3 (measured ≤ 8e-6).
double PathTolerance(const BackwardPath& path) {
  return std::string(path.forward) == "heun" ? 1e-4 : 1e-6;
}

// Lotka–Volterra from z0 = (1, 1), 10 observations on (0, 5], MSE against fixed targets.
OdeProblem LotkaVolterraProblem() {
  std::vector<double> times;
  for (int i = 1; i <= 10; ++i) times.push_back(0.5 * i);
  return problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), times);
}

MseLoss TargetsAtTimes(std::size_t count) {
  std::vector<Vector> targets;
  for (std::size_t i = 0; i < count; ++i) {
    const double x = static_cast<double>(i);
    targets.push_back((Vector(2) << 1.0 + 0.3 * std::sin(x), 0.8 + 0.2 * std::cos(x)).finished());
  }
  return MseLoss(std::move(targets));
}

// The backward path follows the backward integrator's declared capabilities, for plug-ins under
// their own names: an explicit one with a dense output, the step hook and output jumps gets the
// quadrature adjoint; one without output jumps (with or without the step hook) the augmented
// system, one observation interval at a time. Each matches central differences.
TEST(BacksolveAdjoint, PluginBackwardPathFollowsItsCapabilities) {
  const OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = TargetsAtTimes(problem.output_times.size());
  const LossAndGradient fd =
      CentralDifferenceGradient(problem, loss, Options("dopri5", 1e-10, 1e-12));
  const struct {
    std::string backward;
    bool quadrature;
  } cases[] = {{test_plugins::Dopri5Quadrature(), true},
               {test_plugins::Dopri5WithoutJumps(), false},
               {test_plugins::Dopri5Simple(), false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.backward);
    GradientOptions options = Options("dopri5", 1e-10, 1e-12);
    options.backward_integrator = c.backward;
    BacksolveAdjoint method(options);
    EXPECT_EQ(method.quadrature_adjoint(), c.quadrature);
    const LossAndGradient result = method.Compute(problem, loss);
    EXPECT_FALSE(result.stats.reconstruction_failed);
    // Central differences of the adaptive map are accurate to ~1e-5 here (see below).
    EXPECT_LE(MaxRelativeError(result.dtheta, fd.dtheta), 5e-5);
    EXPECT_LE(MaxRelativeError(result.dz0, fd.dz0), 5e-5);
  }
}

TEST(BacksolveAdjoint, CheckpointsAreOnByDefault) { EXPECT_TRUE(BacksolveOptions().checkpoints); }

TEST(BacksolveAdjoint, CheckpointedGradientMatchesFiniteDifferencesAndBpttOnEveryPath) {
  REQUIRE_INTEGRATOR("dopri5");
  const OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = TargetsAtTimes(problem.output_times.size());
  const GradientOptions reference_options = Options("dopri5", 1e-10, 1e-12);
  const LossAndGradient fd = CentralDifferenceGradient(problem, loss, reference_options);
  const LossAndGradient bptt =
      GradientRegistry().Create("bptt", reference_options)->Compute(problem, loss);
  // Central differences of the adaptive dopri5 map are themselves accurate to ~1e-5 here (bptt,
  // exact for that map up to its step-size control, agrees with them to 1.3e-6 in dL/dθ and
  // 1.4e-5 in dL/dz0), so finite differences are checked at 5e-5 and bptt at PathTolerance.
  const double fd_tol = 5e-5;
  ASSERT_LE(MaxRelativeError(bptt.dtheta, fd.dtheta), fd_tol);
  ASSERT_LE(MaxRelativeError(bptt.dz0, fd.dz0), fd_tol);
  for (const BackwardPath& path : kBackwardPaths) {
    if (!HaveIntegrator(path.forward) ||
        (path.backward[0] != '\0' && !HaveIntegrator(path.backward)))
      continue;
    SCOPED_TRACE(path.label);
    const LossAndGradient on =
        BacksolveAdjoint(PathOptions(path, 1e-10, 1e-12), PathBacksolveOptions(path, true))
            .Compute(problem, loss);
    const LossAndGradient off =
        BacksolveAdjoint(PathOptions(path, 1e-10, 1e-12), PathBacksolveOptions(path, false))
            .Compute(problem, loss);
    const double tol = PathTolerance(path);
    const double fd_theta = MaxRelativeError(on.dtheta, fd.dtheta);
    const double fd_z0 = MaxRelativeError(on.dz0, fd.dz0);
    const double bptt_theta = MaxRelativeError(on.dtheta, bptt.dtheta);
    const double on_off = MaxRelativeError(on.dtheta, off.dtheta);
    std::printf(
        "LV 10 outputs, %s, checkpoints on: dL/dtheta vs FD %.2e, vs bptt %.2e, dL/dz0 vs FD "
        "%.2e, vs bptt %.2e, on vs off %.2e; reconstruction error on %.2e, off %.2e\n",
        path.label, fd_theta, bptt_theta, fd_z0, MaxRelativeError(on.dz0, bptt.dz0), on_off,
        on.stats.reconstruction_error, off.stats.reconstruction_error);
    EXPECT_LE(fd_theta, std::max(tol, fd_tol));
    EXPECT_LE(fd_z0, std::max(tol, fd_tol));
    EXPECT_LE(bptt_theta, tol);
    EXPECT_LE(MaxRelativeError(on.dz0, bptt.dz0), tol);
    // Non-stiff: the resets move z by the reconstruction error only.
    EXPECT_LE(on_off, 1e-6);
    EXPECT_FALSE(on.stats.reconstruction_failed);
    EXPECT_LE(on.stats.reconstruction_error, 1e-6);
    EXPECT_NEAR(on.loss, fd.loss, tol * fd.loss);
  }
}

// z' = A z, A = [[−λ, λ], [−1, 0]], λ = 30: eigenvalues ≈ −1.04 and −29.0, so z decays slowly
// while the backward reconstruction amplifies errors like e^{29 (t_i − t)}: ≈ e^{58} ≈ 1e25 over
// [0, 2] but only ≈ 18 over one observation interval of 0.1. 20
// observations, MSE against fixed targets.
OdeProblem RelaxingProblem() {
  Matrix a(2, 2);
  a << -30.0, 30.0, -1.0, 0.0;
  OdeProblem problem;
  problem.field = std::make_shared<LinearField>(2);
  problem.z0 = (Vector(2) << 1.0, 0.5).finished();
  problem.theta = LinearField::ParamsFromMatrix(a);
  for (int i = 1; i <= 20; ++i) problem.output_times.push_back(0.1 * i);
  return problem;
}

TEST(BacksolveAdjoint, CheckpointsRescueAReconstructionThatFailsWithout) {
  REQUIRE_INTEGRATOR("dopri5");
  const OdeProblem problem = RelaxingProblem();
  const MseLoss loss = TargetsAtTimes(problem.output_times.size());
  const GradientOptions reference_options = Options("dopri5", 1e-10, 1e-12);
  const LossAndGradient fd = CentralDifferenceGradient(problem, loss, reference_options);
  const LossAndGradient bptt =
      GradientRegistry().Create("bptt", reference_options)->Compute(problem, loss);
  ASSERT_LE(MaxRelativeError(bptt.dtheta, fd.dtheta), 1e-5);
  for (const BackwardPath& path : kBackwardPaths) {
    if (!HaveIntegrator(path.forward) ||
        (path.backward[0] != '\0' && !HaveIntegrator(path.backward)))
      continue;
    SCOPED_TRACE(path.label);
    const LossAndGradient on =
        BacksolveAdjoint(PathOptions(path, 1e-10, 1e-12), PathBacksolveOptions(path, true))
            .Compute(problem, loss);
    const LossAndGradient off =
        BacksolveAdjoint(PathOptions(path, 1e-10, 1e-12), PathBacksolveOptions(path, false))
            .Compute(problem, loss);
    const double on_error = MaxRelativeError(on.dtheta, fd.dtheta);
    const double off_error = MaxRelativeError(off.dtheta, fd.dtheta);
    std::printf(
        "relaxing lambda=30, 20 outputs, %s: checkpoints off: reconstruction error "
        "%.2e, dL/dtheta vs FD %.2e; on: reconstruction error %.2e, dL/dtheta vs FD %.2e, "
        "vs bptt %.2e, dL/dz0 vs FD %.2e\n",
        path.label, off.stats.reconstruction_error, off_error, on.stats.reconstruction_error,
        on_error, MaxRelativeError(on.dtheta, bptt.dtheta), MaxRelativeError(on.dz0, fd.dz0));
    // Without checkpoints: z(t0) is lost, flagged, and the gradient is wrong (or NaN).
    EXPECT_TRUE(off.stats.reconstruction_failed);
    EXPECT_TRUE(std::isnan(off.stats.reconstruction_error) || off.stats.reconstruction_error > 1.0);
    EXPECT_TRUE(!off.dtheta.allFinite() || off_error > 1e-2) << off_error;
    // With them: reconstructed to the solver tolerance and the gradient is right.
    const double tol = PathTolerance(path);
    EXPECT_FALSE(on.stats.reconstruction_failed);
    EXPECT_LE(on.stats.reconstruction_error, tol);
    EXPECT_LE(on_error, tol);
    EXPECT_LE(MaxRelativeError(on.dtheta, bptt.dtheta), tol);
    EXPECT_LE(MaxRelativeError(on.dz0, fd.dz0), tol);
  }
}

TEST(BacksolveAdjoint, CheckpointReconstructionErrorIsTheWorstInterval) {
  REQUIRE_INTEGRATOR("dopri5");
  // One long interval: with observations at {0.1, 2} the mismatch measured at t = 0.1 (after an
  // e^{29·1.9} ≈ 1e24 amplification) is flagged, although z(t0) itself is then reconstructed
  // from the stored z(0.1) to the solver tolerance.
  OdeProblem problem = RelaxingProblem();
  problem.output_times = {0.1, 2.0};
  const MseLoss loss = TargetsAtTimes(2);
  const LossAndGradient result =
      BacksolveAdjoint(Options("dopri5", 1e-10, 1e-12)).Compute(problem, loss);
  std::printf("relaxing, outputs {0.1, 2}, checkpoints on: reconstruction error %.2e\n",
              result.stats.reconstruction_error);
  EXPECT_TRUE(result.stats.reconstruction_failed);
  EXPECT_TRUE(std::isnan(result.stats.reconstruction_error) ||
              result.stats.reconstruction_error > 1.0);
}

// Steady-state allocations with checkpoints (pattern of
// tests/adjoint/gradient_allocation_test.cpp): after a warm-up, a Compute() on an MLP 2-32-32-2
// problem with 5 outputs allocates exactly as often when it takes many steps (horizon 20,
// tolerances 100 times tighter) as when it takes few (horizon 0.5), on the quadrature and the
// augmented path: 0 operator-new calls per step or checkpoint reset.
TEST(BacksolveAdjoint, CheckpointedBackwardPassDoesNotAllocateInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  REQUIRE_INTEGRATOR("dopri5");
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  OdeProblem problems[2];
  for (int k = 0; k < 2; ++k) {
    problems[k].field = field;
    problems[k].theta = field->InitialParams(5);
    problems[k].z0 = (Vector(2) << 1.0, -0.5).finished();
    const double horizon = k == 0 ? 0.5 : 20.0;
    for (int i = 1; i <= 5; ++i) problems[k].output_times.push_back(horizon * i / 5);
  }
  const MseLoss loss = TargetsAtTimes(5);
  test_util::NewCounter counter;
  for (const bool quadrature : {true, false}) {
    SCOPED_TRACE(quadrature ? "quadrature" : "augmented");
    std::unique_ptr<BacksolveAdjoint> methods[2];
    for (int k = 0; k < 2; ++k) {
      const GradientOptions options =
          Options("dopri5", k == 0 ? 1e-6 : 1e-9, k == 0 ? 1e-8 : 1e-11);
      BacksolveOptions backsolve;
      backsolve.quadrature = quadrature;
      methods[k] = std::make_unique<BacksolveAdjoint>(options, backsolve);
      methods[k]->Compute(problems[1], loss);  // warm-up, many-step problem first
      methods[k]->Compute(problems[0], loss);
    }
    long allocations[2], steps[2];
    std::vector<test_util::CallStack> stacks[2];
    for (int k = 0; k < 2; ++k) {
      counter.Start();
      {
        const LossAndGradient result = methods[k]->Compute(problems[k], loss);
        steps[k] = result.stats.forward_steps + result.stats.backward_steps;
        EXPECT_TRUE(result.dtheta.allFinite());
        EXPECT_FALSE(result.stats.reconstruction_failed);
      }
      allocations[k] = counter.Stop();
      stacks[k] = counter.Stacks();
    }
    if (allocations[1] != allocations[0]) {
      test_util::PrintExtraAllocations("backsolve checkpoints", stacks[1], stacks[0]);
    }
    std::printf("backsolve checkpoints %s: %ld steps -> %ld operator new; %ld steps -> %ld\n",
                quadrature ? "quadrature" : "augmented", steps[0], allocations[0], steps[1],
                allocations[1]);
    EXPECT_GT(steps[1], 4 * steps[0]);
    EXPECT_EQ(allocations[1], allocations[0]);
  }
}

TEST(BacksolveAdjoint, BadOptionsAreRejected) {
  GradientOptions options;
  options.integrator = "no_such_integrator";
  EXPECT_THROW(BacksolveAdjoint{options}, ConfigError);
  if (!HaveIntegrator("dopri5")) return;
  options.integrator = "dopri5";
  options.backward_integrator = "no_such_integrator";
  EXPECT_THROW(BacksolveAdjoint{options}, ConfigError);
  options.backward_integrator.clear();
  BacksolveOptions zero_tolerance;
  zero_tolerance.reconstruction_tolerance = 0.0;
  EXPECT_THROW((BacksolveAdjoint{options, zero_tolerance}), ConfigError);
  options.integrator_options.rtol = -1.0;
  EXPECT_THROW(BacksolveAdjoint{options}, ConfigError);
  options.integrator_options.rtol = 1e-6;
  options.backward_options = options.integrator_options;
  options.backward_options->atol = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(BacksolveAdjoint{options}, ConfigError);
}

TEST(BacksolveAdjoint, BadProblemIsRejected) {
  REQUIRE_INTEGRATOR("dopri5");
  BacksolveAdjoint method(Options("dopri5", 1e-6, 1e-8));
  OdeProblem problem = DecayOde(1.0);
  problem.theta = Vector::Zero(3);
  EXPECT_THROW(method.Compute(problem, DecayLoss()), ConfigError);
}

TEST(BacksolveAdjoint, IsRegistered) {
  ASSERT_TRUE(GradientRegistry().Contains("backsolve_adjoint"));
  if (!HaveIntegrator("dopri5")) return;
  auto method = GradientRegistry().Create("backsolve_adjoint", Options("dopri5", 1e-6, 1e-8));
  EXPECT_EQ(method->name(), "backsolve_adjoint");
}

}  // namespace
}  // namespace snode
