// Tests of CvodesAdjoint ("cvodes_adjoint"): SUNDIALS' own Robertson example, closed forms,
// central finite differences, reuse (CVodeAdjReInit), solver variants, exceptions from
// callbacks, and the memory statistics.
#include "adjoint/cvodes_adjoint.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/robertson.hpp"
#include "tests/adjoint/plugin_integrators.hpp"
#include "tests/test_util/allocation_counter.hpp"
#include "tests/test_util/cvodes_test_problems.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

using test_util::LinearProblem;
using test_util::LotkaVolterraProblem;
using test_util::MakeProblem;
using VariantCase = test_util::ProblemCase;

GradientOptions Options(const std::string& integrator = "cvodes_bdf", double rtol = 1e-10,
                        double atol = 1e-12, const std::string& linear_solver = "dense") {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.linear_solver = linear_solver;
  options.integrator_options.max_steps = 200000;
  return options;
}

// cvodes_adjoint's own options from `name=value` settings (as the registry reads them).
CvodesAdjointOptions Own(const Settings& settings) {
  return CvodesAdjointOptions::FromSettings(settings);
}

// Fourth-order central differences of L(x) with steps h·max(1, |x_i|). L comes from a forward
// solve at rtol 1e-12 / atol 1e-14 (the loss value of a separate cvodes_adjoint object), so the
// solver noise (≈1e-12 relative) divided by h stays far below the tolerances tested.
Vector FourPointGradient(const std::function<double(const Vector&)>& loss_of, const Vector& x,
                         double h = 1e-3) {
  Vector grad(x.size());
  for (Index i = 0; i < x.size(); ++i) {
    const double step = h * std::max(1.0, std::abs(x(i)));
    auto at = [&](double offset) {
      Vector shifted = x;
      shifted(i) += offset;
      return loss_of(shifted);
    };
    grad(i) = (-at(2 * step) + 8 * at(step) - 8 * at(-step) + at(-2 * step)) / (12 * step);
  }
  return grad;
}

struct FiniteDifferenceGradients {
  Vector dtheta;
  Vector dz0;
};

FiniteDifferenceGradients ReferenceGradients(const OdeProblem& problem, const Loss& loss) {
  CvodesAdjoint reference(Options("cvodes_bdf", 1e-12, 1e-14));
  FiniteDifferenceGradients fd;
  fd.dtheta = FourPointGradient(
      [&](const Vector& theta) {
        OdeProblem shifted = problem;
        shifted.theta = theta;
        return reference.Compute(shifted, loss).loss;
      },
      problem.theta);
  fd.dz0 = FourPointGradient(
      [&](const Vector& z0) {
        OdeProblem shifted = problem;
        shifted.z0 = z0;
        return reference.Compute(shifted, loss).loss;
      },
      problem.z0);
  return fd;
}

double MaxRelative(const Vector& actual, const Vector& expected) {
  return ((actual - expected).array().abs() / expected.array().abs()).maxCoeff();
}

// x to `digits` significant digits ("%.{digits-1}e").
std::string Significant(double x, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*e", digits - 1, x);
  return buffer;
}

// ---------------------------------------------------------------------------------------------

TEST(CvodesAdjoint, RejectsOtherIntegrators) {
  GradientOptions options = Options("dopri5");
  try {
    CvodesAdjoint method(options);
    FAIL() << "dopri5 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "gradient 'cvodes_adjoint' needs a CVODES integrator (one that declares a "
              "cvodes_method: 'cvodes_bdf', 'cvodes_adams'), got 'dopri5'");
  }
  // Unknown backward integrators and unknown quadrature kinds are refused.
  options = Options();
  options.backward_integrator = "no_such_integrator";
  EXPECT_THROW(CvodesAdjoint{options}, ConfigError);
  EXPECT_THROW(Own({{"quadrature", "simpson"}}), ConfigError);
}

