#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "integrators/epi2_integrator.hpp"
#include "integrators/phi_functions.hpp"
#include "models/analytic_fields.hpp"
#include "problems/lotka_volterra.hpp"
#include "problems/robertson.hpp"

namespace snode {
namespace {

// Lotka–Volterra at θ = (α, β, δ, γ) = (1.5, 1, 3, 1) (δ and γ exchanged against the fits' rates),
// the values these tests' bounds were set on.
Vector SwappedRates() { return (Vector(4) << 1.5, 1.0, 3.0, 1.0).finished(); }

// z' = A z + b + t c (θ empty): non-autonomous, with the closed-form ∂f/∂t = c.
class AffineInTimeField final : public VectorField {
 public:
  AffineInTimeField(Matrix a, Vector b, Vector c)
      : a_(std::move(a)), b_(std::move(b)), c_(std::move(c)) {}
  std::string name() const override { return "affine_in_time"; }
  Index state_size() const override { return a_.rows(); }
  Index num_params() const override { return 0; }
  void F(double t, ConstVectorRef z, ConstVectorRef, VectorRef out) override {
    out.noalias() = a_ * z + b_ + t * c_;
  }
  void Jvp(double, ConstVectorRef, ConstVectorRef, ConstVectorRef v, VectorRef out) override {
    out.noalias() = a_ * v;
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef a, VectorRef out) override {
    out.noalias() = a_.transpose() * a;
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {}
  bool IsAutonomous() const override { return false; }
  void TimeDerivative(double, ConstVectorRef, ConstVectorRef, VectorRef out) override { out = c_; }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<AffineInTimeField>(*this);
  }

 private:
  Matrix a_;
  Vector b_, c_;
};

// Scalar Riccati equation y' = cos(t) − y² (non-autonomous, nonlinear).
class RiccatiField final : public VectorField {
 public:
  std::string name() const override { return "riccati"; }
  Index state_size() const override { return 1; }
  Index num_params() const override { return 0; }
  void F(double t, ConstVectorRef z, ConstVectorRef, VectorRef out) override {
    out[0] = std::cos(t) - z[0] * z[0];
  }
  void Jvp(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef v, VectorRef out) override {
    out[0] = -2.0 * z[0] * v[0];
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    Jvp(t, z, theta, a, out);
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {}
  bool IsAutonomous() const override { return false; }
  void TimeDerivative(double t, ConstVectorRef, ConstVectorRef, VectorRef out) override {
    out[0] = -std::sin(t);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<RiccatiField>(*this);
  }
};

// Wraps another field and returns NaN from F once t > t_bad (or everywhere when t_bad < t0).
class NanAfterField final : public ForwardingField {
 public:
  NanAfterField(std::shared_ptr<VectorField> inner, double t_bad)
      : ForwardingField(inner.get()), owned_(std::move(inner)), t_bad_(t_bad) {}
  std::string name() const override { return "nan_after(" + owned_->name() + ")"; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    owned_->F(t, z, theta, out);
    if (t > t_bad_) out[0] = std::numeric_limits<double>::quiet_NaN();
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<NanAfterField>(owned_, t_bad_);
  }

