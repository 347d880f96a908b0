// The neural reaction–diffusion problem (problems/reaction_diffusion.hpp) through the implicit
// solvers: the cvodes_adjoint gradient against Richardson-extrapolated central differences at
// N = 32, preconditioned and unpreconditioned (and dense Newton) solves agreeing at N = 48, the
// Krylov iterations per Newton iteration with the field's preconditioner bounded as N grows (and
// growing without one), and dense Newton refusing the problem above its size limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/mlp.hpp"
#include "problems/reaction_diffusion.hpp"

namespace snode::problems {
namespace {

ReactionDiffusionOptions Points(Index points) {
  ReactionDiffusionOptions options;
  options.points = points;
  return options;
}

bool HaveCvodes() {
  return GradientRegistry().Contains("cvodes_adjoint") &&
         IntegratorRegistry().Contains("cvodes_bdf");
}

GradientOptions Krylov(const std::string& integrator, const std::string& preconditioner,
                       double rtol, double atol) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.linear_solver = "gmres";
  options.integrator_options.preconditioner = preconditioner;
  options.integrator_options.max_steps = 1000000;
  return options;
}

LossAndGradient CvodesAdjointGradient(const ProblemSetup& setup, const GradientOptions& options) {
  return GradientRegistry().Create("cvodes_adjoint", options)->Compute(setup.ode, *setup.loss);
}

// θ indices covering every layer of the MLP: two weights and two biases of each (first and last
// of each block, so both ends of the layout), 12 in all.
std::vector<Index> ThetaSpread(const ReactionDiffusionOptions& options) {
  const auto field = MakeNeuralReactionDiffusionField(options);
  const auto& mlp = static_cast<const MlpField&>(field->pointwise());
  std::vector<Index> indices;
  for (Index l = 0; l < mlp.num_layers(); ++l) {
    const Index weights = mlp.layer_inputs(l) * mlp.layer_outputs(l);
    indices.push_back(mlp.weight_offset(l));
    indices.push_back(mlp.weight_offset(l) + weights - 1);
    indices.push_back(mlp.bias_offset(l));
    indices.push_back(mlp.bias_offset(l) + mlp.layer_outputs(l) - 1);
  }
  return indices;
}

// Central difference of L in component i with the absolute step h.
double CentralDifference(LossMap& map, Index i, double h) {
  const double x = map.base()[i];
  return (map.WithComponent(i, x + h) - map.WithComponent(i, x - h)) / (2.0 * h);
}

// Acceptance: at N = 32 the cvodes_adjoint gradient (cvodes_bdf, GMRES with the field's
// preconditioner, rtol 1e-10, atol 1e-12 forward and backward) agrees with Richardson-extrapolated
// central differences, (4 D(h/2) − D(h)) / 3 with D(h) the central difference of step
// h = 4e-3·max(1, |x_i|), of tight cvodes_bdf forward solves (rtol 1e-13, atol 1e-15), to 1e-6
// in max_i |a_i − d_i| / max(|d_i|, 1e-3·‖a‖∞) over 12 θ entries (every layer's weights and
// biases) and 4 z0 entries. Measured 6e-8 (the adjoint moves by 4e-10 from rtol 1e-10 to 1e-12,
// so that is the differences' error). Why these choices: the loss's noise at rtol 1e-12 is
// ~4e-12 (absolute, L ≈ 0.54) and at 1e-13 ~1.3e-12; divided by the step it dominates — the
// automatic ladder of adjoint/finite_difference.hpp (which starts at the noise-optimal step for a
// truncation error modelled as |L|·h², ~1e-4 here) reaches only 3e-6 at rtol 1e-12, and the
// extrapolated steps 4e-3/2e-3 at rtol 1e-12 8e-7; L is analytic in θ and z0, so wide steps with
// extrapolation (truncation O(h⁴)) and a tighter forward solve get well below 1e-6.
TEST(ReactionDiffusionSolves, AdjointGradientAtN32AgreesWithCentralDifferencesTo1em6) {
  if (!HaveCvodes()) GTEST_SKIP() << "no cvodes_adjoint/cvodes_bdf";
  const ReactionDiffusionOptions options = Points(32);
  const ProblemSetup setup = MakeReactionDiffusionProblem(options);
  const Vector adjoint =
      CvodesAdjointGradient(setup, Krylov("cvodes_bdf", "field", 1e-10, 1e-12)).Joined();
  ASSERT_EQ(adjoint.size(), 354 + 64);
  const double floor = 1e-3 * adjoint.cwiseAbs().maxCoeff();

  GradientOptions forward;
  forward.integrator = "cvodes_bdf";
  forward.integrator_options.rtol = 1e-13;
  forward.integrator_options.atol = 1e-15;
  forward.integrator_options.max_steps = 1000000;
  LossMap map(setup.ode, *setup.loss, forward);
  std::vector<Index> indices = ThetaSpread(options);
  for (const Index k : {0, 1, 11, 62}) indices.push_back(354 + k);  // u_0, v_0, v_5, u_31
  double worst = 0.0;
  for (const Index i : indices) {
    const double h = 4e-3 * std::max(1.0, std::abs(map.base()[i]));
    const double d =
        (4.0 * CentralDifference(map, i, 0.5 * h) - CentralDifference(map, i, h)) / 3.0;
    const double error = std::abs(adjoint[i] - d) / std::max(std::abs(d), floor);
    std::printf("component %3ld: adjoint % .12e differences % .12e relative %.2e\n",
                static_cast<long>(i), adjoint[i], d, error);
    worst = std::max(worst, error);
  }
  std::printf("N = 32: worst relative error %.2e\n", worst);
  EXPECT_LE(worst, 1e-6);
}

// Relative difference of two trajectories: max over output times of ‖a − b‖∞ / ‖b‖∞.
double TrajectoryDifference(const Trajectory& a, const Trajectory& b) {
  if (a.states.size() != b.states.size()) return INFINITY;
  double worst = 0.0;
  for (std::size_t k = 0; k < a.states.size(); ++k) {
    worst = std::max(worst, (a.states[k] - b.states[k]).cwiseAbs().maxCoeff() /
                                b.states[k].cwiseAbs().maxCoeff());
  }
  return worst;
}

// max_i |a_i − b_i| / max(|b_i|, 1e-3·‖b‖∞).
double GradientDifference(const Vector& a, const Vector& b) {
  const double floor = 1e-3 * b.cwiseAbs().maxCoeff();
  return ((a - b).cwiseAbs().array() / b.cwiseAbs().array().max(floor)).maxCoeff();
}

struct SolverChoice {
  std::string linear_solver, preconditioner;
};

// One forward solve of setup by integrator at rtol 1e-9, atol 1e-11 with the given linear solver.
Trajectory Forward(const ProblemSetup& setup, const std::string& integrator,
                   const SolverChoice& choice) {
  GradientOptions options = Krylov(integrator, choice.preconditioner, 1e-9, 1e-11);
  options.integrator_options.linear_solver = choice.linear_solver;
  return IntegratorRegistry().Create(integrator, options.integrator_options)->Solve(setup.ode);
}

// Acceptance: the preconditioned and unpreconditioned solves agree. N = 48, rtol 1e-9,
// atol 1e-11: the forward states at the 20 output times, of cvodes_bdf and of sdirk, with GMRES
// and no preconditioner, GMRES with SUNDIALS' band preconditioner, FGMRES with the field's and
// dense Newton, against GMRES with the field's preconditioner: max over times of ‖a − b‖∞/‖b‖∞
// ≤ 100·rtol = 1e-7 (measured: cvodes_bdf 4e-10 none, 1e-9 band, 2e-9 dense; sdirk 4e-15, its
// Newton iterations converge to rounding). The statistics show each choice took effect, and the
// two integrators agree with each other to 1e-7.
TEST(ReactionDiffusionSolves, ForwardStatesAgreeWithAndWithoutPreconditioners) {
  const ProblemSetup setup = MakeReactionDiffusionProblem(Points(48));
  std::vector<Trajectory> per_integrator;
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    if (!IntegratorRegistry().Contains(integrator)) continue;
    const Trajectory field = Forward(setup, integrator, {"gmres", "field"});
    ASSERT_EQ(field.states.size(), 20u);
    EXPECT_GT(field.stats.preconditioner_setups, 0) << integrator;
    for (const SolverChoice& choice : std::vector<SolverChoice>{
             {"gmres", "none"}, {"gmres", "band"}, {"fgmres", "field"}, {"dense", "none"}}) {
      const Trajectory other = Forward(setup, integrator, choice);
      const double difference = TrajectoryDifference(other, field);
      const std::string what =
          std::string(integrator) + " " + choice.linear_solver + "/" + choice.preconditioner;
      std::printf("%s vs gmres/field: %.2e (Newton %ld, Krylov %ld, preconditioner set-ups %ld)\n",
                  what.c_str(), difference, other.stats.nonlinear_iters, other.stats.linear_iters,
                  other.stats.preconditioner_setups);
      EXPECT_LE(difference, 1e-7) << what;
      EXPECT_EQ(other.stats.preconditioner_setups > 0, choice.preconditioner != "none") << what;
      EXPECT_EQ(other.stats.linear_iters > 0, choice.linear_solver != "dense") << what;
      EXPECT_EQ(other.stats.jacobian_evals > 0, choice.linear_solver == "dense") << what;
    }
    per_integrator.push_back(field);
  }
  if (per_integrator.size() == 2) {
    std::printf("sdirk vs cvodes_bdf: %.2e\n",
                TrajectoryDifference(per_integrator[1], per_integrator[0]));
    EXPECT_LE(TrajectoryDifference(per_integrator[1], per_integrator[0]), 1e-7);
  }
}