// cvsRoberts_ASAi_dns (SUNDIALS 6.4.1 examples): G = ∫_0^{4e7} y3 dt, p = (0.04, 1e4, 3e7);
// its .out prints dG/dp = (7.6842e+05, -3.0691e+00, 5.1144e-04), λ(t0) = 3.9967e+07 (all three)
// and G = 3.9983e+07. Our θ = (k1, k2, k3) with k2 the y2² rate, so θ = (p1, p3, p2) and
// dG/dθ = (dG/dp1, dG/dp3, dG/dp2). Tolerances as the example: rtol 1e-6 forward and backward,
// atol 1e-8 for the adjoint (ATOLl), Nd = 150. The example's forward uses the vector atol
// (1e-8, 1e-14, 1e-6), which a scalar cannot express, so the forward uses its tightest
// component, 1e-14. The printed 5th digit is the example's own discretisation error (at rtol
// 1e-12 the gradient converges to (7.683773e+05, 5.114890e-04, -3.068921e+00), 5.6e-5…9.6e-5
// from the printed values), so the comparison is to 4 significant digits, plus a relative bound.
TEST(CvodesAdjoint, RobertsonReproducesSundialsExample) {
  const OdeProblem problem = problems::RobertsonOde({4e7});
  const LinearFunctionalLoss loss({Vector::Zero(3)}, Vector::Unit(3, 2));
  GradientOptions options = Options("cvodes_bdf", 1e-6, 1e-14);
  options.integrator_options.max_steps = 2500;
  options.backward_options = options.integrator_options;
  options.backward_options->atol = 1e-8;
  CvodesAdjointOptions own;
  own.checkpoint_interval = 150;  // STEPS in the example
  // The example's algorithm: CVODES' own quadrature of dG/dp (the default returns the
  // Gauss–Legendre value on its steps, 2e-5…2e-4 from the converged gradient; see
  // tests/adjoint/cvodes_accuracy_test.cpp).
  own.quadrature = CvodesAdjointOptions::Quadrature::kCvodes;
  CvodesAdjoint method(options, own);
  const LossAndGradient result = method.Compute(problem, loss);

  const Vector published{{7.6842e+05, 5.1144e-04, -3.0691e+00}};
  for (Index i = 0; i < 3; ++i) {
    EXPECT_EQ(Significant(result.dtheta(i), 4), Significant(published(i), 4)) << "component " << i;
    EXPECT_LT(std::abs(result.dtheta(i) - published(i)), 5e-5 * std::abs(published(i)))
        << "component " << i;
    EXPECT_EQ(Significant(result.dz0(i), 5), "3.9967e+07") << "component " << i;
  }
  EXPECT_EQ(Significant(result.loss, 5), "3.9983e+07");
  std::printf(
      "Robertson: G = %.6e, dG/dθ = (%.6e, %.6e, %.6e), rel. diff. to the example "
      "(%.1e, %.1e, %.1e), λ(t0) = (%.6e, %.6e, %.6e), ncheck = %ld, steps fwd/bwd = "
      "%ld/%ld\n",
      result.loss, result.dtheta(0), result.dtheta(1), result.dtheta(2),
      std::abs(result.dtheta(0) / published(0) - 1), std::abs(result.dtheta(1) / published(1) - 1),
      std::abs(result.dtheta(2) / published(2) - 1), result.dz0(0), result.dz0(1), result.dz0(2),
      result.stats.checkpoints, result.stats.forward_steps, result.stats.backward_steps);
}

// dy/dt = −λy, y0 = 1, L = y(1): dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}.
TEST(CvodesAdjoint, DecayMatchesClosedForm) {
  CvodesAdjoint method(Options("cvodes_bdf", 1e-10, 1e-12));
  for (const double lambda : {1.0, 10.0}) {
    const OdeProblem problem = MakeProblem(std::make_shared<DecayField>(1), Vector::Ones(1),
                                           Vector::Constant(1, lambda), {1.0});
    const LossAndGradient result =
        method.Compute(problem, LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1));
    const double exact = std::exp(-lambda);
    const double loss_error = std::abs(result.loss - exact) / exact;
    const double dlambda_error = std::abs(result.dtheta(0) + exact) / exact;
    const double dy0_error = std::abs(result.dz0(0) - exact) / exact;
    EXPECT_LT(loss_error, 1e-6) << "lambda " << lambda;
    EXPECT_LT(dlambda_error, 1e-6) << "lambda " << lambda;
    EXPECT_LT(dy0_error, 1e-6) << "lambda " << lambda;
    std::printf("decay λ=%g: rel. errors L %.2e, dL/dλ %.2e, dL/dy0 %.2e\n", lambda, loss_error,
                dlambda_error, dy0_error);
  }
}

// W1b: z' = diag(−θ1, −θ2) z, θ = (1, 1e4), z0 = (1, 1), L = Σ_t (z1 + z2) over four times.
TEST(CvodesAdjoint, TwoModeStiffSystemMatchesExactGradient) {
  const std::vector<double> times = test_util::W1bTimes();
  for (const double lambda : {1e2, 1e4}) {
    const OdeProblem problem = test_util::W1bProblem(lambda);
    const auto loss = test_util::W1bLoss();
    Vector dtheta_exact, dz0_exact;
    test_util::W1bExactGradient(times, lambda, dtheta_exact, dz0_exact);
    CvodesAdjoint method(Options("cvodes_bdf", 1e-10, 1e-14));
    const LossAndGradient result = method.Compute(problem, loss);
    EXPECT_LT(MaxRelative(result.dtheta, dtheta_exact), 1e-6) << "lambda " << lambda;
    EXPECT_LT(MaxRelative(result.dz0, dz0_exact), 1e-6) << "lambda " << lambda;
    std::printf(
        "W1b λ=%g: dL/dθ = (%.10e, %.10e) max rel err %.2e; dL/dz0 max rel err %.2e; "
        "steps fwd/bwd %ld/%ld\n",
        lambda, result.dtheta(0), result.dtheta(1), MaxRelative(result.dtheta, dtheta_exact),
        MaxRelative(result.dz0, dz0_exact), result.stats.forward_steps,
        result.stats.backward_steps);
  }
}

MseLoss LotkaVolterraLoss(std::size_t num_times) {
  std::vector<Vector> targets;
  for (std::size_t i = 0; i < num_times; ++i) {
    targets.push_back(Vector{{1.0 + 0.1 * static_cast<double>(i), 0.5}});
  }
  return MseLoss(targets);
}

