// Tests of the "bptt" gradient method: exactness for its own discrete map (central differences
// of the same map with the step sequence frozen), closed forms, the stiff W1b system, memory
// accounting, error messages and reuse.
#include "adjoint/bptt.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/decay.hpp"
#include "problems/lotka_volterra.hpp"
#include "tests/adjoint/plugin_integrators.hpp"
#include "tests/test_util/finite_difference_checks.hpp"
#include "tests/test_util/linear_test_problem.hpp"

namespace snode {
namespace {

using test_util::MaxRelativeError;

struct FrozenDifferences {
  Vector dtheta;
  Vector dz0;
};

// Central differences of L on a frozen step sequence, h_i = 1e-6·max(1, |x_i|).
FrozenDifferences FrozenCentralDifferences(Bptt& bptt, const OdeProblem& problem, const Loss& loss,
                                           const std::vector<double>& steps) {
  FrozenDifferences result;
  auto loss_at = [&](const OdeProblem& p) { return bptt.ComputeOnSteps(p, loss, steps).loss; };
  OdeProblem perturbed = problem;
  result.dtheta.resize(problem.theta.size());
  for (Index i = 0; i < problem.theta.size(); ++i) {
    const double h = 1e-6 * std::max(1.0, std::abs(problem.theta[i]));
    perturbed.theta[i] = problem.theta[i] + h;
    const double plus = loss_at(perturbed);
    perturbed.theta[i] = problem.theta[i] - h;
    const double minus = loss_at(perturbed);
    perturbed.theta[i] = problem.theta[i];
    result.dtheta[i] = (plus - minus) / (2.0 * h);
  }
  result.dz0.resize(problem.z0.size());
  for (Index j = 0; j < problem.z0.size(); ++j) {
    const double h = 1e-6 * std::max(1.0, std::abs(problem.z0[j]));
    perturbed.z0[j] = problem.z0[j] + h;
    const double plus = loss_at(perturbed);
    perturbed.z0[j] = problem.z0[j] - h;
    const double minus = loss_at(perturbed);
    perturbed.z0[j] = problem.z0[j];
    result.dz0[j] = (plus - minus) / (2.0 * h);
  }
  return result;
}

std::vector<double> Times(int count, double spacing) {
  std::vector<double> times;
  for (int i = 1; i <= count; ++i) times.push_back(spacing * i);
  return times;
}

OdeProblem LotkaVolterraProblem() {
  return problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), Times(5, 0.8));
}

OdeProblem LinearProblem() {
  // the first output is at t0
  return test_util::NonNormalLinearProblem({0.0, 0.5, 1.0, 1.5, 2.0});
}

OdeProblem MlpProblem(double horizon = 2.0) {
  MlpOptions options;
  options.widths = {2, 16, 16, 2};
  auto field = std::make_shared<MlpField>(options);
  OdeProblem problem;
  problem.theta = field->InitialParams(7);
  problem.field = field;
  problem.z0 = (Vector(2) << 0.5, -0.3).finished();
  problem.output_times = Times(10, horizon / 10.0);
  return problem;
}

MseLoss TargetsFor(const OdeProblem& problem) {
  std::vector<Vector> targets;
  for (std::size_t i = 0; i < problem.output_times.size(); ++i) {
    Vector target(problem.z0.size());
    for (Index j = 0; j < target.size(); ++j) {
      target[j] = 0.3 * std::sin(1.0 + problem.output_times[i] + static_cast<double>(j));
    }
    targets.push_back(target);
  }
  return MseLoss(targets);
}

struct Case {
  std::string label;
  std::string integrator;
  double fixed_step;
  std::string linear_solver;
  bool interpolate = false;  // outputs by the step's Hermite interpolant, not stop times
};

GradientOptions OptionsFor(const Case& c) {
  GradientOptions options;
  options.integrator = c.integrator;
  options.integrator_options.fixed_step = c.fixed_step;
  options.integrator_options.linear_solver = c.linear_solver;
  options.integrator_options.rtol = 1e-6;
  options.integrator_options.atol = 1e-8;
  options.integrator_options.interpolate_outputs = c.interpolate;
  return options;
}