 private:
  std::shared_ptr<VectorField> owned_;
  double t_bad_;
};

Vector RandomVector(Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Vector v(n);
  for (Index i = 0; i < n; ++i) v[i] = uniform(rng);
  return v;
}

// Upper-triangular, strongly non-normal A with eigenvalues −1 … −1e6 (6 decades).
Matrix StiffNonNormalMatrix(Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Matrix a = Matrix::Zero(n, n);
  for (Index i = 0; i < n; ++i) a(i, i) = -std::pow(10.0, 6.0 * i / (n - 1.0));
  for (Index j = 0; j < n; ++j) {
    for (Index i = 0; i < j; ++i) a(i, j) = uniform(rng) * std::sqrt(a(i, i) * a(j, j));
  }
  return a;
}

double RelativeError(const Vector& actual, const Vector& expected) {
  return (actual - expected).norm() / expected.norm();
}

IntegratorOptions FixedStep(double h) {
  IntegratorOptions options;
  options.fixed_step = h;
  options.rtol = 1e-12;  // also the Krylov tolerance in fixed-step mode
  options.atol = 1e-14;
  return options;
}

// Slope of log(error) against log(h) (least squares).
double FittedSlope(const std::vector<double>& h, const std::vector<double>& error) {
  double mx = 0, my = 0;
  const double k = static_cast<double>(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    mx += std::log(h[i]) / k;
    my += std::log(error[i]) / k;
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    sxy += (std::log(h[i]) - mx) * (std::log(error[i]) - my);
    sxx += (std::log(h[i]) - mx) * (std::log(h[i]) - mx);
  }
  return sxy / sxx;
}

// Measured order of fixed-step epi2 at problem.output_times.back(), against a Richardson-
// extrapolated fine solution (error O(h³) at h = T/10240).
double MeasuredOrder(const OdeProblem& problem, std::vector<double>* errors) {
  const double span = problem.output_times.back() - problem.t0;
  auto solve = [&](int steps) {
    Epi2Integrator integrator(FixedStep(span / steps));
    return integrator.Solve(problem).states.back();
  };
  const Vector coarse = solve(5120), fine = solve(10240);
  const Vector reference = fine + (fine - coarse) / 3.0;
  std::vector<double> h;
  for (const int steps : {16, 32, 64, 128, 256}) {
    h.push_back(span / steps);
    errors->push_back(RelativeError(solve(steps), reference));
  }
  return FittedSlope(h, *errors);
}

TEST(Epi2Integrator, IsRegisteredAsEpi2) {
  const auto integrator = IntegratorRegistry().Create("epi2", IntegratorOptions());
  EXPECT_EQ(integrator->name(), "epi2");
}

TEST(Epi2Integrator, ExactInOneStepForStiffNonNormalLinearSystem) {
  const Index n = 8;
  const Matrix a = StiffNonNormalMatrix(n, 5);
  const Vector b = RandomVector(n, 6);
  const Vector eigenvalues = a.diagonal();
  ASSERT_GE(eigenvalues.cwiseAbs().maxCoeff() / eigenvalues.cwiseAbs().minCoeff(), 1e6);
  OdeProblem problem;
  problem.field = std::make_shared<LinearField>(n, b);
  problem.theta = LinearField::ParamsFromMatrix(a);
  problem.z0 = RandomVector(n, 7);
  for (const double h : {1e-7, 1e-3, 1.0, 1e3}) {
    problem.output_times = {h};
    // Exact: z(h) = z0 + h φ_1(hA)(A z0 + b), from the dense exponential of the augmented matrix.
    const Vector exact = problem.z0 + h * PhiDense(h * a, a * problem.z0 + b, 1);
    Epi2Integrator integrator(FixedStep(h));
    const Trajectory trajectory = integrator.Solve(problem);
    EXPECT_EQ(trajectory.stats.steps, 1);
    const double error = RelativeError(trajectory.states.back(), exact);
    EXPECT_LE(error, 1e-10) << "h = " << h;
    std::cout << "[ epi2 linear ] h=" << h << " relative error " << error << " krylov dim "
              << trajectory.stats.krylov_dim_max << "\n";
  }
}

TEST(Epi2Integrator, ExactInOneStepForNonAutonomousAffineSystem) {
  // z' = Az + b + t c: the h²φ_2(hJ)∂f/∂t term makes the step exact for a linear-in-t forcing.
  const Index n = 6;
  const Matrix a = StiffNonNormalMatrix(n, 8);
  const Vector b = RandomVector(n, 9), c = RandomVector(n, 10);
  OdeProblem problem;
  problem.field = std::make_shared<AffineInTimeField>(a, b, c);
  problem.theta = Vector(0);
  problem.z0 = RandomVector(n, 11);
  problem.t0 = 0.5;
  // Exact solution from the autonomous extension y = (z, t, 1): y' = [[A, c, b], [0, 0, 1], 0] y.
  Matrix m = Matrix::Zero(n + 2, n + 2);
  m.topLeftCorner(n, n) = a;
  m.col(n).head(n) = c;
  m.col(n + 1).head(n) = b;
  m(n, n + 1) = 1.0;
  Vector y0(n + 2);
  y0 << problem.z0, problem.t0, 1.0;
  // The t-mode does not decay, so rounding in the Krylov projection (≈ ε·h‖A‖ = 5e-9 at h = 50,
  // ‖A‖ = 1e6) is not damped as in the autonomous test: the bound is 1e-10 up to h = 1.
  for (const auto& [h, bound] :
       {std::pair{1e-3, 1e-10}, std::pair{1.0, 1e-10}, std::pair{50.0, 1e-8}}) {
    problem.output_times = {problem.t0 + h};
    const Vector exact = PhiDense(h * m, y0, 0).head(n);
    Epi2Integrator integrator(FixedStep(h));
    const Trajectory trajectory = integrator.Solve(problem);
    EXPECT_EQ(trajectory.stats.steps, 1);
    const double error = RelativeError(trajectory.states.back(), exact);
    EXPECT_LE(error, bound) << "h = " << h;
    std::cout << "[ epi2 affine-in-t ] h=" << h << " relative error " << error << "\n";
  }
}

TEST(Epi2Integrator, ConvergesWithOrderTwoOnLotkaVolterra) {
  const OdeProblem problem = problems::LotkaVolterraProblem(SwappedRates(), {2.0});
  std::vector<double> errors;
  const double order = MeasuredOrder(problem, &errors);
  std::cout << "[ epi2 order ] Lotka-Volterra errors";
  for (const double e : errors) std::cout << " " << e;
  std::cout << " -> order " << order << "\n";
  EXPECT_NEAR(order, 2.0, 0.2);
}

TEST(Epi2Integrator, ConvergesWithOrderTwoOnNonAutonomousRiccati) {
  OdeProblem problem;
  problem.field = std::make_shared<RiccatiField>();
  problem.theta = Vector(0);
  problem.z0 = Vector::Constant(1, 0.5);
  problem.output_times = {3.0};
  std::vector<double> errors;
  const double order = MeasuredOrder(problem, &errors);
  std::cout << "[ epi2 order ] Riccati errors";
  for (const double e : errors) std::cout << " " << e;
  std::cout << " -> order " << order << "\n";
  EXPECT_NEAR(order, 2.0, 0.2);
}

TEST(Epi2Integrator, FixedStepHitsEveryOutputTimeExactly) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(2);
  problem.theta = (Vector(2) << 1.0, 3.0).finished();
  problem.z0 = (Vector(2) << 1.0, -2.0).finished();
  problem.output_times = {0.0, 0.25, 0.7, 1.3};
  IntegratorOptions options = FixedStep(0.1);
  options.record_steps = true;
  Epi2Integrator integrator(options);
  const Trajectory trajectory = integrator.Solve(problem);
  ASSERT_EQ(trajectory.states.size(), 4u);
  for (std::size_t k = 0; k < 4; ++k) {
    const double t = problem.output_times[k];
    const Vector exact = (Vector(2) << std::exp(-t), -2.0 * std::exp(-3.0 * t)).finished();
    EXPECT_LE(RelativeError(trajectory.states[k], exact), 1e-12) << "t = " << t;
  }
  // 0→0.25: 3 steps (0.1, 0.1, 0.05); 0.25→0.7: 5; 0.7→1.3: 6.
  EXPECT_EQ(trajectory.stats.steps, 14);
  ASSERT_EQ(trajectory.step_times.size(), 15u);
  EXPECT_EQ(trajectory.step_times.front(), 0.0);
  EXPECT_EQ(trajectory.step_times[3], 0.25);
  EXPECT_EQ(trajectory.step_times.back(), 1.3);
}

TEST(Epi2Integrator, AdaptiveMatchesClosedFormOnLotkaVolterraReference) {
  // Adaptive epi2 at rtol 1e-8 against a very fine Richardson-extrapolated fixed-step solution.
  const OdeProblem problem = problems::LotkaVolterraProblem(SwappedRates(), {0.5, 1.0, 2.0});
  Trajectory coarse = Epi2Integrator(FixedStep(0.5 / 4096)).Solve(problem);
  Trajectory fine = Epi2Integrator(FixedStep(0.5 / 8192)).Solve(problem);
  IntegratorOptions options;
  options.rtol = 1e-8;
  options.atol = 1e-10;
  options.record_steps = true;
  Epi2Integrator integrator(options);
  const Trajectory trajectory = integrator.Solve(problem);
  for (std::size_t k = 0; k < 3; ++k) {
    const Vector reference = fine.states[k] + (fine.states[k] - coarse.states[k]) / 3.0;
    EXPECT_LE(RelativeError(trajectory.states[k], reference), 1e-6)
        << "t = " << trajectory.times[k];
  }
  EXPECT_EQ(trajectory.step_times.size(), static_cast<std::size_t>(trajectory.stats.steps + 1));
  EXPECT_EQ(trajectory.step_times.back(), 2.0);
  for (std::size_t i = 1; i < trajectory.step_times.size(); ++i) {
    EXPECT_GT(trajectory.step_times[i], trajectory.step_times[i - 1]);
  }
}

TEST(Epi2Integrator, AdaptiveRespectsMaxStepAndInitialStep) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.theta = Vector::Ones(1);
  problem.z0 = Vector::Ones(1);
  problem.output_times = {0.1, 1.0};
  IntegratorOptions options;
  options.max_step = 0.05;
  options.initial_step = 1e-3;
  options.record_steps = true;
  Epi2Integrator integrator(options);
  const Trajectory trajectory = integrator.Solve(problem);
  ASSERT_GE(trajectory.step_times.size(), 2u);
  EXPECT_DOUBLE_EQ(trajectory.step_times[1], 1e-3);
  for (std::size_t i = 1; i < trajectory.step_times.size(); ++i) {
    EXPECT_LE(trajectory.step_times[i] - trajectory.step_times[i - 1], 0.05 * (1.0 + 1e-12));
  }
  // The linear decay is integrated exactly, whatever the steps.
  EXPECT_NEAR(trajectory.states.back()[0], std::exp(-1.0), 1e-12);
}

TEST(Epi2Integrator, RobertsonMatchesTightReferenceInFewSteps) {
  const OdeProblem problem = problems::RobertsonOde({1.0, 100.0, 1e5});

  // Reference: CVODES BDF at rtol 1e-10 when registered, otherwise epi2 at rtol 1e-10.
  IntegratorOptions tight;
  tight.rtol = 1e-10;
  tight.atol = 1e-16;
  tight.max_steps = 10000000;
  const std::string reference_name =
      IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "epi2";
  const Trajectory reference = IntegratorRegistry().Create(reference_name, tight)->Solve(problem);

  IntegratorOptions options;
  options.rtol = 1e-6;
  options.atol = 1e-14;  // y2 falls to ~1e-10: its absolute tolerance must sit well below that
  Epi2Integrator integrator(options);
  const Trajectory trajectory = integrator.Solve(problem);
  for (std::size_t k = 0; k < 3; ++k) {
    for (Index i = 0; i < 3; ++i) {
      const double expected = reference.states[k][i];
      EXPECT_LE(std::abs(trajectory.states[k][i] - expected), 1e-4 * std::abs(expected))
          << "t = " << trajectory.times[k] << " component " << i << " epi2 "
          << trajectory.states[k][i] << " reference (" << reference_name << ") " << expected;
    }
  }
  const IntegratorStats& s = trajectory.stats;
  EXPECT_LT(s.steps, 5000);
  std::cout << "[ epi2 robertson ] reference " << reference_name << " (" << reference.stats.steps
            << " steps); epi2 rtol 1e-6 atol 1e-14: steps " << s.steps << ", rejected "
            << s.rejected_steps << ", f evals " << s.rhs_evals << ", JVPs " << s.jvp_evals
            << ", Arnoldi iters " << s.linear_iters << ", krylov dim max " << s.krylov_dim_max
            << " mean " << s.krylov_dim_mean << ", " << s.wall_seconds * 1e3 << " ms\n";
}

TEST(Epi2Integrator, StiffDecayWithLargeFixedStepIsBoundedAndDecays) {
  // dy/dt = −λy, λ = 1e4, h = 0.01 (hλ = 100): exact up to round-off, so |y| only decreases.
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.theta = Vector::Constant(1, 1e4);
  problem.z0 = Vector::Constant(1, 1.0);
  for (int k = 1; k <= 10; ++k) problem.output_times.push_back(0.01 * k);
  IntegratorOptions options;
  options.fixed_step = 0.01;
  Epi2Integrator integrator(options);
  const Trajectory trajectory = integrator.Solve(problem);
  double previous = 1.0;
  for (const Vector& y : trajectory.states) {
    ASSERT_TRUE(y.allFinite());
    EXPECT_LE(std::abs(y[0]), previous);
    EXPECT_LE(std::abs(y[0]), 1e-14);  // exact value e^{−100k} ≈ 0; round-off of 1 − 1
    previous = std::abs(y[0]);
  }
  EXPECT_EQ(trajectory.stats.steps, 10);
}

TEST(Epi2Integrator, RejectsBadOptions) {
  IntegratorOptions bad_rtol;
  bad_rtol.rtol = -1.0;
  EXPECT_THROW(Epi2Integrator{bad_rtol}, ConfigError);
  IntegratorOptions nan_step;
  nan_step.fixed_step = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(Epi2Integrator{nan_step}, ConfigError);
  IntegratorOptions no_krylov;
  no_krylov.krylov_max_dim = 0;
  EXPECT_THROW(IntegratorRegistry().Create("epi2", no_krylov), ConfigError);
  // Bad problem: output times not increasing.
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.theta = Vector::Ones(1);
  problem.z0 = Vector::Ones(1);
  problem.output_times = {1.0, 0.5};
  Epi2Integrator integrator{IntegratorOptions()};
  EXPECT_THROW(integrator.Solve(problem), ConfigError);
}

void ExpectNumericalErrorMentioning(Integrator& integrator, const OdeProblem& problem,
                                    const std::string& time) {
  try {
    integrator.Solve(problem);
    ADD_FAILURE() << "expected NumericalError";
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("epi2"), std::string::npos) << message;
    EXPECT_NE(message.find("t=" + time), std::string::npos) << message;
  }
}