void ExpectMatchesFiniteDifferences(const OdeProblem& problem, const Loss& loss,
                                    const std::string& label) {
  CvodesAdjoint method(Options("cvodes_bdf", 1e-10, 1e-12));
  const LossAndGradient result = method.Compute(problem, loss);
  const FiniteDifferenceGradients fd = ReferenceGradients(problem, loss);
  const double theta_error = ::test_util::MaxRelativeError(result.dtheta, fd.dtheta);
  const double z0_error = ::test_util::MaxRelativeError(result.dz0, fd.dz0);
  EXPECT_LT(theta_error, 1e-5) << label;
  EXPECT_LT(z0_error, 1e-5) << label;
  std::printf("%s vs central FD: dL/dθ max rel err %.2e, dL/dz0 %.2e\n", label.c_str(), theta_error,
              z0_error);
}

TEST(CvodesAdjoint, LotkaVolterraMatchesFiniteDifferences) {
  const OdeProblem problem = LotkaVolterraProblem();
  ExpectMatchesFiniteDifferences(problem, LotkaVolterraLoss(problem.output_times.size()),
                                 "Lotka-Volterra");
}

TEST(CvodesAdjoint, LinearFieldMatchesFiniteDifferences) {
  const OdeProblem problem = LinearProblem();
  // The first output time equals t0: its term enters dL/dz0 directly.
  ExpectMatchesFiniteDifferences(problem, *test_util::LinearProblemLoss(),
                                 "linear field z'=Az (running cost)");
}

// The same object reused with other θ and z0 must equal a fresh object every time (a missing
// CVodeAdjReInit gives silently wrong gradients from the second call on).
TEST(CvodesAdjoint, ReuseEqualsFreshObjects) {
  OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = LotkaVolterraLoss(problem.output_times.size());
  CvodesAdjoint reused(Options("cvodes_bdf", 1e-8, 1e-10));
  const std::vector<Vector> thetas = {problems::LotkaVolterraTrueRates(),
                                      Vector{{1.2, 0.8, 1.1, 2.5}}, Vector{{1.7, 1.1, 0.9, 3.2}},
                                      problems::LotkaVolterraTrueRates()};
  const std::vector<Vector> z0s = {Vector{{1.0, 1.0}}, Vector{{2.0, 0.5}}, Vector{{0.7, 1.3}},
                                   Vector{{1.0, 1.0}}};
  for (std::size_t k = 0; k < thetas.size(); ++k) {
    problem.theta = thetas[k];
    problem.z0 = z0s[k];
    const LossAndGradient from_reused = reused.Compute(problem, loss);
    CvodesAdjoint fresh(Options("cvodes_bdf", 1e-8, 1e-10));
    const LossAndGradient from_fresh = fresh.Compute(problem, loss);
    EXPECT_EQ(from_reused.loss, from_fresh.loss) << "call " << k;
    EXPECT_TRUE(::test_util::VectorsClose(from_reused.dtheta, from_fresh.dtheta, 1e-14, 0.0))
        << "call " << k;
    EXPECT_TRUE(::test_util::VectorsClose(from_reused.dz0, from_fresh.dz0, 1e-14, 0.0))
        << "call " << k;
  }
  // A different state size re-creates the SUNDIALS objects.
  const OdeProblem linear = LinearProblem();
  const LinearFunctionalLoss linear_loss =
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(3), linear.output_times.size());
  CvodesAdjoint fresh(Options("cvodes_bdf", 1e-8, 1e-10));
  EXPECT_TRUE(::test_util::VectorsClose(reused.Compute(linear, linear_loss).dtheta,
                                        fresh.Compute(linear, linear_loss).dtheta, 1e-14, 0.0));
}

TEST(CvodesAdjoint, SolverVariantsAgree) {
  const OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = LotkaVolterraLoss(problem.output_times.size());
  CvodesAdjoint reference(Options("cvodes_bdf", 1e-10, 1e-12, "dense"));
  const LossAndGradient expected = reference.Compute(problem, loss);
  struct Variant {
    std::string forward, backward, linear_solver, interpolation;
  };
  const std::vector<Variant> variants = {{"cvodes_bdf", "", "gmres", "hermite"},
                                         {"cvodes_adams", "", "dense", "hermite"},
                                         {"cvodes_bdf", "cvodes_adams", "dense", "hermite"},
                                         {"cvodes_adams", "cvodes_bdf", "gmres", "polynomial"},
                                         {"cvodes_bdf", "", "dense", "polynomial"}};
  for (const Variant& v : variants) {
    GradientOptions options = Options(v.forward, 1e-10, 1e-12, v.linear_solver);
    options.backward_integrator = v.backward;
    CvodesAdjoint method(options,
                         Own({{"interpolation", v.interpolation}, {"checkpoint_interval", "20"}}));
    const LossAndGradient result = method.Compute(problem, loss);
    const std::string label = v.forward + "/" + (v.backward.empty() ? v.forward : v.backward) +
                              "/" + v.linear_solver + "/" + v.interpolation;
    const double theta_error = ::test_util::MaxRelativeError(result.dtheta, expected.dtheta);
    const double z0_error = ::test_util::MaxRelativeError(result.dz0, expected.dz0);
    EXPECT_LT(theta_error, 1e-6) << label;
    EXPECT_LT(z0_error, 1e-6) << label;
    EXPECT_NEAR(result.loss, expected.loss, 1e-8 * std::abs(expected.loss)) << label;
    std::printf("%-45s vs BDF/dense/hermite: dL/dθ %.2e, dL/dz0 %.2e, vjp %ld, jvp %ld\n",
                label.c_str(), theta_error, z0_error, result.stats.vjp_evals,
                result.stats.jvp_evals);
  }
}