const Case kCases[] = {
    {"euler", "euler", 0.02, "dense"},
    {"heun", "heun", 0.05, "dense"},
    {"heunAdaptive", "heun", 0.0, "dense"},
    {"rk4", "rk4", 0.05, "dense"},
    {"dopri5fixed", "dopri5", 0.1, "dense"},
    {"dopri5", "dopri5", 0.0, "dense"},
    {"backwardEulerDense", "backward_euler", 0.02, "dense"},
    {"backwardEulerGmres", "backward_euler", 0.02, "gmres"},
    {"sdirkFixed", "sdirk", 0.05, "dense"},
    {"sdirk", "sdirk", 0.0, "dense"},
    {"sdirkGmres", "sdirk", 0.0, "gmres"},
    {"dopri5Interpolated", "dopri5", 0.0, "dense", true},
    {"sdirkInterpolated", "sdirk", 0.0, "dense", true},
};

class BpttExactness : public ::testing::TestWithParam<Case> {};

void ExpectExactForDiscreteMap(const Case& c, const OdeProblem& problem, const Loss& loss) {
  Bptt bptt(OptionsFor(c));
  const std::vector<double> steps = bptt.StepTimes(problem);
  const LossAndGradient computed = bptt.Compute(problem, loss);
  const LossAndGradient frozen = bptt.ComputeOnSteps(problem, loss, steps);
  // Compute() and the frozen map are the same map; an adaptive explicit Compute() takes its stage
  // slopes from the recording solve, whose stage states differ from the replay's in round-off.
  EXPECT_NEAR(computed.loss, frozen.loss, 1e-13 * std::abs(frozen.loss));
  EXPECT_LE(MaxRelativeError(computed.dtheta, frozen.dtheta), 1e-11);
  const FrozenDifferences fd = FrozenCentralDifferences(bptt, problem, loss, steps);
  const double theta_error = MaxRelativeError(frozen.dtheta, fd.dtheta);
  const double z0_error = MaxRelativeError(frozen.dz0, fd.dz0);
  EXPECT_LE(theta_error, 1e-7) << c.label << " " << problem.field->name();
  EXPECT_LE(z0_error, 1e-7) << c.label << " " << problem.field->name();
  std::printf("[ bptt     ] %-20s %-22s steps %5zu  rel.err dL/dtheta %.2e  dL/dz0 %.2e\n",
              c.label.c_str(), problem.field->name().c_str(), steps.size() - 1, theta_error,
              z0_error);
}

TEST_P(BpttExactness, LotkaVolterraMatchesFrozenFiniteDifferences) {
  const OdeProblem problem = LotkaVolterraProblem();
  ExpectExactForDiscreteMap(GetParam(), problem, TargetsFor(problem));
}

TEST_P(BpttExactness, LinearFieldMatchesFrozenFiniteDifferences) {
  const OdeProblem problem = LinearProblem();
  ExpectExactForDiscreteMap(GetParam(), problem, TargetsFor(problem));
}

TEST_P(BpttExactness, MlpMatchesFrozenFiniteDifferences) {
  const OdeProblem problem = MlpProblem();
  ExpectExactForDiscreteMap(GetParam(), problem, TargetsFor(problem));
}

TEST_P(BpttExactness, RunningCostMatchesFrozenFiniteDifferences) {
  const OdeProblem problem = LotkaVolterraProblem();
  std::vector<Vector> weights(problem.output_times.size());
  weights.back() = (Vector(2) << 1.0, -0.5).finished();
  const LinearFunctionalLoss loss(weights, (Vector(2) << 0.3, 0.7).finished());
  ExpectExactForDiscreteMap(GetParam(), problem, loss);
}

