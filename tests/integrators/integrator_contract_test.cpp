// Contract every registered integrator must honour. Parameterised over
// IntegratorRegistry().Names(), so a newly registered integrator (built-in or plug-in) is checked
// from the moment it exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

// Options that make each integrator accurate on LogisticProblem(), and the error it must reach.
// Fixed-step methods get a small fixed step; unknown (future) names get tight adaptive tolerances.
struct ContractSetting {
  IntegratorOptions options;
  double tolerance;
};

ContractSetting SettingFor(const std::string& name) {
  const auto fixed = [](double h, double tolerance) {
    ContractSetting s{IntegratorOptions(), tolerance};
    s.options.fixed_step = h;
    return s;
  };
  const auto adaptive = [](double rtol, double atol, double tolerance) {
    ContractSetting s{IntegratorOptions(), tolerance};
    s.options.rtol = rtol;
    s.options.atol = atol;
    return s;
  };
  static const std::map<std::string, ContractSetting> table = {
      {"euler", fixed(1e-3, 1e-3)},
      {"backward_euler", fixed(1e-3, 1e-3)},
      {"rk4", fixed(1e-2, 1e-7)},
      {"heun", adaptive(1e-7, 1e-9, 1e-5)},
      {"dopri5", adaptive(1e-9, 1e-12, 1e-7)},
      {"sdirk", adaptive(1e-8, 1e-10, 1e-6)},
      {"cvodes_bdf", adaptive(1e-9, 1e-12, 1e-6)},
      {"cvodes_adams", adaptive(1e-9, 1e-12, 1e-6)},
  };
  const auto it = table.find(name);
  return it != table.end() ? it->second : adaptive(1e-8, 1e-10, 1e-5);
}

// Wraps LogisticField and misbehaves on request.
class FaultyField final : public VectorField {
 public:
  enum class Mode { kNanAlways, kNanAfter, kThrowAfterCalls };
  FaultyField(Mode mode, double t_bad, long calls_before_throw)
      : mode_(mode), t_bad_(t_bad), calls_before_throw_(calls_before_throw), inner_(2) {}
  std::string name() const override { return "faulty_logistic"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 2; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    // Never read out before writing it: it may be a fresh, uninitialised solver vector.
    if (mode_ == Mode::kThrowAfterCalls) Misbehave(t, out);
    inner_.F(t, z, theta, out);
    if (mode_ != Mode::kThrowAfterCalls) Misbehave(t, out);
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    inner_.Jvp(t, z, theta, v, out);
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    inner_.VjpState(t, z, theta, a, out);
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    inner_.VjpParams(t, z, theta, a, grad);
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    inner_.DenseJacobian(t, z, theta, jac);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<FaultyField>(mode_, t_bad_, calls_before_throw_);
  }

 private:
  void Misbehave(double t, VectorRef out) {
    if (mode_ == Mode::kThrowAfterCalls) {
      if (++calls_ > calls_before_throw_) throw std::domain_error("field exploded on purpose");
      return;
    }
    if (mode_ == Mode::kNanAlways || t >= t_bad_) {
      out.setConstant(std::numeric_limits<double>::quiet_NaN());
    }
  }
  Mode mode_;
  double t_bad_;
  long calls_before_throw_;
  long calls_ = 0;
  test_util::LogisticField inner_;
};

class IntegratorContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Integrator> Make(const IntegratorOptions& options) const {
    return IntegratorRegistry().Create(GetParam(), options);
  }
};

TEST_P(IntegratorContract, SolvesLogisticToExpectedAccuracy) {
  const ContractSetting setting = SettingFor(GetParam());
  for (const char* linear_solver : {"dense", "gmres"}) {
    IntegratorOptions options = setting.options;
    options.linear_solver = linear_solver;
    const OdeProblem problem = test_util::LogisticProblem();
    const Trajectory trajectory = Make(options)->Solve(problem);
    ASSERT_EQ(trajectory.states.size(), problem.output_times.size());
    EXPECT_EQ(trajectory.times, problem.output_times);
    const double error = test_util::MaxLogisticError(problem, trajectory.states);
    EXPECT_LT(error, setting.tolerance) << GetParam() << " with " << linear_solver;
    EXPECT_GT(trajectory.stats.steps, 0);
    EXPECT_GT(trajectory.stats.rhs_evals, 0);
    EXPECT_GE(trajectory.stats.wall_seconds, 0.0);
  }
}

TEST_P(IntegratorContract, FirstOutputTimeMayEqualInitialTime) {
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {0.0, 1.0};
  const Trajectory trajectory = Make(SettingFor(GetParam()).options)->Solve(problem);
  ASSERT_EQ(trajectory.states.size(), 2u);
  EXPECT_EQ(trajectory.states[0], problem.z0);
  EXPECT_LT(test_util::MaxLogisticError(problem, trajectory.states),
            SettingFor(GetParam()).tolerance);
}

TEST_P(IntegratorContract, RecordedStepTimesCoverEveryOutputTime) {
  IntegratorOptions options = SettingFor(GetParam()).options;
  options.record_steps = true;
  const OdeProblem problem = test_util::LogisticProblem();
  const Trajectory trajectory = Make(options)->Solve(problem);
  const std::vector<double>& steps = trajectory.step_times;
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps.front(), problem.t0);
  for (std::size_t i = 1; i < steps.size(); ++i) EXPECT_GT(steps[i], steps[i - 1]);
  for (const double t : problem.output_times) {
    EXPECT_NE(std::find(steps.begin(), steps.end(), t), steps.end()) << "output time " << t;
  }
  EXPECT_EQ(static_cast<long>(steps.size()) - 1, trajectory.stats.steps);
  EXPECT_LT(test_util::MaxLogisticError(problem, trajectory.states),
            SettingFor(GetParam()).tolerance);
}