// A field whose VJP (only used by the backward pass) throws a user exception.
class ThrowingField final : public VectorField {
 public:
  explicit ThrowingField(bool throw_in_forward) : throw_in_forward_(throw_in_forward) {}
  std::string name() const override { return "throwing"; }
  Index state_size() const override { return 1; }
  Index num_params() const override { return 1; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    if (throw_in_forward_ && t > 0.5) throw std::domain_error("f refuses t > 0.5");
    inner_.F(t, z, theta, out);
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    inner_.Jvp(t, z, theta, v, out);
  }
  void VjpState(double /*t*/, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {
    throw std::domain_error("VjpState refuses");
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    inner_.VjpParams(t, z, theta, a, grad);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ThrowingField>(throw_in_forward_);
  }

 private:
  bool throw_in_forward_;
  DecayField inner_{1};
};

TEST(CvodesAdjoint, FieldExceptionsSurfaceUnchanged) {
  const auto loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1);
  for (const std::string linear_solver : {"dense", "gmres"}) {
    CvodesAdjoint method(Options("cvodes_bdf", 1e-8, 1e-10, linear_solver));
    const OdeProblem backward_throws = MakeProblem(std::make_shared<ThrowingField>(false),
                                                   Vector::Ones(1), Vector::Ones(1), {1.0});
    try {
      method.Compute(backward_throws, loss);
      FAIL() << "no exception";
    } catch (const std::domain_error& e) {
      EXPECT_EQ(std::string(e.what()), "VjpState refuses");
    }
    const OdeProblem forward_throws =
        MakeProblem(std::make_shared<ThrowingField>(true), Vector::Ones(1), Vector::Ones(1), {1.0});
    EXPECT_THROW(method.Compute(forward_throws, loss), std::domain_error);
    // The object stays usable afterwards.
    const OdeProblem decay =
        MakeProblem(std::make_shared<DecayField>(1), Vector::Ones(1), Vector::Ones(1), {1.0});
    EXPECT_NEAR(method.Compute(decay, loss).dtheta(0), -std::exp(-1.0), 1e-6);
  }
}

// Stored bytes grow with the number of checkpoints, not with the number of steps: for horizon T
// and 10T the per-checkpoint bytes are the same (Nordsieck arrays of n + 1 values, at most
// q_max + 1 = 6 of them for BDF) and the interpolation buffer is fixed at (Nd + 1)·2n·8.
// Lotka–Volterra (T = 10) and an MLP 2-16-16-2 neural ODE (T = 5).
TEST(CvodesAdjoint, StoredBytesGrowWithCheckpointsOnly) {
  const long nd = 10;
  const Index n = 2;
  GradientOptions options = Options("cvodes_bdf", 1e-10, 1e-12);
  CvodesAdjointOptions own;
  own.checkpoint_interval = nd;
  // The CVODES quadrature: "gauss" (auto's choice for the MLP) also records the forward step
  // polynomials, which grow with the steps.
  own.quadrature = CvodesAdjointOptions::Quadrature::kCvodes;
  CvodesAdjoint method(options, own);
  MlpOptions mlp_options;
  mlp_options.widths = {2, 16, 16, 2};
  auto mlp = std::make_shared<MlpField>(mlp_options);
  struct Case {
    std::string label;
    std::shared_ptr<VectorField> field;
    Vector theta;
    double horizon;
  };
  const std::vector<Case> cases = {{"Lotka-Volterra", std::make_shared<LotkaVolterraField>(),
                                    problems::LotkaVolterraTrueRates(), 10.0},
                                   {"MLP 2-16-16-2", mlp, mlp->InitialParams(7), 5.0}};
  const double buffer = 8.0 * static_cast<double>((nd + 1) * 2 * n);
  for (const Case& c : cases) {
    std::vector<LossAndGradient> results;
    for (const double horizon : {c.horizon, 10 * c.horizon}) {
      std::vector<double> times;
      for (int i = 1; i <= 10; ++i) times.push_back(horizon * i / 10.0);
      const OdeProblem problem = MakeProblem(c.field, Vector{{1.0, 1.0}}, c.theta, times);
      results.push_back(
          method.Compute(problem, LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), 10)));
    }
    for (const LossAndGradient& r : results) {
      const double checkpoints = static_cast<double>(r.stats.checkpoints + 1);
      const double per_checkpoint = (r.stats.stored_bytes - buffer) / checkpoints;
      EXPECT_GE(per_checkpoint, 8.0 * 2 * (n + 1)) << c.label;
      EXPECT_LE(per_checkpoint, 8.0 * 6 * (n + 1)) << c.label;
      // One checkpoint per Nd steps.
      EXPECT_EQ(r.stats.checkpoints, r.stats.forward_steps / nd) << c.label;
    }
    const double step_ratio = static_cast<double>(results[1].stats.forward_steps) /
                              static_cast<double>(results[0].stats.forward_steps);
    const double checkpoint_ratio = static_cast<double>(results[1].stats.checkpoints + 1) /
                                    static_cast<double>(results[0].stats.checkpoints + 1);
    const double byte_ratio =
        (results[1].stats.stored_bytes - buffer) / (results[0].stats.stored_bytes - buffer);
    EXPECT_GT(step_ratio, 2.0) << c.label;
    EXPECT_NEAR(byte_ratio / checkpoint_ratio, 1.0, 0.2) << c.label;
    for (std::size_t k = 0; k < results.size(); ++k) {
      std::printf(
          "%s horizon %g: steps %ld, checkpoints %ld, stored %.0f bytes (z at every step "
          "alone: %.0f bytes)\n",
          c.label.c_str(), k == 0 ? c.horizon : 10 * c.horizon, results[k].stats.forward_steps,
          results[k].stats.checkpoints, results[k].stats.stored_bytes,
          8.0 * static_cast<double>(results[k].stats.forward_steps * n));
    }
  }
}