// The forward states of the replay equal those of the registered integrator.
TEST_P(BpttExactness, ForwardStatesMatchRegisteredIntegrator) {
  const Case& c = GetParam();
  GradientOptions options = OptionsFor(c);
  // Tight Newton tolerances so that ARKODE's backward Euler solves its stage equation as
  // accurately as bptt's own Newton iteration.
  const bool implicit = c.integrator == "backward_euler" || c.integrator == "sdirk";
  if (implicit && c.fixed_step > 0.0) {
    options.integrator_options.rtol = 1e-13;
    options.integrator_options.atol = 1e-15;
  }
  for (const OdeProblem& problem : {LotkaVolterraProblem(), MlpProblem()}) {
    Bptt bptt(options);
    const LossAndGradient result = bptt.Compute(problem, TargetsFor(problem));
    auto integrator = IntegratorRegistry().Create(c.integrator, options.integrator_options);
    const Trajectory reference = integrator->Solve(problem);
    ASSERT_EQ(reference.states.size(), result.forward.states.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < reference.states.size(); ++i) {
      worst = std::max(worst, MaxRelativeError(result.forward.states[i], reference.states[i]));
    }
    // Adaptive sdirk: ARKStep solves its stages only to its Newton tolerance (0.1·rtol in the
    // WRMS norm), bptt to round-off, so the two agree to about rtol.
    // Interpolated outputs: the same Hermite cubic as ARKODE's degree-3 dense output, evaluated
    // in a different order of operations.
    const double bound = !implicit            ? (c.interpolate ? 1e-12 : 1e-13)
                         : c.fixed_step > 0.0 ? 1e-10
                                              : 1e-5;
    EXPECT_LE(worst, bound) << c.label << " " << problem.field->name();
    std::printf("[ bptt     ] %-20s %-22s forward states vs registered integrator: %.2e\n",
                c.label.c_str(), problem.field->name().c_str(), worst);
  }
}

INSTANTIATE_TEST_SUITE_P(All, BpttExactness, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.label; });

// dy/dt = −λy, y0 = 1, L = y(1): dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}.
TEST(Bptt, DecayMatchesClosedFormWithTightDopri5) {
  for (const double lambda : {1.0, 10.0}) {
    const OdeProblem problem = problems::DecayOde(lambda);
    const auto loss = problems::DecayLoss();
    GradientOptions options;
    options.integrator = "dopri5";
    options.integrator_options.rtol = 1e-10;
    options.integrator_options.atol = 1e-12;
    Bptt bptt(options);
    const LossAndGradient result = bptt.Compute(problem, loss);
    const double exact = std::exp(-lambda);
    EXPECT_NEAR(result.loss / exact, 1.0, 1e-6);
    EXPECT_NEAR(result.dtheta[0] / -exact, 1.0, 1e-6) << "lambda " << lambda;
    EXPECT_NEAR(result.dz0[0] / exact, 1.0, 1e-6) << "lambda " << lambda;
    std::printf(
        "[ bptt     ] decay lambda %4.0f: dL/dlambda rel.err %.2e, dL/dy0 rel.err %.2e, "
        "%ld steps\n",
        lambda, std::abs(result.dtheta[0] / -exact - 1.0), std::abs(result.dz0[0] / exact - 1.0),
        result.stats.forward_steps);
  }
}