TEST(Epi2Integrator, NonFiniteFieldThrowsNumericalErrorNamingIntegratorAndTime) {
  auto inner = std::make_shared<DecayField>(2);
  OdeProblem problem;
  problem.field = std::make_shared<NanAfterField>(inner, 0.5);
  problem.theta = Vector::Ones(2);
  problem.z0 = Vector::Ones(2);
  problem.output_times = {1.0};
  Epi2Integrator adaptive{IntegratorOptions()};
  ExpectNumericalErrorMentioning(adaptive, problem, "0.5");
  Epi2Integrator fixed(FixedStep(0.25));
  ExpectNumericalErrorMentioning(fixed, problem, "0.5");
  problem.field = std::make_shared<NanAfterField>(inner, -1.0);  // NaN at t0 already
  ExpectNumericalErrorMentioning(adaptive, problem, "0");
}

TEST(Epi2Integrator, TooMuchWorkNamesFlagTimeAndRemedy) {
  const OdeProblem problem = problems::RobertsonOde({1e5});
  IntegratorOptions options;
  options.max_steps = 20;
  Epi2Integrator integrator(options);
  try {
    integrator.Solve(problem);
    ADD_FAILURE() << "expected SundialsError";
  } catch (const SundialsError& e) {
    EXPECT_EQ(e.flag_name(), "EPI2_TOO_MUCH_WORK");
    const std::string message = e.what();
    EXPECT_NE(message.find("max_steps"), std::string::npos) << message;
    EXPECT_NE(message.find("'epi2'"), std::string::npos) << message;
  }
}