// A forward solve of at most Nd steps is not recomputed by the backward pass (Nd = 500 covers the
// W2 fit's forward solves); a smaller Nd recomputes all but the last interval. The gradient is
// the same and matches central differences at loose and tight tolerances.
TEST(CvodesAdjoint, CheckpointIntervalAboveTheStepsAvoidsRecomputation) {
  const OdeProblem problem = LotkaVolterraProblem();
  const MseLoss loss = LotkaVolterraLoss(problem.output_times.size());
  const FiniteDifferenceGradients fd = ReferenceGradients(problem, loss);
  struct Tolerance {
    double rtol, atol, bound;
  };
  for (const Tolerance tol : {Tolerance{1e-6, 1e-8, 1e-3}, Tolerance{1e-10, 1e-12, 1e-6}}) {
    CvodesAdjointOptions small, large;
    small.checkpoint_interval = 20;
    large.checkpoint_interval = 500;
    const LossAndGradient by_default =
        CvodesAdjoint(Options("cvodes_adams", tol.rtol, tol.atol), large).Compute(problem, loss);
    const LossAndGradient recomputed =
        CvodesAdjoint(Options("cvodes_adams", tol.rtol, tol.atol), small).Compute(problem, loss);
    const long steps = by_default.stats.forward_steps;
    std::printf(
        "rtol %.0e: %ld forward steps; backward f %ld (Nd 500, %ld checkpoints) vs %ld (Nd 20, "
        "%ld checkpoints); dL/dθ vs FD %.2e\n",
        tol.rtol, steps, by_default.stats.backward_rhs_evals, by_default.stats.checkpoints,
        recomputed.stats.backward_rhs_evals, recomputed.stats.checkpoints,
        ::test_util::MaxRelativeError(by_default.dtheta, fd.dtheta));
    ASSERT_GT(steps, 40);
    ASSERT_LE(steps, 500);
    EXPECT_EQ(by_default.stats.checkpoints, 0);
    EXPECT_EQ(recomputed.stats.checkpoints, steps / 20);
    // Nd = 20 replays every interval but the last: at least one f per replayed step.
    EXPECT_GE(recomputed.stats.backward_rhs_evals - by_default.stats.backward_rhs_evals,
              20 * (steps / 20) - 20);
    EXPECT_LT(::test_util::MaxRelativeError(by_default.dtheta, fd.dtheta), tol.bound);
    EXPECT_LT(::test_util::MaxRelativeError(by_default.dz0, fd.dz0), tol.bound);
    EXPECT_LT(::test_util::MaxRelativeError(by_default.dtheta, recomputed.dtheta),
              1e-3 * tol.bound);
  }
}

// Output times at t0 only: no solve; the term enters dL/dz0 directly.
TEST(CvodesAdjoint, OutputAtInitialTimeOnly) {
  CvodesAdjoint method(Options());
  const OdeProblem problem = MakeProblem(std::make_shared<DecayField>(2), Vector{{1.0, 2.0}},
                                         Vector{{1.0, 3.0}}, {0.5}, 0.5);
  const LossAndGradient result =
      method.Compute(problem, LinearFunctionalLoss::FinalTimeOnly(Vector{{2.0, -1.0}}, 1));
  EXPECT_EQ(result.loss, 0.0);
  EXPECT_EQ(result.dz0, (Vector{{2.0, -1.0}}));
  EXPECT_EQ(result.dtheta, Vector::Zero(2));
}