// W1b: z' = diag(−1, −λ) z, λ = 1e4, z0 = (1, 1), L = Σ_t (z1 + z2) at t ∈ {1e-3, 1e-2, 1e-1, 1}.
// The backward-Euler map is z_i(t_k) = Π_{n<N_k} (1 + h_n θ_i)^{-1}, so exactly
//   dL/dθ_i = −Σ_k z_i(t_k) Σ_{n<N_k} h_n / (1 + h_n θ_i),   dL/dz0_i = Σ_k z_i(t_k) / z0_i.
TEST(Bptt, StiffTwoModeBackwardEulerMatchesExactDiscreteGradient) {
  for (const std::string solver : {"dense", "gmres"}) {
    const OdeProblem problem = problems::TwoRateDecayOde(1e4);
    const auto loss = problems::TwoRateDecayLoss();
    GradientOptions options;
    options.integrator = "backward_euler";
    options.integrator_options.fixed_step = 1e-5;
    options.integrator_options.linear_solver = solver;
    Bptt bptt(options);
    const std::vector<double> steps = bptt.StepTimes(problem);
    const LossAndGradient result = bptt.Compute(problem, loss);

    Vector dtheta = Vector::Zero(2), dz0 = Vector::Zero(2);
    double exact_loss = 0.0;
    for (Index i = 0; i < 2; ++i) {
      double z = 1.0, sum = 0.0;
      std::size_t k = 0;
      for (std::size_t n = 0; n + 1 < steps.size(); ++n) {
        const double h = steps[n + 1] - steps[n];
        z /= 1.0 + h * problem.theta[i];
        sum += h / (1.0 + h * problem.theta[i]);
        if (steps[n + 1] == problem.output_times[k]) {
          exact_loss += z;
          dtheta[i] -= z * sum;
          dz0[i] += z;
          ++k;
        }
      }
      ASSERT_EQ(k, problem.output_times.size());
    }
    EXPECT_NEAR(result.loss / exact_loss, 1.0, 1e-10);
    EXPECT_TRUE(test_util::VectorsClose(result.dtheta, dtheta, 1e-7, 0.0)) << solver;
    EXPECT_TRUE(test_util::VectorsClose(result.dz0, dz0, 1e-7, 0.0)) << solver;
    const Vector rel_theta = ((result.dtheta - dtheta).array() / dtheta.array()).abs();
    std::printf(
        "[ bptt     ] W1b backward_euler h=1e-5 (%s): %ld steps, %.3f s, dL/dtheta2 = "
        "%.6e (exact discrete %.6e), rel.err (%.1e, %.1e)\n",
        solver.c_str(), result.stats.forward_steps, result.stats.wall_seconds, result.dtheta[1],
        dtheta[1], rel_theta[0], rel_theta[1]);
  }
}

// Stored bytes grow with the number of steps: horizon 10T stores ≈ (steps ratio) × as much.
TEST(Bptt, StoredBytesGrowWithNumberOfSteps) {
  GradientOptions options;
  options.integrator = "dopri5";
  Bptt bptt(options);
  const OdeProblem short_problem = MlpProblem(2.0);
  const OdeProblem long_problem = MlpProblem(20.0);
  const LossAndGradient short_result = bptt.Compute(short_problem, TargetsFor(short_problem));
  const LossAndGradient long_result = bptt.Compute(long_problem, TargetsFor(long_problem));
  const double steps_ratio = static_cast<double>(long_result.stats.forward_steps) /
                             static_cast<double>(short_result.stats.forward_steps);
  const double bytes_ratio = long_result.stats.stored_bytes / short_result.stats.stored_bytes;
  EXPECT_NEAR(bytes_ratio / steps_ratio, 1.0, 0.05);
  // DP5: z_n plus 5 of 7 stage states per step (the FSAL stage has b = 0 and is not needed), and
  // the recording solve's f calls: t, z, f and the MLP's saved hidden activations (16 + 16).
  const double n = 2.0, steps = static_cast<double>(long_result.stats.forward_steps);
  const double calls = static_cast<double>(long_result.stats.forward_rhs_evals);
  EXPECT_EQ(long_result.stats.stored_bytes,
            ((steps + 1.0) + 5.0 * steps) * n * 8.0 + calls * (1.0 + 2.0 * n + 32.0) * 8.0);
  std::printf(
      "[ bptt     ] MLP dopri5 horizon T=2: %ld steps %.0f bytes; 10T: %ld steps %.0f "
      "bytes; ratio %.2f (steps ratio %.2f)\n",
      short_result.stats.forward_steps, short_result.stats.stored_bytes,
      long_result.stats.forward_steps, long_result.stats.stored_bytes, bytes_ratio, steps_ratio);
}