// The cvodes_adjoint gradient at N = 48, rtol 1e-9, atol 1e-11 forward and backward: GMRES
// without a preconditioner, with the band preconditioner and dense Newton against GMRES with the
// field's preconditioner, max_i |a_i − b_i| / max(|b_i|, 1e-3·‖b‖∞) ≤ 100·rtol = 1e-7 (measured
// 2.9e-8 none, 2.7e-8 band, 5e-9 dense) and the losses to 1e-8 relative.
TEST(ReactionDiffusionSolves, AdjointGradientsAgreeWithAndWithoutPreconditioner) {
  if (!HaveCvodes()) GTEST_SKIP() << "no cvodes_adjoint/cvodes_bdf";
  const ProblemSetup setup = MakeReactionDiffusionProblem(Points(48));
  const LossAndGradient field =
      CvodesAdjointGradient(setup, Krylov("cvodes_bdf", "field", 1e-9, 1e-11));
  EXPECT_GT(field.stats.forward_preconditioner_setups, 0);
  EXPECT_GT(field.stats.backward_preconditioner_setups, 0);
  for (const auto& [linear_solver, preconditioner] :
       std::vector<std::pair<std::string, std::string>>{
           {"gmres", "none"}, {"gmres", "band"}, {"dense", "none"}}) {
    GradientOptions options = Krylov("cvodes_bdf", preconditioner, 1e-9, 1e-11);
    options.integrator_options.linear_solver = linear_solver;
    const LossAndGradient other = CvodesAdjointGradient(setup, options);
    const double difference = GradientDifference(other.Joined(), field.Joined());
    std::printf("cvodes_adjoint %s/%s vs gmres/field: loss %.2e, gradient %.2e\n",
                linear_solver.c_str(), preconditioner.c_str(),
                std::abs(other.loss - field.loss) / field.loss, difference);
    EXPECT_LE(difference, 1e-7) << linear_solver << "/" << preconditioner;
    EXPECT_NEAR(other.loss, field.loss, 1e-8 * field.loss);
  }
}