// The backward problem integrated by the exponential integrator "epi2" (on the time-reversed
// linear system [a, q] with a Hermite interpolant of the recorded forward steps) agrees with the
// CVODES backward pass.
TEST(CvodesAdjoint, Epi2BackwardMatchesCvodesBackward) {
  struct Case {
    std::string label;
    OdeProblem problem;
    std::shared_ptr<Loss> loss;
  };
  std::vector<Case> cases;
  {
    const OdeProblem lv = LotkaVolterraProblem();
    cases.push_back({"Lotka-Volterra", lv,
                     std::make_shared<MseLoss>(LotkaVolterraLoss(lv.output_times.size()))});
  }
  {
    const OdeProblem linear = LinearProblem();
    std::vector<Vector> weights(linear.output_times.size(), Vector{{1.0, -1.0, 0.5}});
    cases.push_back({"linear field (running cost)", linear,
                     std::make_shared<LinearFunctionalLoss>(weights, Vector{{0.3, 0.0, -1.0}})});
  }
  cases.push_back({"W1b lambda=1e4", test_util::W1bProblem(1e4),
                   std::make_shared<LinearFunctionalLoss>(test_util::W1bLoss())});
  GradientOptions epi2_options = Options("cvodes_bdf", 1e-10, 1e-12);
  epi2_options.backward_integrator = "epi2";
  epi2_options.backward_options = epi2_options.integrator_options;
  epi2_options.backward_options->rtol = 1e-11;
  epi2_options.backward_options->atol = 1e-17;
  CvodesAdjoint with_epi2(epi2_options);
  CvodesAdjoint with_cvodes(Options("cvodes_bdf", 1e-10, 1e-12));
  for (const Case& c : cases) {
    const LossAndGradient expected = with_cvodes.Compute(c.problem, *c.loss);
    const LossAndGradient actual = with_epi2.Compute(c.problem, *c.loss);
    const double theta_error = MaxRelative(actual.dtheta, expected.dtheta);
    const double z0_error = MaxRelative(actual.dz0, expected.dz0);
    // The same forward solver (CVode instead of CVodeF: no checkpoints, so Jacobian updates at
    // other steps).
    EXPECT_NEAR(actual.loss, expected.loss, 1e-9 * std::abs(expected.loss)) << c.label;
    EXPECT_LT(theta_error, 1e-6) << c.label;
    EXPECT_LT(z0_error, 1e-6) << c.label;
    std::printf(
        "%-28s epi2 vs CVODES backward: dL/dθ %.2e, dL/dz0 %.2e; backward steps "
        "%ld vs %ld, stored %.0f vs %.0f bytes\n",
        c.label.c_str(), theta_error, z0_error, actual.stats.backward_steps,
        expected.stats.backward_steps, actual.stats.stored_bytes, expected.stats.stored_bytes);
  }
}

// The cheap backward variants against central differences (rtol 1e-10 forward and backward):
// the Gauss–Legendre parameter quadrature over the CVODES backward steps (quadrature
// "gauss"), and the interpolating adjoint (backward_integrator "dopri5" over the recorded forward
// step polynomials, jumps at the output times keeping the step size). Problems: Lotka–Volterra,
// the linear field with a running cost and an output at t0, and an MLP 2-4-2 (22 parameters).
std::vector<VariantCase> VariantCases() {
  std::vector<VariantCase> cases;
  const OdeProblem lv = LotkaVolterraProblem();
  cases.push_back(
      {"Lotka-Volterra", lv, std::make_shared<MseLoss>(LotkaVolterraLoss(lv.output_times.size()))});
  cases.push_back({"linear field (running cost)", LinearProblem(), test_util::LinearProblemLoss()});
  MlpOptions mlp_options;
  mlp_options.widths = {2, 4, 2};
  mlp_options.activations = {"tanh"};
  auto mlp = std::make_shared<MlpField>(mlp_options);
  std::vector<double> times;
  for (int i = 1; i <= 8; ++i) times.push_back(0.25 * i);
  const OdeProblem mlp_problem =
      MakeProblem(mlp, Vector{{1.0, -0.5}}, mlp->InitialParams(3), times);
  cases.push_back({"MLP 2-4-2", mlp_problem, std::make_shared<MseLoss>(LotkaVolterraLoss(8))});
  return cases;
}

void ExpectVariantMatchesFiniteDifferences(const GradientOptions& options,
                                           const CvodesAdjointOptions& own,
                                           const std::string& variant) {
  for (const VariantCase& c : VariantCases()) {
    CvodesAdjoint method(options, own);
    const LossAndGradient result = method.Compute(c.problem, *c.loss);
    const FiniteDifferenceGradients fd = ReferenceGradients(c.problem, *c.loss);
    const double theta_error = ::test_util::MaxRelativeError(result.dtheta, fd.dtheta);
    const double z0_error = ::test_util::MaxRelativeError(result.dz0, fd.dz0);
    EXPECT_LT(theta_error, 1e-5) << variant << " " << c.label;
    EXPECT_LT(z0_error, 1e-5) << variant << " " << c.label;
    // Reuse with other parameters equals a fresh object.
    OdeProblem shifted = c.problem;
    shifted.theta *= 1.1;
    const LossAndGradient reused = method.Compute(shifted, *c.loss);
    CvodesAdjoint fresh_method(options, own);
    const LossAndGradient fresh = fresh_method.Compute(shifted, *c.loss);
    EXPECT_EQ(reused.dtheta, fresh.dtheta) << variant << " " << c.label;
    EXPECT_EQ(reused.dz0, fresh.dz0) << variant << " " << c.label;
    std::printf("%-12s %-28s vs central FD: dL/dθ %.2e, dL/dz0 %.2e; steps fwd/bwd %ld/%ld\n",
                variant.c_str(), c.label.c_str(), theta_error, z0_error, result.stats.forward_steps,
                result.stats.backward_steps);
  }
}