TEST(Epi2Integrator, ReusedObjectGivesIdenticalResultsAcrossSizes) {
  OdeProblem lv = problems::LotkaVolterraProblem(SwappedRates(), {0.5, 1.0});
  const OdeProblem rober = problems::RobertsonOde({1.0});
  IntegratorOptions options;
  options.atol = 1e-12;
  Epi2Integrator reused(options);
  for (int round = 0; round < 3; ++round) {
    lv.z0[0] = 1.0 + 0.1 * round;
    const Trajectory a = reused.Solve(lv);
    const Trajectory b = reused.Solve(rober);
    const Trajectory a_fresh = Epi2Integrator(options).Solve(lv);
    const Trajectory b_fresh = Epi2Integrator(options).Solve(rober);
    for (std::size_t k = 0; k < a.states.size(); ++k) {
      EXPECT_EQ((a.states[k] - a_fresh.states[k]).cwiseAbs().maxCoeff(), 0.0);
    }
    EXPECT_EQ((b.states[0] - b_fresh.states[0]).cwiseAbs().maxCoeff(), 0.0);
    EXPECT_EQ(a.stats.steps, a_fresh.stats.steps);
    EXPECT_EQ(b.stats.jvp_evals, b_fresh.stats.jvp_evals);
  }
}

}  // namespace
}  // namespace snode