// The same on Lotka–Volterra, whose oscillation keeps the step size bounded, so 10T takes about
// ten times as many steps (the MLP above settles towards an equilibrium and its steps grow).
TEST(Bptt, StoredBytesScaleWithHorizonOnOscillator) {
  GradientOptions options;
  options.integrator = "dopri5";
  Bptt bptt(options);
  OdeProblem short_problem = LotkaVolterraProblem();
  short_problem.output_times = Times(10, 0.2);
  OdeProblem long_problem = short_problem;
  long_problem.output_times = Times(10, 2.0);
  const LossAndGradient short_result = bptt.Compute(short_problem, TargetsFor(short_problem));
  const LossAndGradient long_result = bptt.Compute(long_problem, TargetsFor(long_problem));
  const double steps_ratio = static_cast<double>(long_result.stats.forward_steps) /
                             static_cast<double>(short_result.stats.forward_steps);
  const double calls_ratio = static_cast<double>(long_result.stats.forward_rhs_evals) /
                             static_cast<double>(short_result.stats.forward_rhs_evals);
  const double bytes_ratio = long_result.stats.stored_bytes / short_result.stats.stored_bytes;
  EXPECT_GT(steps_ratio, 5.0);
  // The bytes are the trajectory (per step) plus the recorded f calls (rejected attempts
  // included), so their ratio lies between the two.
  EXPECT_GE(bytes_ratio, 0.98 * std::min(steps_ratio, calls_ratio));
  EXPECT_LE(bytes_ratio, 1.02 * std::max(steps_ratio, calls_ratio));
  std::printf(
      "[ bptt     ] LV dopri5 horizon T=2: %ld steps %.0f bytes; 10T: %ld steps %.0f "
      "bytes; ratio %.2f (steps ratio %.2f)\n",
      short_result.stats.forward_steps, short_result.stats.stored_bytes,
      long_result.stats.forward_steps, long_result.stats.stored_bytes, bytes_ratio, steps_ratio);
}

// Independent closed forms of the fixed-step maps on y' = −λy: y_N = R(−λh)^N with the
// stability function of each method (classic RK4: 1 + z + z²/2 + z³/6 + z⁴/24).
TEST(Bptt, FixedStepForwardMatchesStabilityFunctions) {
  const double lambda = 2.0, h = 0.1;
  const double z = -lambda * h;
  const struct {
    const char* integrator;
    double r;
  } methods[] = {{"euler", 1.0 + z},
                 {"heun", 1.0 + z + z * z / 2.0},
                 {"rk4", 1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0},
                 {"backward_euler", 1.0 / (1.0 - z)}};
  for (const auto& method : methods) {
    const OdeProblem problem = problems::DecayOde(lambda, {0.5, 1.0});
    GradientOptions options;
    options.integrator = method.integrator;
    options.integrator_options.fixed_step = h;
    Bptt bptt(options);
    const LossAndGradient result =
        bptt.Compute(problem, LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 2));
    EXPECT_NEAR(result.loss / std::pow(method.r, 10), 1.0, 1e-13) << method.integrator;
    EXPECT_EQ(result.stats.forward_steps, 10) << method.integrator;
  }
}

TEST(Bptt, RejectsUnsupportedIntegrator) {
  GradientOptions options;
  options.integrator = "epi2";
  try {
    Bptt bptt(options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message,
              "gradient 'bptt' needs an integrator that declares its Butcher tableau; 'epi2' "
              "does not");
  }
  options.integrator = "rk4";  // no error estimator: needs a fixed step
  EXPECT_THROW(Bptt bptt(options), ConfigError);
}

// Interpolated outputs need the last stage's slope at the new state: heun's last stage is at
// t + h but at z + h·k1, so replaying its Hermite interpolant would use the wrong slope.
TEST(Bptt, InterpolatedOutputsNeedTheLastStageAtTheNewState) {
  GradientOptions options;
  options.integrator = "heun";
  options.integrator_options.interpolate_outputs = true;
  try {
    Bptt bptt(options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("whose last stage is the new state"),
              std::string::npos)
        << error.what();
  }
  options.integrator = "dopri5";  // FSAL: accepted
  EXPECT_NO_THROW(Bptt bptt(options));
}