TEST(CvodesAdjoint, GaussQuadratureMatchesFiniteDifferences) {
  for (const std::string integrator : {"cvodes_bdf", "cvodes_adams"}) {
    ExpectVariantMatchesFiniteDifferences(Options(integrator, 1e-10, 1e-12),
                                          Own({{"quadrature", "gauss"}}), integrator + "/gauss");
  }
}

TEST(CvodesAdjoint, InterpolatingAdjointMatchesFiniteDifferences) {
  for (const std::string integrator : {"cvodes_bdf", "cvodes_adams"}) {
    GradientOptions options = Options(integrator, 1e-10, 1e-12);
    options.backward_integrator = "dopri5";
    ExpectVariantMatchesFiniteDifferences(options, {}, integrator + "/dopri5");
  }
}

// Backward integrators from plug-ins, chosen by what they declare, not refused for lacking
// output jumps: one with a dense output and the step hook but no output jumps (the
// interpolating adjoint, one solve per observation interval, the jumps between the solves) and a
// simple one without jumps, step hook or dense output (the linear system [a, q], segment by
// segment).
TEST(CvodesAdjoint, PluginBackwardWithoutOutputJumpsMatchesFiniteDifferences) {
  for (const std::string& backward :
       {test_plugins::Dopri5WithoutJumps(), test_plugins::Dopri5Simple()}) {
    GradientOptions options = Options("cvodes_bdf", 1e-10, 1e-12);
    options.backward_integrator = backward;
    ExpectVariantMatchesFiniteDifferences(options, {}, "cvodes_bdf/" + backward);
  }
}

// W1b (stiff, λ = 1e4) with the Gauss quadrature against the closed form.
TEST(CvodesAdjoint, GaussQuadratureMatchesExactGradientOnStiffSystem) {
  const std::vector<double> times = test_util::W1bTimes();
  const double lambda = 1e4;
  const OdeProblem problem = test_util::W1bProblem(lambda);
  const auto loss = test_util::W1bLoss();
  Vector dtheta_exact, dz0_exact;
  test_util::W1bExactGradient(times, lambda, dtheta_exact, dz0_exact);
  CvodesAdjoint method(Options("cvodes_bdf", 1e-10, 1e-14), Own({{"quadrature", "gauss"}}));
  const LossAndGradient result = method.Compute(problem, loss);
  EXPECT_LT(MaxRelative(result.dtheta, dtheta_exact), 1e-6);
  std::printf("W1b λ=1e4 gauss: dL/dθ max rel err %.2e, backward steps %ld\n",
              MaxRelative(result.dtheta, dtheta_exact), result.stats.backward_steps);
}

// A field that hides its saved forward pass (VectorField's defaults: ForwardSaveSize() = 0), so
// the adjoint's right-hand side recomputes the forward pass at every call.
class WithoutSavedPass final : public ForwardingField {
 public:
  using ForwardingField::ForwardingField;
  Index ForwardSaveSize() const override { return 0; }
  void FSaving(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out, double*) override {
    F(t, z, theta, out);
  }
  void VjpSaved(double t, ConstVectorRef z, ConstVectorRef theta, const double*, ConstVectorRef a,
                VectorRef a_state, VectorRef grad) override {
    VectorField::VjpSaved(t, z, theta, nullptr, a, a_state, grad);
  }
};

// W2's shape: MLP 2-32-32-2 tanh, 101 outputs on [0, 10], rtol 1e-6 / atol 1e-8.
OdeProblem W2SizedProblem(const std::shared_ptr<VectorField>& field, const Vector& theta) {
  std::vector<double> times;
  for (int i = 0; i <= 100; ++i) times.push_back(0.1 * i);
  return MakeProblem(field, Vector{{1.0, 1.0}}, theta, times);
}

std::shared_ptr<MlpField> W2SizedMlp() {
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  return std::make_shared<MlpField>(mlp);
}

// The adjoint's right-hand side keeps the field's forward pass between CVODES' corrector calls
// at the same (t, z): the gradient is bit for bit the one of a field without a saved pass.
TEST(CvodesAdjoint, SavedForwardPassInTheAdjointRhsChangesNoBit) {
  const auto mlp = W2SizedMlp();
  const Vector theta = mlp->InitialParams(7);
  auto hidden = std::make_shared<WithoutSavedPass>(mlp.get());
  const MseLoss loss = LotkaVolterraLoss(101);
  for (const std::string integrator : {"cvodes_adams", "cvodes_bdf"}) {
    for (const std::string quadrature : {"gauss", "cvodes"}) {
      const GradientOptions options = Options(integrator, 1e-6, 1e-8);
      const CvodesAdjointOptions own = Own({{"quadrature", quadrature}});
      CvodesAdjoint with_pass(options, own), without_pass(options, own);
      const LossAndGradient a = with_pass.Compute(W2SizedProblem(mlp, theta), loss);
      const LossAndGradient b = without_pass.Compute(W2SizedProblem(hidden, theta), loss);
      EXPECT_EQ(a.dtheta, b.dtheta) << integrator << " " << quadrature;
      EXPECT_EQ(a.dz0, b.dz0) << integrator << " " << quadrature;
      EXPECT_EQ(a.stats.backward_steps, b.stats.backward_steps) << integrator << " " << quadrature;
      // A second call with other parameters must not reuse the first call's pass.
      const Vector shifted = theta * 1.05;
      EXPECT_EQ(with_pass.Compute(W2SizedProblem(mlp, shifted), loss).dtheta,
                without_pass.Compute(W2SizedProblem(hidden, shifted), loss).dtheta)
          << integrator << " " << quadrature;
    }
  }
}

