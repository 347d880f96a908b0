// Tests of the preconditioned Krylov solvers of the SUNDIALS integrators (cvodes_bdf, sdirk):
// IntegratorOptions::preconditioner and linear_solver "fgmres", agreement with unpreconditioned
// and dense solves, Krylov iterations per Newton iteration with an exact preconditioner, the sign
// of γ, the band preconditioner, the dense size limit, and the trampolines' time sign.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "core/callbacks.hpp"
#include "core/errors.hpp"
#include "core/nvector.hpp"
#include "core/sundials_context.hpp"
#include "integrators/integrator.hpp"
#include "testing/advection_diffusion_field.hpp"

namespace snode {
namespace {

using testfields::AdvectionDiffusionField;
using testfields::LinearDecayField;

// n = 100, D = 0.5: |λ|max ≈ 4D/dx² = 2e4 on t ∈ [0, 1].
AdvectionDiffusionField::Config StiffConfig() {
  AdvectionDiffusionField::Config config;
  config.n = 100;
  config.diffusion = 0.5;
  config.velocity = 1.0;
  return config;
}

OdeProblem Problem(const AdvectionDiffusionField::Config& config) {
  return testfields::AdvectionDiffusionProblem(config);
}

IntegratorOptions Options(const std::string& linear_solver, const std::string& preconditioner,
                          double rtol = 1e-9) {
  IntegratorOptions options;
  options.rtol = rtol;
  options.atol = rtol * 1e-2;
  options.linear_solver = linear_solver;
  options.preconditioner = preconditioner;
  return options;
}

Trajectory Solve(const std::string& integrator, const IntegratorOptions& options,
                 const OdeProblem& problem) {
  return IntegratorRegistry().Create(integrator, options)->Solve(problem);
}

double MaxDifference(const Trajectory& a, const Trajectory& b) {
  double difference = 0.0;
  for (std::size_t k = 0; k < a.states.size(); ++k) {
    difference = std::max(difference, (a.states[k] - b.states[k]).cwiseAbs().maxCoeff());
  }
  return difference;
}

double KrylovPerNewton(const IntegratorStats& stats) {
  return static_cast<double>(stats.linear_iters) / static_cast<double>(stats.nonlinear_iters);
}

void ExpectFewKrylovIterations(const std::string& integrator, const std::string& krylov,
                               const OdeProblem& problem);

class PreconditionedSolve : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
};

// Agreement with the dense solve, and the exact preconditioner's iteration counts.
TEST_P(PreconditionedSolve, AgreesAndNeedsAboutOneKrylovIterationPerNewton) {
  const auto& [integrator, krylov] = GetParam();
  const OdeProblem problem = Problem(StiffConfig());
  const Trajectory dense = Solve(integrator, Options("dense", "auto"), problem);
  const Trajectory plain = Solve(integrator, Options(krylov, "none"), problem);
  const Trajectory field = Solve(integrator, Options(krylov, "field"), problem);
  const Trajectory automatic = Solve(integrator, Options(krylov, "auto"), problem);
  // Each solve is within its tolerance (rtol 1e-9, |z| ≤ 3) of the exact solution.
  EXPECT_LT(MaxDifference(field, dense), 2e-7) << integrator << " " << krylov;
  EXPECT_LT(MaxDifference(plain, dense), 2e-7) << integrator << " " << krylov;
  EXPECT_EQ(MaxDifference(field, automatic), 0.0);  // auto takes the field's
  ExpectFewKrylovIterations(integrator, krylov, problem);
}

// At rtol 1e-6 the steps are long (γ|λ| ≫ 1): without a preconditioner GMRES needs many
// iterations, with the exact one about one per Newton iteration.
void ExpectFewKrylovIterations(const std::string& integrator, const std::string& krylov,
                               const OdeProblem& problem) {
  const Trajectory plain = Solve(integrator, Options(krylov, "none", 1e-6), problem);
  const Trajectory field = Solve(integrator, Options(krylov, "field", 1e-6), problem);
  EXPECT_EQ(plain.stats.preconditioner_setups, 0);
  EXPECT_GT(field.stats.preconditioner_setups, 0);
  EXPECT_GE(field.stats.preconditioner_solves, field.stats.linear_iters);
  ASSERT_GT(field.stats.nonlinear_iters, 0);
  const double with = KrylovPerNewton(field.stats);
  const double without = KrylovPerNewton(plain.stats);
  // SUNDIALS reuses a set-up while γ moves by less than 20–30% (and ARKODE across the stages
  // of a step), so somewhat above 1.
  EXPECT_LT(with, 2.2) << integrator << " " << krylov;
  std::printf("%s %s: Krylov iterations per Newton iteration %.3f (none: %.3f)\n",
              integrator.c_str(), krylov.c_str(), with, without);
  EXPECT_GT(without, 4.0 * with) << integrator << " " << krylov;
}

// A wrong sign of γ in the preconditioner (I + γJ instead of I − γJ) costs many Krylov
// iterations: the bound above would catch such a sign error in the trampolines.
TEST_P(PreconditionedSolve, WrongGammaSignIsCostly) {
  const auto& [integrator, krylov] = GetParam();
  AdvectionDiffusionField::Config config = StiffConfig();
  config.gamma_sign = -1.0;
  const OdeProblem problem = Problem(config);
  IntegratorOptions options = Options(krylov, "field", 1e-6);
  options.max_steps = 20000;
  try {
    const Trajectory wrong = Solve(integrator, options, problem);
    EXPECT_GT(KrylovPerNewton(wrong.stats), 3.0) << integrator << " " << krylov;
    std::printf("%s %s: wrong sign of gamma: %.3f Krylov iterations per Newton iteration\n",
                integrator.c_str(), krylov.c_str(), KrylovPerNewton(wrong.stats));
  } catch (const SundialsError&) {
    SUCCEED() << "a wrong sign may also make the solve fail";
  }
}

INSTANTIATE_TEST_SUITE_P(Solvers, PreconditionedSolve,
                         ::testing::Combine(::testing::Values("cvodes_bdf", "sdirk"),
                                            ::testing::Values("gmres", "fgmres")));

TEST(Preconditioner, BandOnABandedFieldAgreesAndConverges) {
  AdvectionDiffusionField::Config config = StiffConfig();
  config.periodic = false;  // tridiagonal: half-bandwidth 1
  const OdeProblem problem = Problem(config);
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    const Trajectory dense = Solve(integrator, Options("dense", "none"), problem);
    const Trajectory band = Solve(integrator, Options("gmres", "band"), problem);
    EXPECT_LT(MaxDifference(band, dense), 2e-7) << integrator;
    const Trajectory loose = Solve(integrator, Options("gmres", "band", 1e-6), problem);
    const Trajectory plain = Solve(integrator, Options("gmres", "none", 1e-6), problem);
    EXPECT_GT(band.stats.preconditioner_setups, 0) << integrator;
    EXPECT_LT(KrylovPerNewton(loose.stats), 2.2) << integrator;
    EXPECT_GT(KrylovPerNewton(plain.stats), 4.0 * KrylovPerNewton(loose.stats)) << integrator;
    // The field's preconditioner is not called.
    EXPECT_EQ(static_cast<const AdvectionDiffusionField&>(*problem.field).counts().setups, 0);
  }
}