// A plug-in under its own name that declares its tableau (Heun's, wrapping the built-in) is
// replayed like a built-in: the loss is the plug-in's own solve and the gradient matches central
// differences of the plug-in's map (through the registry). Fixed step: the map itself; adaptive:
// the map on the recorded (frozen) steps.
TEST(Bptt, PluginThatDeclaresItsTableauMatchesCentralDifferences) {
  GradientOptions options;
  options.integrator = test_plugins::HeunWithTableau();
  options.integrator_options.fixed_step = 0.01;
  const OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = TargetsFor(problem);
  Bptt bptt(options);
  const LossAndGradient result = bptt.Compute(problem, loss);
  const LossAndGradient fd = CentralDifferenceGradient(problem, loss, options);
  EXPECT_NEAR(result.loss, fd.loss, 1e-12 * std::abs(fd.loss));
  EXPECT_LE(MaxRelativeError(result.dtheta, fd.dtheta), 1e-6);
  EXPECT_LE(MaxRelativeError(result.dz0, fd.dz0), 1e-6);

  options.integrator_options.fixed_step = 0.0;
  options.integrator_options.rtol = 1e-6;
  options.integrator_options.atol = 1e-8;
  Bptt adaptive(options);
  const LossAndGradient replayed = adaptive.Compute(problem, loss);
  const LossAndGradient solved = CentralDifferenceGradient(problem, loss, options);
  EXPECT_NEAR(replayed.loss, solved.loss, 1e-10 * std::abs(solved.loss));
  const std::vector<double> steps = adaptive.StepTimes(problem);
  EXPECT_GT(steps.size(), problem.output_times.size() + 1);
  const FrozenDifferences frozen = FrozenCentralDifferences(adaptive, problem, loss, steps);
  EXPECT_LE(MaxRelativeError(replayed.dtheta, frozen.dtheta), 1e-6);
  EXPECT_LE(MaxRelativeError(replayed.dz0, frozen.dz0), 1e-6);
}

TEST(Bptt, PluginWithoutTableauIsRefusedByName) {
  GradientOptions options;
  options.integrator = test_plugins::Dopri5WithoutDeclarations();
  try {
    Bptt bptt(options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              "gradient 'bptt' needs an integrator that declares its Butcher tableau; "
              "'plugin_undeclared' does not");
  }
}

TEST(Bptt, RecordingSolveWithoutStepTimesIsAClearError) {
  GradientOptions options;
  options.integrator = test_plugins::Dopri5LosingSteps();
  Bptt bptt(options);
  const OdeProblem problem = LotkaVolterraProblem();
  try {
    bptt.Compute(problem, TargetsFor(problem));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("integrator 'plugin_losing_steps' returned no step times from its "
                        "recording solve"),
              std::string::npos)
        << error.what();
  }
}

TEST(Bptt, MemoryGuardRefusesWithEstimate) {
  const OdeProblem problem = LotkaVolterraProblem();
  for (const double fixed_step : {1e-3, 0.0}) {
    GradientOptions options;
    options.integrator = fixed_step > 0.0 ? "rk4" : "dopri5";
    options.integrator_options.fixed_step = fixed_step;
    Bptt bptt(options, BpttOptions{1000.0});
    try {
      bptt.Compute(problem, TargetsFor(problem));
      FAIL() << "expected ConfigError";
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("bptt would store "), std::string::npos) << message;
      EXPECT_NE(message.find("(> limit 1.0 kB)"), std::string::npos) << message;
      EXPECT_NE(message.find("use cvodes_adjoint or raise max_trajectory_bytes"), std::string::npos)
          << message;
    }
  }
  // 4000 rk4 steps of a 2-state system: (4001 + 3·4000)·2·8 bytes = 256 kB.
  GradientOptions options;
  options.integrator = "rk4";
  options.integrator_options.fixed_step = 1e-3;
  try {
    Bptt(options, BpttOptions{1000.0}).Compute(problem, TargetsFor(problem));
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("bptt would store 256.0 kB of trajectory (> limit "
                        "1.0 kB); use cvodes_adjoint or raise "
                        "max_trajectory_bytes (4000 steps"),
              std::string::npos)
        << error.what();
  }
}