double KrylovPerNewton(const GradientStats& stats) {
  return static_cast<double>(stats.forward_linear_iters + stats.backward_linear_iters) /
         static_cast<double>(
             std::max(1L, stats.forward_nonlinear_iters + stats.backward_nonlinear_iters));
}

// Acceptance: Krylov iterations per Newton iteration bounded as N grows. The cvodes_adjoint
// gradient at the tolerances (rtol 1e-6, atol 1e-8, GMRES): with the field's exact
// preconditioner (forward + backward Krylov iterations) / (forward + backward Newton iterations)
// ≤ 1.5 at N = 64, 256, 1024, 4096 and within 0.1 of its value at N = 64 (measured 0.58, 0.57,
// 0.58, 0.59: below one because GMRES takes no iteration when the preconditioned residual is
// already below its tolerance); without a preconditioner the ratio grows with N (measured 0.54,
// 0.85, 3.3 at N = 64, 256, 1024; asserted increasing and at N = 1024 more than twice N = 64).
TEST(ReactionDiffusionSolves, KrylovIterationsPerNewtonIterationBoundedAsNGrows) {
  if (!HaveCvodes()) GTEST_SKIP() << "no cvodes_adjoint/cvodes_bdf";
  std::vector<double> plain;
  double first = -1.0;
  for (const Index n : {64, 256, 1024, 4096}) {
    const ProblemSetup setup = MakeReactionDiffusionProblem(Points(n));
    const GradientStats field =
        CvodesAdjointGradient(setup, Krylov("cvodes_bdf", "field", 1e-6, 1e-8)).stats;
    std::printf("N = %5ld field: forward %ld/%ld, backward %ld/%ld, ratio %.3f\n",
                static_cast<long>(n), field.forward_linear_iters, field.forward_nonlinear_iters,
                field.backward_linear_iters, field.backward_nonlinear_iters,
                KrylovPerNewton(field));
    EXPECT_GT(field.forward_nonlinear_iters, 0) << n;
    EXPECT_GT(field.backward_nonlinear_iters, 0) << n;
    EXPECT_LE(KrylovPerNewton(field), 1.5) << "N = " << n;
    if (first < 0.0) first = KrylovPerNewton(field);
    EXPECT_LE(KrylovPerNewton(field), first + 0.1) << "N = " << n;
    if (n > 1024) continue;
    const GradientStats none =
        CvodesAdjointGradient(setup, Krylov("cvodes_bdf", "none", 1e-6, 1e-8)).stats;
    std::printf("N = %5ld none: forward %ld/%ld, backward %ld/%ld, ratio %.3f\n",
                static_cast<long>(n), none.forward_linear_iters, none.forward_nonlinear_iters,
                none.backward_linear_iters, none.backward_nonlinear_iters, KrylovPerNewton(none));
    plain.push_back(KrylovPerNewton(none));
  }
  ASSERT_EQ(plain.size(), 3u);
  EXPECT_GT(plain[1], plain[0]);
  EXPECT_GT(plain[2], plain[1]);
  EXPECT_GT(plain[2], 2.0 * plain[0]);
}