TEST(Preconditioner, BandWithoutDeclaredBandwidthIsAConfigError) {
  const OdeProblem problem = Problem(StiffConfig());  // periodic: no half-bandwidth declared
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    try {
      Solve(integrator, Options("gmres", "band"), problem);
      FAIL() << integrator << ": expected ConfigError";
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("preconditioner 'band'"), std::string::npos) << message;
      EXPECT_NE(message.find("advection_diffusion"), std::string::npos) << message;
    }
  }
}

TEST(Preconditioner, FieldWithoutOneIsAConfigErrorAndAutoRunsWithout) {
  AdvectionDiffusionField::Config config = StiffConfig();
  config.offers_preconditioner = false;
  const OdeProblem problem = Problem(config);
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    try {
      Solve(integrator, Options("gmres", "field"), problem);
      FAIL() << integrator << ": expected ConfigError";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("preconditioner 'field'"), std::string::npos)
          << error.what();
    }
    const Trajectory automatic = Solve(integrator, Options("gmres", "auto"), problem);
    EXPECT_EQ(automatic.stats.preconditioner_setups, 0);
    EXPECT_GT(automatic.stats.linear_iters, 0);
  }
}

TEST(Preconditioner, ReusedIntegratorSwitchesBetweenFields) {
  AdvectionDiffusionField::Config without = StiffConfig();
  without.offers_preconditioner = false;
  auto integrator = IntegratorRegistry().Create("cvodes_bdf", Options("gmres", "auto"));
  const Trajectory first = integrator->Solve(Problem(StiffConfig()));
  const Trajectory second = integrator->Solve(Problem(without));
  const Trajectory third = integrator->Solve(Problem(StiffConfig()));
  EXPECT_GT(first.stats.preconditioner_setups, 0);
  EXPECT_EQ(second.stats.preconditioner_setups, 0);
  EXPECT_EQ(MaxDifference(first, third), 0.0);
  EXPECT_EQ(first.stats.linear_iters, third.stats.linear_iters);
}

