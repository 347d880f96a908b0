// StepIntegrator (integrators/step_integrator.hpp): the step-level way to add a method. Exercised
// with examples/bs32_plugin/bs32.hpp (Bogacki–Shampine 3(2), registered here in-process as the
// plug-in registers it) and a 2-stage L-stable SDIRK written below with SolveImplicitStage.
#include "integrators/step_integrator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "examples/bs32_plugin/bs32.hpp"
#include "integrators/heun_integrator.hpp"
#include "tests/integrators/logistic_field.hpp"

// Every malloc of this test binary (operator new and Eigen's storage both end in it) is counted
// while g_count_mallocs is set; compiled out under sanitizers, which own malloc.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kCountsMalloc = false;
#else
constexpr bool kCountsMalloc = true;
std::atomic<bool> g_count_mallocs{false};
std::atomic<long> g_mallocs{0};
extern "C" void* __libc_malloc(std::size_t size);
extern "C" void* malloc(std::size_t size) noexcept {
  if (g_count_mallocs.load(std::memory_order_relaxed)) ++g_mallocs;
  return __libc_malloc(size);
}
#endif

namespace snode {
namespace {

const bool kBs32Registered = [] {
  IntegratorRegistry().Add("bs32",
                           [](const IntegratorOptions& o) { return std::make_unique<Bs32>(o); });
  return true;
}();

IntegratorOptions Fixed(double h) {
  IntegratorOptions options;
  options.fixed_step = h;
  return options;
}

IntegratorOptions Adaptive(double rtol, double atol) {
  IntegratorOptions options;
  options.rtol = rtol;
  options.atol = atol;
  return options;
}

std::unique_ptr<Integrator> MakeBs32(const IntegratorOptions& options) {
  EXPECT_TRUE(kBs32Registered);
  return IntegratorRegistry().Create("bs32", options);
}

// Least-squares slope of log(error) against log(h): the measured order.
double FittedOrder(const std::vector<double>& steps, const std::vector<double>& errors) {
  const double m = static_cast<double>(steps.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const double x = std::log(steps[i]), y = std::log(errors[i]);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

// Wraps the logistic field and returns NaN for t ≥ t_bad.
class NanAfterField final : public ForwardingField {
 public:
  explicit NanAfterField(double t_bad) : ForwardingField(&logistic_), t_bad_(t_bad), logistic_(2) {}
  std::string name() const override { return "nan_after"; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    ForwardingField::F(t, z, theta, out);
    if (t >= t_bad_) out.setConstant(std::numeric_limits<double>::quiet_NaN());
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<NanAfterField>(t_bad_);
  }

 private:
  double t_bad_;
  test_util::LogisticField logistic_;
};

double MaxError(const OdeProblem& problem, const Trajectory& trajectory) {
  return test_util::MaxLogisticError(problem, trajectory.states);
}

// ---------------------------------------------------------------------------------------------
// bs32

TEST(Bs32, DeclaresItsCapabilities) {
  const IntegratorCapabilities c = MakeBs32(IntegratorOptions())->Capabilities();
  EXPECT_EQ(c.kind, IntegratorKind::kExplicit);
  EXPECT_EQ(c.order, 3);
  EXPECT_TRUE(c.error_estimate);
  EXPECT_FALSE(c.needs_fixed_step);
  EXPECT_EQ(c.dense_output_order, 3);
  EXPECT_TRUE(c.output_jumps && c.step_hook && c.interpolated_outputs && c.records_steps);
  ASSERT_TRUE(c.tableau.has_value());
  EXPECT_TRUE(c.tableau->IsExplicit());
  EXPECT_EQ(c.cvodes_method, CvodesMethod::kNone);
}

// The declared tableau is the step, step for step (what bptt's replay relies on): one generic
// explicit Runge–Kutta step with it equals one bs32 step to round-off.
TEST(Bs32, TableauIsTheStep) {
  const ButcherTableau tableau = *Bs32::Method().tableau;
  const OdeProblem base = test_util::LogisticProblem();
  const double h = 0.3;
  std::vector<Vector> k(4, Vector::Zero(2));
  for (int i = 0; i < 4; ++i) {
    Vector y = base.z0;
    for (int j = 0; j < i; ++j) y += h * tableau.a(i, j) * k[static_cast<std::size_t>(j)];
    base.field->F(base.t0 + tableau.c[i] * h, y, base.theta, k[static_cast<std::size_t>(i)]);
  }
  Vector expected = base.z0;
  for (int i = 0; i < 4; ++i) expected += h * tableau.b[i] * k[static_cast<std::size_t>(i)];
  OdeProblem problem = base;
  problem.output_times = {h};
  const Trajectory trajectory = MakeBs32(Fixed(h))->Solve(problem);
  EXPECT_LE((trajectory.states[0] - expected).cwiseAbs().maxCoeff(), 1e-15);
}

// Fixed steps h = 0.1, 0.05, 0.025, 0.0125 on the logistic problem (max error over the outputs
// t = 0.5, 1, 2 against the closed form); the order is the least-squares slope of log error
// against log h over the four points.
TEST(Bs32, MeasuredOrderIsThree) {
  const std::vector<double> steps = {0.1, 0.05, 0.025, 0.0125};
  std::vector<double> errors;
  const OdeProblem problem = test_util::LogisticProblem();
  for (const double h : steps)
    errors.push_back(MaxError(problem, MakeBs32(Fixed(h))->Solve(problem)));
  const double order = FittedOrder(steps, errors);
  std::printf("bs32 errors %.3e %.3e %.3e %.3e: order %.4f\n", errors[0], errors[1], errors[2],
              errors[3], order);
  EXPECT_GE(order, 2.9);
  EXPECT_LE(order, 3.1);
}

TEST(Bs32, AdaptiveErrorFollowsTolerance) {
  const OdeProblem problem = test_util::LogisticProblem();
  double previous_error = 1.0;
  long previous_steps = 0;
  for (const double rtol : {1e-4, 1e-6, 1e-8, 1e-10}) {
    const Trajectory trajectory = MakeBs32(Adaptive(rtol, rtol * 1e-2))->Solve(problem);
    const double error = MaxError(problem, trajectory);
    std::printf("bs32 rtol %.0e: %ld steps, %ld rejected, error %.3e\n", rtol,
                trajectory.stats.steps, trajectory.stats.rejected_steps, error);
    EXPECT_LT(error, 10 * rtol) << rtol;
    EXPECT_LT(error, previous_error) << rtol;
    EXPECT_GT(trajectory.stats.steps, previous_steps) << rtol;
    previous_error = error;
    previous_steps = trajectory.stats.steps;
  }
}

// First same as last: f(t0, z0) once, then three evaluations per step attempt (k2, k3 and k4,
// which is the next step's k1); the adaptive starting step adds one probe evaluation.
TEST(Bs32, StatisticsCountFsalEvaluations) {
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory fixed = MakeBs32(Fixed(0.1))->Solve(problem);
  EXPECT_EQ(fixed.stats.steps, 20);
  EXPECT_EQ(fixed.stats.rejected_steps, 0);
  EXPECT_EQ(fixed.stats.rhs_evals, 1 + 3 * 20);
  EXPECT_EQ(fixed.stats.first_step, 0.0);
  const Trajectory adaptive = MakeBs32(Adaptive(1e-9, 1e-11))->Solve(problem);
  EXPECT_EQ(adaptive.stats.rhs_evals,
            2 + 3 * (adaptive.stats.steps + adaptive.stats.rejected_steps));
  EXPECT_GT(adaptive.stats.first_step, 0.0);
  EXPECT_EQ(
      adaptive.stats.jvp_evals + adaptive.stats.jacobian_evals + adaptive.stats.nonlinear_iters, 0);
  EXPECT_GE(adaptive.stats.wall_seconds, 0.0);
}

// A jump at t = 0.5 equals stopping there, changing the state and starting a new solve
// (bit for bit at a fixed step); the trajectory stores the state after the jump.
TEST(Bs32, JumpsAtOutputTimesRestartFromTheChangedState) {
  const Vector jump = (Vector(2) << 0.2, -0.3).finished();
  for (const IntegratorOptions& options : {Fixed(0.1), Adaptive(1e-9, 1e-11)}) {
    OdeProblem problem = test_util::LogisticProblem();
    std::vector<std::size_t> calls;
    problem.at_output = [&](std::size_t index, double t, VectorRef state) {
      calls.push_back(index);
      EXPECT_EQ(t, problem.output_times[index]);
      if (index != 0) return false;
      state += jump;
      return true;
    };
    const Trajectory jumped = MakeBs32(options)->Solve(problem);
    EXPECT_EQ(calls, (std::vector<std::size_t>{0, 1, 2}));

    OdeProblem first = test_util::LogisticProblem();
    first.output_times = {0.5};
    OdeProblem second = test_util::LogisticProblem();
    second.t0 = 0.5;
    second.z0 = MakeBs32(options)->Solve(first).states[0] + jump;
    second.output_times = {1.0, 2.0};
    const Trajectory restarted = MakeBs32(options)->Solve(second);
    EXPECT_EQ(jumped.states[0], second.z0);
    if (options.fixed_step > 0) {
      EXPECT_EQ(jumped.states[1], restarted.states[0]);
      EXPECT_EQ(jumped.states[2], restarted.states[1]);
      // The slope after the jump is evaluated anew: one more f than without the jump.
      EXPECT_EQ(jumped.stats.rhs_evals, 2 + 3 * jumped.stats.steps);
    }
    for (std::size_t k = 0; k < 2; ++k) {
      const Vector exact = test_util::LogisticField::Exact(second, second.output_times[k]);
      EXPECT_LT((jumped.states[k + 1] - exact).cwiseAbs().maxCoeff(),
                options.fixed_step > 0 ? 1e-4 : 1e-7)
          << k;
    }
  }
}

// after_step sees every accepted step, contiguous from t0 to the last output, and a dense output
// whose error at the step midpoints (against the closed form) falls as h³ (fixed steps
// 0.1 → 0.05: a ratio ≥ 2^2.8), equals the step's end state at its end, and refuses t outside.
TEST(Bs32, AfterStepHookGetsAnAccurateDenseOutput) {
  std::vector<double> midpoint_errors;
  for (const double h : {0.1, 0.05}) {
    OdeProblem problem = test_util::LogisticProblem();
    std::vector<double> ends = {problem.t0};
    double worst = 0.0;
    Vector z(2), end_state(2);
    problem.after_step = [&](double t_prev, double t_new, const DenseOutput& dense) {
      EXPECT_EQ(t_prev, ends.back());
      ends.push_back(t_new);
      dense.Evaluate(0.5 * (t_prev + t_new), z);
      const Vector exact = test_util::LogisticField::Exact(problem, 0.5 * (t_prev + t_new));
      worst = std::max(worst, (z - exact).cwiseAbs().maxCoeff());
      dense.Evaluate(t_new, end_state);
      EXPECT_THROW(dense.Evaluate(t_new + 0.5 * (t_new - t_prev), z), SundialsError);
    };
    IntegratorOptions options = Fixed(h);
    options.record_steps = true;
    const Trajectory trajectory = MakeBs32(options)->Solve(problem);
    EXPECT_EQ(ends, trajectory.step_times);
    EXPECT_EQ(end_state, trajectory.states.back());
    midpoint_errors.push_back(worst);
  }
  std::printf("bs32 dense midpoint errors %.3e %.3e\n", midpoint_errors[0], midpoint_errors[1]);
  EXPECT_GE(midpoint_errors[0] / midpoint_errors[1], std::pow(2.0, 2.8));
  EXPECT_LT(midpoint_errors[1], 1e-5);
}

TEST(Bs32, InterpolatedOutputsReadTheDenseOutput) {
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times.clear();
  for (int i = 0; i <= 40; ++i) problem.output_times.push_back(0.05 * i);
  IntegratorOptions options = Adaptive(1e-8, 1e-10);
  const Trajectory stops = MakeBs32(options)->Solve(problem);
  options.interpolate_outputs = true;
  const Trajectory interpolated = MakeBs32(options)->Solve(problem);
  ASSERT_EQ(interpolated.states.size(), problem.output_times.size());
  EXPECT_EQ(interpolated.states[0], problem.z0);
  EXPECT_LT(interpolated.stats.steps, stops.stats.steps);
  EXPECT_LT(MaxError(problem, interpolated), 1e-6);
  problem.after_step = [](double, double, const DenseOutput&) {};
  EXPECT_THROW(MakeBs32(options)->Solve(problem), ConfigError);
}

// Only the first error_test_size components enter the error test: leaving out the faster
// logistic component (θ = 3) takes fewer steps, and the tested one stays accurate.
TEST(Bs32, ErrorTestSizeLimitsTheErrorNorm) {
  OdeProblem problem = test_util::LogisticProblem();
  const Trajectory full = MakeBs32(Adaptive(1e-8, 1e-10))->Solve(problem);
  problem.error_test_size = 1;
  const Trajectory semi = MakeBs32(Adaptive(1e-8, 1e-10))->Solve(problem);
  EXPECT_LT(semi.stats.steps, full.stats.steps);
  const Vector exact = test_util::LogisticField::Exact(problem, 2.0);
  EXPECT_LT(std::abs(semi.states.back()[0] - exact[0]), 1e-6);
}

TEST(Bs32, StoreAllStatesFalseKeepsTheLast) {
  OdeProblem problem = test_util::LogisticProblem();
  const Trajectory all = MakeBs32(Fixed(0.1))->Solve(problem);
  problem.store_all_states = false;
  const Trajectory last = MakeBs32(Fixed(0.1))->Solve(problem);
  ASSERT_EQ(last.states.size(), 1u);
  EXPECT_EQ(last.states.back(), all.states.back());
}

TEST(Bs32, TooManyStepsIsTooMuchWorkError) {
  IntegratorOptions options = Fixed(1e-3);
  options.max_steps = 10;
  try {
    MakeBs32(options)->Solve(test_util::LogisticProblem());
    ADD_FAILURE() << "no exception";
  } catch (const SundialsError& e) {
    EXPECT_EQ(e.flag_name(), "BS32_TOO_MUCH_WORK");
    EXPECT_NE(std::string(e.what()).find("(integrator 'bs32'); more than max_steps=10 steps "
                                         "before t=0.5"),
              std::string::npos)
        << e.what();
  }
}

// f is NaN from t = 0.25: at a fixed step the stage at t = 0.25 reports it; adaptive steps
// shrink towards 0.25 until the step size underflows, then report it. NaN from the start
// (f(t0, z0)) is reported at once.
TEST(Bs32, NanIsNumericalErrorNamingMethodAndTime) {
  struct Case {
    IntegratorOptions options;
    double t_bad;
    const char* at;
  };
  for (const Case& c :
       {Case{Fixed(0.1), 0.25, "t=0.25"}, Case{Adaptive(1e-8, 1e-10), 0.25, "t=0.25"},
        Case{Adaptive(1e-8, 1e-10), 0.0, "t=0"}}) {
    OdeProblem problem = test_util::LogisticProblem();
    problem.field = std::make_shared<NanAfterField>(c.t_bad);
    try {
      MakeBs32(c.options)->Solve(problem);
      ADD_FAILURE() << "no exception";
    } catch (const NumericalError& e) {
      const std::string message = e.what();
      std::printf("%s\n", message.c_str());
      EXPECT_NE(message.find("integrator 'bs32': f is NaN or Inf at " + std::string(c.at)),
                std::string::npos)
          << message;
    }
  }
}

// A reused object returns bit for bit what a fresh one returns, hooks and jumps included.
TEST(Bs32, ThousandReusedSolvesAreBitIdenticalToFreshObjects) {
  IntegratorOptions options = Adaptive(1e-8, 1e-10);
  options.record_steps = true;
  const std::unique_ptr<Integrator> reused = MakeBs32(options);
  OdeProblem problem = test_util::LogisticProblem();
  problem.at_output = [](std::size_t index, double, VectorRef state) {
    state *= 0.9 + 0.01 * static_cast<double>(index);
    return true;
  };
  for (int k = 0; k < 1000; ++k) {
    problem.theta << 1.0 + 0.002 * k, 3.0 - 0.001 * k;
    problem.z0 << 0.1 + 0.0005 * k, 0.8 - 0.0003 * k;
    const Trajectory again = reused->Solve(problem);
    const Trajectory fresh = MakeBs32(options)->Solve(problem);
    ASSERT_EQ(again.states, fresh.states) << "solve " << k;
    ASSERT_EQ(again.step_times, fresh.step_times) << "solve " << k;
    ASSERT_EQ(again.stats.steps, fresh.stats.steps) << "solve " << k;
    ASSERT_EQ(again.stats.rejected_steps, fresh.stats.rejected_steps) << "solve " << k;
    ASSERT_EQ(again.stats.rhs_evals, fresh.stats.rhs_evals) << "solve " << k;
    ASSERT_EQ(again.stats.first_step, fresh.stats.first_step) << "solve " << k;
  }
}

TEST(StepIntegrator, MethodWithoutErrorEstimateNeedsFixedStep) {
  struct Euler final : StepIntegrator {
    explicit Euler(IntegratorOptions o)
        : StepIntegrator("step_euler", std::move(o),
                         StepMethod{IntegratorKind::kExplicit, 1, 0, std::nullopt, 0}) {}
    void Step(StepContext& ctx, double, const Vector& z, double h, Vector& z_new,
              Vector&) override {
      z_new = z + h * ctx.StartSlope();
    }
  };
  EXPECT_THROW(Euler{IntegratorOptions()}, ConfigError);
  const Euler euler(Fixed(0.1));
  const IntegratorCapabilities c = euler.Capabilities();
  EXPECT_TRUE(c.needs_fixed_step);
  EXPECT_FALSE(c.error_estimate || c.interpolated_outputs);
  EXPECT_EQ(c.dense_output_order, 1);
}

// ---------------------------------------------------------------------------------------------
// A 2-stage L-stable SDIRK on SolveImplicitStage (γ = 1 − 1/√2, stiffly accurate):
//   Z1 = z + γh f(t + γh, Z1),  Z2 = z + (1 − γ)h k1 + γh f(t + h, Z2),  z_new = Z2,
// with k1 = (Z1 − z)/(γh). Order 2, no error estimate (fixed steps).

const double kGamma = 1.0 - 1.0 / std::sqrt(2.0);

class Sdirk2 final : public StepIntegrator {
 public:
  explicit Sdirk2(IntegratorOptions o) : StepIntegrator("sdirk2", std::move(o), Method()) {}
  static StepMethod Method() {
    ButcherTableau b{2, 2, 0, Matrix(2, 2), Vector(2), Vector(2), Vector()};
    b.a << kGamma, 0.0, 1.0 - kGamma, kGamma;
    b.b << 1.0 - kGamma, kGamma;
    b.c << kGamma, 1.0;
    return {IntegratorKind::kDiagonallyImplicit, 2, 0, b, 0};
  }

 protected:
  void Step(StepContext& ctx, double t, const Vector& z, double h, Vector& z_new,
            Vector&) override {
    Vector& stage = ctx.Work(0);
    Vector& base = ctx.Work(1);
    ctx.SolveImplicitStage(t + kGamma * h, kGamma * h, z, z, stage);
    base = z + ((1.0 - kGamma) / kGamma) * (stage - z);
    ctx.SolveImplicitStage(t + h, kGamma * h, base, stage, z_new);
  }
};

// Prothero–Robinson: z' = λ(z − cos t) − sin t, solution cos t for z(0) = 1; stiff for λ ≪ 0.
class ProtheroRobinson final : public VectorField {
 public:
  ProtheroRobinson(double lambda, bool dense_jacobian)
      : lambda_(lambda), dense_jacobian_(dense_jacobian) {}
  std::string name() const override { return "prothero_robinson"; }
  Index state_size() const override { return 1; }
  Index num_params() const override { return 0; }
  void F(double t, ConstVectorRef z, ConstVectorRef, VectorRef out) override {
    out[0] = lambda_ * (z[0] - std::cos(t)) - std::sin(t);
  }
  void Jvp(double, ConstVectorRef, ConstVectorRef, ConstVectorRef v, VectorRef out) override {
    out = lambda_ * v;
  }
  void VjpState(double, ConstVectorRef, ConstVectorRef, ConstVectorRef a, VectorRef out) override {
    out = lambda_ * a;
  }
  void VjpParams(double, ConstVectorRef, ConstVectorRef, ConstVectorRef, VectorRef) override {}
  bool HasDenseJacobian() const override { return dense_jacobian_; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    if (!dense_jacobian_) return VectorField::DenseJacobian(t, z, theta, jac);
    jac(0, 0) = lambda_;
  }
  bool IsAutonomous() const override { return false; }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<ProtheroRobinson>(lambda_, dense_jacobian_);
  }

 private:
  double lambda_;
  bool dense_jacobian_;
};

OdeProblem StiffProblem(double lambda, bool dense_jacobian, double z0) {
  OdeProblem problem;
  problem.field = std::make_shared<ProtheroRobinson>(lambda, dense_jacobian);
  problem.z0 = Vector::Constant(1, z0);
  problem.theta = Vector(0);
  problem.output_times = {0.5, 1.0};
  return problem;
}

// Newton converged to round-off (rtol 1e-12), so the discretisation error is what is measured.
IntegratorOptions SdirkOptions(double h) {
  IntegratorOptions options = Fixed(h);
  options.rtol = 1e-12;
  options.atol = 1e-14;
  return options;
}

TEST(Sdirk2OnStepIntegrator, MeasuredOrderIsTwo) {
  const std::vector<double> steps = {0.1, 0.05, 0.025, 0.0125};
  std::vector<double> errors;
  const OdeProblem problem = test_util::LogisticProblem();
  for (const double h : steps) {
    const Trajectory trajectory = Sdirk2(SdirkOptions(h)).Solve(problem);
    errors.push_back(MaxError(problem, trajectory));
    EXPECT_GT(trajectory.stats.nonlinear_iters, 0);
    EXPECT_EQ(trajectory.stats.jacobian_evals, 2 * trajectory.stats.steps);
  }
  const double order = FittedOrder(steps, errors);
  std::printf("sdirk2 errors %.3e %.3e %.3e %.3e: order %.4f\n", errors[0], errors[1], errors[2],
              errors[3], order);
  EXPECT_GE(order, 1.9);
  EXPECT_LE(order, 2.1);
}

// h·|λ| = 1e4 (λ = −1e6, h = 0.01), started off the solution (z0 = 2): L-stability damps the
// transient in the first step and the solution stays within 1e-6 of cos t; heun, explicit,
// blows up at the same step.
TEST(Sdirk2OnStepIntegrator, StableOnAStiffLinearProblem) {
  for (const bool dense_jacobian : {true, false}) {
    const OdeProblem problem = StiffProblem(-1e6, dense_jacobian, 2.0);
    const Trajectory trajectory = Sdirk2(SdirkOptions(0.01)).Solve(problem);
    for (std::size_t k = 0; k < 2; ++k) {
      EXPECT_LT(std::abs(trajectory.states[k][0] - std::cos(problem.output_times[k])), 1e-6)
          << dense_jacobian << " " << k;
    }
    EXPECT_EQ(trajectory.stats.jacobian_evals, dense_jacobian ? 2 * trajectory.stats.steps : 0);
    EXPECT_EQ(trajectory.stats.jvp_evals, dense_jacobian ? 0 : 2 * trajectory.stats.steps);
  }
  EXPECT_THROW(HeunIntegrator(Fixed(0.01)).Solve(StiffProblem(-1e6, true, 2.0)), NumericalError);
}

TEST(Sdirk2OnStepIntegrator, NewtonFailureIsNumericalError) {
  IntegratorOptions options = SdirkOptions(0.1);
  options.max_nonlinear_iters = 1;
  try {
    Sdirk2(options).Solve(test_util::LogisticProblem());
    ADD_FAILURE() << "no exception";
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("integrator 'sdirk2': the Newton iteration of an implicit stage did "
                           "not converge in 1 iterations at t="),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("max_nonlinear_iters"), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------------------------------------
// No allocation per step: after one warm-up solve, SolveInto() into the same trajectory makes
// no malloc at all (so none per step), for bs32 adaptive with jumps, hooks that read the dense
// output and recorded steps, bs32 with interpolated outputs, heun at a fixed step and the SDIRK
// (Newton matrix, LU and solves).
long MallocsOfReusedSolve(Integrator& integrator, const OdeProblem& problem, long& steps) {
  Trajectory trajectory;
  integrator.SolveInto(problem, trajectory);
  long mallocs = 0;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  g_mallocs = 0;
  g_count_mallocs = true;
  integrator.SolveInto(problem, trajectory);
  g_count_mallocs = false;
  mallocs = g_mallocs;
#endif
  steps = trajectory.stats.steps;
  return mallocs;
}

TEST(StepIntegrator, ReusedSolvesDoNotAllocate) {
  if (!kCountsMalloc) GTEST_SKIP() << "malloc is the sanitizer's";
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  static Vector sink;  // the counter's self-check: a new Vector is one malloc
  g_mallocs = 0;
  g_count_mallocs = true;
  sink = Vector::Zero(1000 + g_mallocs);
  g_count_mallocs = false;
  ASSERT_GE(g_mallocs, 1);
#endif
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {5.0, 10.0, 20.0};
  Vector z(2);
  problem.after_step = [&z](double t_prev, double, const DenseOutput& dense) {
    dense.Evaluate(t_prev, z);
  };
  problem.at_output = [](std::size_t, double, VectorRef state) {
    state *= 0.9;
    return true;
  };
  IntegratorOptions options = Adaptive(1e-9, 1e-11);
  options.record_steps = true;
  OdeProblem dense_outputs = test_util::LogisticProblem();
  dense_outputs.output_times.clear();
  for (int i = 1; i <= 100; ++i) dense_outputs.output_times.push_back(0.2 * i);
  IntegratorOptions interpolated = Adaptive(1e-9, 1e-11);
  interpolated.interpolate_outputs = true;
  struct Case {
    const char* label;
    std::unique_ptr<Integrator> integrator;
    const OdeProblem* problem;
  };
  Case cases[] = {{"bs32 hooks", MakeBs32(options), &problem},
                  {"bs32 interpolated", MakeBs32(interpolated), &dense_outputs},
                  {"heun fixed", std::make_unique<HeunIntegrator>(Fixed(0.01)), &problem},
                  {"sdirk2", std::make_unique<Sdirk2>(SdirkOptions(0.01)), &problem}};
  for (Case& c : cases) {
    long steps = 0;
    EXPECT_EQ(MallocsOfReusedSolve(*c.integrator, *c.problem, steps), 0) << c.label;
    EXPECT_GT(steps, 100) << c.label;
  }
}

}  // namespace
}  // namespace snode