TEST_P(IntegratorContract, BadOptionsAreConfigErrors) {
  const IntegratorOptions good = SettingFor(GetParam()).options;
  const OdeProblem problem = test_util::LogisticProblem();
  const auto solve_with = [&](const IntegratorOptions& options) { Make(options)->Solve(problem); };
  IntegratorOptions bad = good;
  bad.rtol = -1e-6;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.atol = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.rtol = 0.0;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.fixed_step = -0.01;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.fixed_step = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.max_steps = 0;
  EXPECT_THROW(solve_with(bad), ConfigError);
  bad = good;
  bad.linear_solver = "lapack";
  EXPECT_THROW(solve_with(bad), ConfigError);
}

TEST_P(IntegratorContract, BadProblemsAreConfigErrors) {
  const std::unique_ptr<Integrator> integrator = Make(SettingFor(GetParam()).options);
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {0.5, 0.5, 1.0};
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem.output_times = {1.0, 0.5};
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem.output_times = {0.5, 1.0};
  problem.t0 = 0.75;
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  problem = test_util::LogisticProblem();
  problem.z0 = Vector::Zero(3);
  EXPECT_THROW(integrator->Solve(problem), ConfigError);
  // The object stays usable after rejected input.
  problem = test_util::LogisticProblem();
  EXPECT_LT(test_util::MaxLogisticError(problem, integrator->Solve(problem).states),
            SettingFor(GetParam()).tolerance);
}

TEST_P(IntegratorContract, ThousandReusedSolvesEqualFreshObjects) {
  const IntegratorOptions options = SettingFor(GetParam()).options;
  const std::unique_ptr<Integrator> reused = Make(options);
  OdeProblem problem = test_util::LogisticProblem();
  problem.output_times = {0.1, 0.2};
  double worst = 0.0;
  for (int k = 0; k < 1000; ++k) {
    problem.theta << 1.0 + 0.002 * k, 3.0 - 0.001 * k;
    problem.z0 << 0.1 + 0.0005 * k, 0.8 - 0.0003 * k;
    const Trajectory again = reused->Solve(problem);
    const Trajectory fresh = Make(options)->Solve(problem);
    ASSERT_EQ(again.states.size(), fresh.states.size());
    for (std::size_t i = 0; i < fresh.states.size(); ++i) {
      const double scale = std::max(1.0, fresh.states[i].cwiseAbs().maxCoeff());
      worst = std::max(worst, (again.states[i] - fresh.states[i]).cwiseAbs().maxCoeff() / scale);
    }
    ASSERT_EQ(again.stats.steps, fresh.stats.steps) << "solve " << k;
    ASSERT_EQ(again.stats.rhs_evals, fresh.stats.rhs_evals) << "solve " << k;
  }
  EXPECT_LE(worst, 1e-14);
}

TEST_P(IntegratorContract, NanFieldIsNumericalErrorNamingIntegratorAndTime) {
  for (const auto mode : {FaultyField::Mode::kNanAlways, FaultyField::Mode::kNanAfter}) {
    IntegratorOptions options = SettingFor(GetParam()).options;
    options.max_steps = 5000;
    OdeProblem problem = test_util::LogisticProblem();
    problem.field = std::make_shared<FaultyField>(mode, /*t_bad=*/0.25, 0);
    try {
      Make(options)->Solve(problem);
      ADD_FAILURE() << "no exception";
    } catch (const NumericalError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + GetParam() + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("t="), std::string::npos) << message;
      EXPECT_NE(message.find("NaN"), std::string::npos) << message;
    }
  }
}

TEST_P(IntegratorContract, FieldExceptionSurfacesUnchanged) {
  OdeProblem problem = test_util::LogisticProblem();
  problem.field = std::make_shared<FaultyField>(FaultyField::Mode::kThrowAfterCalls, 0.0, 7);
  const std::unique_ptr<Integrator> integrator = Make(SettingFor(GetParam()).options);
  try {
    integrator->Solve(problem);
    ADD_FAILURE() << "no exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "field exploded on purpose");
  }
  // The next solve with a healthy field works on the same object.
  problem = test_util::LogisticProblem();
  EXPECT_LT(test_util::MaxLogisticError(problem, integrator->Solve(problem).states),
            SettingFor(GetParam()).tolerance);
}

TEST_P(IntegratorContract, StateSizeChangeBetweenSolves) {
  const IntegratorOptions options = SettingFor(GetParam()).options;
  const std::unique_ptr<Integrator> integrator = Make(options);
  OdeProblem problem = test_util::LogisticProblem();
  integrator->Solve(problem);
  problem.field = std::make_shared<test_util::LogisticField>(3);
  problem.theta = (Vector(3) << 1.0, 2.0, 0.5).finished();
  problem.z0 = (Vector(3) << 0.3, 0.2, 0.9).finished();
  const Trajectory resized = integrator->Solve(problem);
  const Trajectory fresh = Make(options)->Solve(problem);
  ASSERT_EQ(resized.states.size(), fresh.states.size());
  for (std::size_t i = 0; i < fresh.states.size(); ++i) {
    EXPECT_LE((resized.states[i] - fresh.states[i]).cwiseAbs().maxCoeff(), 1e-14);
  }
  EXPECT_LT(test_util::MaxLogisticError(problem, resized.states), SettingFor(GetParam()).tolerance);
}

INSTANTIATE_TEST_SUITE_P(All, IntegratorContract, ::testing::ValuesIn(IntegratorRegistry().Names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace snode