TEST(Preconditioner, OptionsAreValidated) {
  IntegratorOptions options;
  options.preconditioner = "ilu";
  EXPECT_THROW(options.Validate(), ConfigError);
  options.preconditioner = "band";
  options.linear_solver = "fgmres";
  EXPECT_NO_THROW(options.Validate());
  EXPECT_FALSE(options.DenseLinearSolver());
  options.linear_solver = "lapack";
  EXPECT_THROW(options.Validate(), ConfigError);
}

TEST(Preconditioner, DenseNewtonRefusesLargeSystems) {
  const Index n = 5000;
  OdeProblem problem;
  problem.field = std::make_shared<LinearDecayField>(n);
  problem.theta = Vector::Constant(1, 2.0);
  problem.z0 = Vector::Ones(n);
  problem.output_times = {0.1};
  for (const char* integrator : {"cvodes_bdf", "sdirk", "backward_euler"}) {
    IntegratorOptions options = Options("dense", "auto", 1e-6);
    if (std::string(integrator) == "backward_euler") options.fixed_step = 0.05;
    try {
      Solve(integrator, options, problem);
      FAIL() << integrator << ": expected ConfigError";
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("5000"), std::string::npos) << message;
      EXPECT_NE(message.find("4096"), std::string::npos) << message;
      EXPECT_NE(message.find("gmres"), std::string::npos) << message;
      EXPECT_NE(message.find(integrator), std::string::npos) << message;
    }
    options.linear_solver = "gmres";
    const Trajectory solved = Solve(integrator, options, problem);
    // Backward Euler's two steps of 0.05: (1 + 0.1)⁻².
    const double exact = options.fixed_step > 0.0 ? 1.0 / (1.1 * 1.1) : std::exp(-0.2);
    EXPECT_NEAR(solved.states.back()[0], exact, 1e-4) << integrator;
  }
}

// The trampolines fold CallbackData::time_sign into t and γ: the solver's f̃(s, z) =
// −f(−s, z) has J̃ = −J, so I − γ J̃ = I − (−γ) J at t = −s.
TEST(Preconditioner, TrampolinesFoldTheTimeSign) {
  AdvectionDiffusionField field(StiffConfig());
  const Vector theta = (Vector(3) << 1.0, 0.5, 1.0).finished();
  std::unique_ptr<Preconditioner> preconditioner =
      field.MakePreconditioner(PreconditionerSide::kForward);
  CallbackData data;
  data.Bind(&field, &theta);
  data.preconditioner = preconditioner.get();
  data.time_sign = -1.0;
  Context context;
  const Index n = StiffConfig().n;
  NVectorPtr y = MakeNVector(Vector::Constant(n, 0.3), context);
  NVectorPtr r = MakeNVector(Vector::Constant(n, 1.0), context);
  NVectorPtr z = MakeNVector(Vector::Zero(n), context);
  sunbooleantype current = SUNFALSE;
  ASSERT_EQ(PrecSetupTrampoline(0.5, y.get(), nullptr, SUNFALSE, &current, 0.01, &data), 0);
  EXPECT_EQ(current, SUNTRUE);
  EXPECT_EQ(field.counts().last_t, -0.5);
  EXPECT_EQ(field.counts().last_gamma, -0.01);
  ASSERT_EQ(PrecSolveTrampoline(0.5, y.get(), nullptr, r.get(), z.get(), 0.01, 0.0, 1, &data), 0);
  // z = (I + 0.01 J)⁻¹ r: check (I + 0.01 J) z = r.
  Vector jz(n);
  field.Jvp(-0.5, AsConstEigen(y.get()), theta, AsConstEigen(z.get()), jz);
  EXPECT_LT((AsConstEigen(z.get()) + 0.01 * jz - AsConstEigen(r.get())).cwiseAbs().maxCoeff(),
            1e-12);
  EXPECT_EQ(data.preconditioner_setups, 1);
  EXPECT_EQ(data.preconditioner_solves, 1);
}

}  // namespace
}  // namespace snode