// The Gauss quadrature takes ⌈(q+1)/2⌉ nodes on a backward step of order q (up to 3): with
// observations "restart", after each of W2's 100 restarts the Adams steps run at orders
// 1–2, so most steps need one node, and the gradient stays as accurate as the adjoint it
// integrates (against a tight reference).
TEST(CvodesAdjoint, GaussNodesFollowTheBackwardOrder) {
  const auto mlp = W2SizedMlp();
  const OdeProblem problem = W2SizedProblem(mlp, mlp->InitialParams(7));
  const MseLoss loss = LotkaVolterraLoss(101);
  const LossAndGradient reference =
      CvodesAdjoint(Options("cvodes_adams", 1e-12, 1e-14), Own({{"quadrature", "gauss"}}))
          .Compute(problem, loss);
  for (const std::string integrator : {"cvodes_adams", "cvodes_bdf"}) {
    const LossAndGradient result =
        CvodesAdjoint(Options(integrator, 1e-6, 1e-8),
                      Own({{"quadrature", "gauss"}, {"observations", "restart"}}))
            .Compute(problem, loss);
    const double error = (result.dtheta - reference.dtheta).norm() / reference.dtheta.norm();
    const GradientStats& s = result.stats;
    std::printf("%s: dL/dθ rel err %.2e vs rtol 1e-12; %ld backward steps, %ld fB, %ld VJPs\n",
                integrator.c_str(), error, s.backward_steps, s.backward_rhs_evals, s.vjp_evals);
    EXPECT_LT(error, 1e-4) << integrator;
    // Three nodes on every step would need vjp_evals ≥ fB + 3 · steps.
    EXPECT_LT(s.vjp_evals, s.backward_rhs_evals + 2 * s.backward_steps) << integrator;
  }
}

// Steady-state allocations of the new backward paths (pattern of
// tests/adjoint/gradient_allocation_test.cpp, which covers the default "auto" → gauss path on an
// MLP): after a warm-up, a Compute() on an MLP 2-32-32-2 problem with 5 MSE outputs allocates
// exactly as often with many steps (horizon 20, tolerances 100 times tighter) as with few (horizon
// 0.5): 0 operator-new calls per forward or backward step, for the interpolating adjoint (Adams
// forward, dopri5 backward) and the Gauss quadrature with BDF, with the fundamental matrix (the
// "auto" choice here) and with a restart at every observation.
TEST(CvodesAdjoint, NewBackwardPathsDoNotAllocateInSteadyState) {
  SKIP_WITHOUT_COUNTER();
  MlpOptions mlp;
  mlp.widths = {2, 32, 32, 2};
  mlp.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(mlp);
  OdeProblem problems[2];
  for (int k = 0; k < 2; ++k) {
    const double horizon = k == 0 ? 0.5 : 20.0;
    std::vector<double> times;
    for (int i = 1; i <= 5; ++i) times.push_back(horizon * i / 5);
    problems[k] = MakeProblem(field, Vector{{1.0, -0.5}}, field->InitialParams(5), times);
  }
  const MseLoss loss = LotkaVolterraLoss(5);
  test_util::NewCounter counter;
  struct Path {
    std::string label, forward, backward, quadrature, observations;
  };
  for (const Path& path : {Path{"adams+dopri5", "cvodes_adams", "dopri5", "auto", "auto"},
                           Path{"bdf gauss", "cvodes_bdf", "", "gauss", "fundamental"},
                           Path{"bdf restart", "cvodes_bdf", "", "gauss", "restart"}}) {
    std::unique_ptr<CvodesAdjoint> methods[2];
    for (int k = 0; k < 2; ++k) {
      GradientOptions options = Options(path.forward, k == 0 ? 1e-6 : 1e-8, k == 0 ? 1e-8 : 1e-10);
      options.backward_integrator = path.backward;
      methods[k] = std::make_unique<CvodesAdjoint>(
          options, Own({{"quadrature", path.quadrature}, {"observations", path.observations}}));
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
      }
      allocations[k] = counter.Stop();
      stacks[k] = counter.Stacks();
    }
    if (allocations[1] != allocations[0]) {
      test_util::PrintExtraAllocations(path.label, stacks[1], stacks[0]);
    }
    std::printf("%-12s: %ld steps -> %ld operator new; %ld steps -> %ld\n", path.label.c_str(),
                steps[0], allocations[0], steps[1], allocations[1]);
    EXPECT_GT(steps[1], 4 * steps[0]) << path.label;
    EXPECT_EQ(allocations[1], allocations[0]) << path.label;
  }
}

}  // namespace
}  // namespace snode