// Acceptance: dense Newton refuses the problem above kMaxDenseNewtonStates (N = 4096: 8192
// states) with a ConfigError naming the size and the remedy, before allocating the matrix. The
// problem is put together without its (costly) data: the loss is against zeros.
TEST(ReactionDiffusionSolves, DenseNewtonRefusesLargeGrids) {
  const ReactionDiffusionOptions options = Points(4096);
  OdeProblem problem;
  problem.field = MakeNeuralReactionDiffusionField(options);
  problem.theta = ReactionDiffusionInitialWeights(options);
  problem.z0 = ReactionDiffusionInitialState(options.points);
  problem.output_times = ReactionDiffusionTimes(options);
  const MseLoss loss(std::vector<Vector>(problem.output_times.size(), Vector::Zero(8192)));
  const auto expect_refusal = [](const auto& run, const std::string& what) {
    try {
      run();
      ADD_FAILURE() << what << " accepted 8192 states with dense Newton";
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("8192"), std::string::npos) << what << ": " << message;
      EXPECT_NE(message.find("gmres"), std::string::npos) << what << ": " << message;
    }
  };
  IntegratorOptions dense;
  dense.linear_solver = "dense";
  for (const char* integrator : {"cvodes_bdf", "sdirk"}) {
    if (!IntegratorRegistry().Contains(integrator)) continue;
    expect_refusal([&] { IntegratorRegistry().Create(integrator, dense)->Solve(problem); },
                   integrator);
  }
  if (HaveCvodes()) {
    GradientOptions options = Krylov("cvodes_bdf", "none", 1e-6, 1e-8);
    options.integrator_options.linear_solver = "dense";
    expect_refusal(
        [&] { GradientRegistry().Create("cvodes_adjoint", options)->Compute(problem, loss); },
        "cvodes_adjoint");
  }
}

}  // namespace
}  // namespace snode::problems