TEST(Bptt, RepeatedComputeMatchesFreshObject) {
  for (const char* integrator : {"dopri5", "backward_euler"}) {
    GradientOptions options;
    options.integrator = integrator;
    if (std::string(integrator) == "backward_euler") options.integrator_options.fixed_step = 0.05;
    OdeProblem problem = MlpProblem();
    const MseLoss loss = TargetsFor(problem);
    Bptt reused(options);
    reused.Compute(problem, loss);
    problem.theta *= 1.1;
    problem.z0[0] += 0.2;
    const LossAndGradient again = reused.Compute(problem, loss);
    Bptt fresh(options);
    const LossAndGradient expected = fresh.Compute(problem, loss);
    EXPECT_EQ(again.loss, expected.loss) << integrator;
    EXPECT_EQ(again.dtheta, expected.dtheta) << integrator;
    EXPECT_EQ(again.dz0, expected.dz0) << integrator;
    EXPECT_EQ(again.stats.forward_steps, expected.stats.forward_steps) << integrator;
  }
}

TEST(Bptt, IsRegisteredAndReportsStatistics) {
  GradientOptions options;
  options.integrator = "dopri5";
  auto method = GradientRegistry().Create("bptt", options);
  EXPECT_EQ(method->name(), "bptt");
  const OdeProblem problem = MlpProblem();
  const LossAndGradient result = method->Compute(problem, TargetsFor(problem));
  const GradientStats& stats = result.stats;
  EXPECT_GT(stats.forward_steps, 0);
  // The recording solve: 6 f per DP step (FSAL) + 1 at least; the replay takes its stage slopes.
  EXPECT_GE(stats.forward_rhs_evals, 6 * stats.forward_steps + 1);
  EXPECT_EQ(stats.vjp_evals, 6 * stats.forward_steps);  // stages with b ≠ 0 or needed: 6 of 7
  EXPECT_EQ(stats.backward_rhs_evals, 0);
  EXPECT_GT(stats.stored_bytes, 0.0);
  EXPECT_GT(stats.wall_seconds, 0.0);
  EXPECT_EQ(result.forward.states.size(), problem.output_times.size());
}

// Adaptive explicit methods: the replay takes every stage slope from the recording solve's f
// calls, so the gradient costs the integrator's own evaluations and no more.
TEST(Bptt, ReplayTakesStageSlopesFromTheRecordingSolve) {
  for (const bool interpolate : {false, true}) {
    GradientOptions options;
    options.integrator = "dopri5";
    options.integrator_options.interpolate_outputs = interpolate;
    const OdeProblem problem = MlpProblem(5.0);
    const LossAndGradient result = Bptt(options).Compute(problem, TargetsFor(problem));
    IntegratorOptions recording = options.integrator_options;
    recording.record_steps = true;
    const Trajectory alone = IntegratorRegistry().Create("dopri5", recording)->Solve(problem);
    EXPECT_EQ(result.stats.forward_rhs_evals, alone.stats.rhs_evals) << interpolate;
    EXPECT_EQ(result.stats.forward_steps, alone.stats.steps) << interpolate;
  }
}

// An MLP that counts its plain and saved products and can hide its saved forward pass.
class CountingMlp final : public ForwardingField {
 public:
  CountingMlp(MlpOptions options, bool offer_saving)
      : mlp_(std::move(options)), offer_saving_(offer_saving) {
    Bind(&mlp_);
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    ++plain_vjps;
    mlp_.VjpState(t, z, theta, a, out);
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    ++plain_vjps;
    mlp_.VjpParams(t, z, theta, a, grad);
  }
  void Vjp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a, VectorRef a_state,
           VectorRef grad) override {
    ++plain_vjps;
    mlp_.Vjp(t, z, theta, a, a_state, grad);
  }
  Index ForwardSaveSize() const override { return offer_saving_ ? mlp_.ForwardSaveSize() : 0; }
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double* saved,
                ConstVectorRef a, VectorRef a_state, VectorRef grad) override {
    ++saved_vjps;
    mlp_.VjpSaved(t, z, theta, saved, a, a_state, grad);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<CountingMlp>(mlp_.options(), offer_saving_);
  }
  long plain_vjps = 0, saved_vjps = 0;

 private:
  MlpField mlp_;
  bool offer_saving_;
};

// With a field that saves its forward passes, every stage VJP reuses a saved pass (adaptive: the
// recording solve's; fixed step: the replay's own) instead of recomputing it, with the same
// gradient; without room for the saved passes the VJPs recompute them.
TEST(Bptt, StageVjpsReuseSavedForwardPasses) {
  MlpOptions options;
  options.widths = {2, 16, 16, 2};
  options.time_input = true;
  options.batch = 3;
  struct Config {
    const char* integrator;
    double fixed_step;
    bool room;  // max_trajectory_bytes leaves room for the saved passes
  };
  for (const Config config : {Config{"dopri5", 0.0, true}, Config{"rk4", 0.05, true},
                              Config{"dopri5", 0.1, true}, Config{"rk4", 0.05, false}}) {
    GradientOptions gradient;
    gradient.integrator = config.integrator;
    gradient.integrator_options.fixed_step = config.fixed_step;
    BpttOptions memory;
    if (!config.room) {
      // rk4: z_n and 3 stage states per step, 10 steps of 0.05 over [0, 0.5], n = 6.
      memory.max_trajectory_bytes = (11.0 + 3.0 * 10.0) * 6.0 * 8.0;
    }
    LossAndGradient results[2];
    for (const bool saving : {false, true}) {
      auto field = std::make_shared<CountingMlp>(options, saving);
      OdeProblem problem;
      problem.field = field;
      problem.theta = MlpField(options).InitialParams(7);
      problem.z0 = (Vector(6) << 0.5, -0.3, 0.1, 0.2, -0.4, 0.6).finished();
      problem.output_times = Times(10, 0.05);
      const LossAndGradient result = Bptt(gradient, memory).Compute(problem, TargetsFor(problem));
      const bool reused = saving && config.room;
      EXPECT_GT(result.stats.vjp_evals, 0);
      EXPECT_EQ(field->saved_vjps, reused ? result.stats.vjp_evals : 0) << config.integrator;
      EXPECT_EQ(field->plain_vjps, reused ? 0 : result.stats.vjp_evals) << config.integrator;
      results[saving ? 1 : 0] = result;
    }
    EXPECT_LE(MaxRelativeError(results[1].dtheta, results[0].dtheta), 1e-12) << config.integrator;
    EXPECT_LE(MaxRelativeError(results[1].dz0, results[0].dz0), 1e-12) << config.integrator;
  }
}

// The recorded f calls count against max_trajectory_bytes: past it the replay evaluates the
// remaining stages itself, with the same result.
TEST(Bptt, RecordOverMemoryLimitFallsBackToEvaluation) {
  GradientOptions options;
  options.integrator = "dopri5";
  const OdeProblem problem = MlpProblem(5.0);
  const MseLoss loss = TargetsFor(problem);
  const LossAndGradient unlimited = Bptt(options).Compute(problem, loss);
  // Room for the trajectory (DP5: z_n and 5 stage states per step) but not for the record.
  const double steps = static_cast<double>(unlimited.stats.forward_steps);
  const BpttOptions record_limit{((steps + 1.0) + 5.0 * steps) * 2.0 * 8.0};
  const LossAndGradient limited = Bptt(options, record_limit).Compute(problem, loss);
  EXPECT_GT(limited.stats.forward_rhs_evals, unlimited.stats.forward_rhs_evals);
  EXPECT_EQ(limited.stats.forward_steps, unlimited.stats.forward_steps);
  EXPECT_NEAR(limited.loss, unlimited.loss, 1e-13 * std::abs(unlimited.loss));
  EXPECT_LE(MaxRelativeError(limited.dtheta, unlimited.dtheta), 1e-11);
  EXPECT_LE(MaxRelativeError(limited.dz0, unlimited.dz0), 1e-11);
}

}  // namespace
}  // namespace snode
