// Solver faults become clear errors (docs/reliability.md, "Solver faults"): a network that
// produces Inf mid-solve, too much work, repeated error-test failures (CV_ERR_FAILURE /
// ARK_ERR_FAILURE), repeated Newton convergence failures (CV_CONV_FAILURE / ARK_CONV_FAILURE),
// NaN in a gradient method's forward or backward pass, and a backsolve reconstruction failure.
//
// NaN from the field mid-solve for every integrator is IntegratorContract.
// NanFieldIsNumericalErrorNamingIntegratorAndTime; too much work for single integrators is in
// their own tests (CvodesIntegrator.TooMuchWorkMessageNamesFlagTimeAndRemedy, ...). Here the
// faults run over every registered integrator (or every one that can show the fault) and every
// gradient method, so a new plug-in is covered from the moment it is registered.
//
// The faults are provoked by FaultField: the logistic field z_i' = θ_i z_i (1 − z_i) up to
// t_bad, and after it, on request,
//   kInf:        +Inf in every component;
//   kTimeNoise:  A·u(t, i), u in [−1/2, 1/2] a hash of the bits of t: finite and independent of
//                z (so Newton converges at once), but discontinuous at every t, so no step that
//                the error-test retries can reach passes the error test (A = 1e20 needs
//                h ≲ 1e-26). Its exact Jacobian, 0, is what Jvp/DenseJacobian return. With
//                t_bad = t0 and a set initial step, there is no smooth region that the solver
//                could creep along instead;
//   kCallNoise:  A·u(k, i), k the number of the evaluation: no two evaluations agree, so no
//                Newton iteration converges at any step the convergence-failure retries reach;
//   kNanVjp:     f is the logistic field everywhere, its VJPs are NaN for t ≥ t_bad.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/backsolve_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"
#include "optim/adam.hpp"
#include "problems/decay.hpp"
#include "tests/integrators/logistic_field.hpp"

namespace snode {
namespace {

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t Bits(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// A uniform number in [−1/2, 1/2] from a hash.
double Unit(std::uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53 - 0.5; }

class FaultField final : public VectorField {
 public:
  enum class Mode { kInf, kTimeNoise, kCallNoise, kNanVjp };
  FaultField(Mode mode, double t_bad) : mode_(mode), t_bad_(t_bad), inner_(2) {}
  std::string name() const override { return "fault_logistic"; }
  Index state_size() const override { return 2; }
  Index num_params() const override { return 2; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    inner_.F(t, z, theta, out);
    ++calls_;
    if (t < t_bad_) return;
    constexpr double kAmplitude = 1e20;
    for (Index i = 0; i < out.size(); ++i) {
      const std::uint64_t salt = SplitMix64(static_cast<std::uint64_t>(i) + 1);
      switch (mode_) {
        case Mode::kInf:
          out[i] = std::numeric_limits<double>::infinity();
          break;
        case Mode::kTimeNoise:
          out[i] = kAmplitude * Unit(SplitMix64(Bits(t) ^ salt));
          break;
        case Mode::kCallNoise:
          out[i] = kAmplitude * Unit(SplitMix64(static_cast<std::uint64_t>(calls_) ^ salt));
          break;
        case Mode::kNanVjp:
          break;
      }
    }
  }
  void Jvp(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    inner_.Jvp(t, z, theta, v, out);
    if (ZeroJacobian(t)) out.setZero();
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    inner_.VjpState(t, z, theta, a, out);
    if (mode_ == Mode::kNanVjp && t >= t_bad_) {
      out.setConstant(std::numeric_limits<double>::quiet_NaN());
    }
  }
  void VjpParams(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                 VectorRef grad) override {
    inner_.VjpParams(t, z, theta, a, grad);
    if (mode_ == Mode::kNanVjp && t >= t_bad_) {
      grad.setConstant(std::numeric_limits<double>::quiet_NaN());
    }
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    inner_.DenseJacobian(t, z, theta, jac);
    if (ZeroJacobian(t)) jac.setZero();
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<FaultField>(mode_, t_bad_);
  }

 private:
  // The time noise does not depend on z: its exact Jacobian is 0, so a Newton iteration
  // converges at once and only the error test can fail.
  bool ZeroJacobian(double t) const { return mode_ == Mode::kTimeNoise && t >= t_bad_; }

  Mode mode_;
  double t_bad_;
  long calls_ = 0;
  test_util::LogisticField inner_;
};

OdeProblem FaultProblem(FaultField::Mode mode, double t_bad) {
  OdeProblem problem = test_util::LogisticProblem();
  problem.field = std::make_shared<FaultField>(mode, t_bad);
  return problem;
}

// The noise from t0 = 1 on (outputs at 1.5, 2, 3): no smooth region to creep along, and steps
// cannot shrink below ulp(1) ≈ 2.2e-16 without t + h == t.
OdeProblem NoiseProblem(FaultField::Mode mode) {
  OdeProblem problem = FaultProblem(mode, 1.0);
  problem.t0 = 1.0;
  problem.output_times = {1.5, 2.0, 3.0};
  return problem;
}

bool IsFixedStep(const std::string& name) {
  return name == "euler" || name == "rk4" || name == "backward_euler";
}

IntegratorOptions OptionsFor(const std::string& name) {
  IntegratorOptions options;
  if (IsFixedStep(name)) options.fixed_step = 0.01;
  return options;
}

std::vector<std::string> Names() { return IntegratorRegistry().Names(); }

bool Contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Integrators.

TEST(SolverFault, InfFromFieldMidSolveIsNumericalErrorNamingIntegratorAndTime) {
  for (const std::string& name : Names()) {
    SCOPED_TRACE(name);
    try {
      IntegratorRegistry()
          .Create(name, OptionsFor(name))
          ->Solve(FaultProblem(FaultField::Mode::kInf, 0.7));
      ADD_FAILURE() << "no exception";
    } catch (const NumericalError& e) {
      std::printf("%s, Inf from t = 0.7: %s\n", name.c_str(), e.what());
      EXPECT_TRUE(Contains(e.what(), "'" + name + "'")) << e.what();
      EXPECT_TRUE(Contains(e.what(), "t=0.7")) << e.what();
      EXPECT_TRUE(Contains(e.what(), "Inf")) << e.what();
    }
  }
}

TEST(SolverFault, TooMuchWorkNamesFlagIntegratorAndRemedy) {
  for (const std::string& name : Names()) {
    SCOPED_TRACE(name);
    IntegratorOptions options = OptionsFor(name);
    options.max_steps = 3;
    if (!IsFixedStep(name)) {
      options.rtol = 1e-10;
      options.atol = 1e-12;
    }
    try {
      IntegratorRegistry().Create(name, options)->Solve(test_util::LogisticProblem());
      ADD_FAILURE() << "no exception";
    } catch (const SundialsError& e) {
      std::printf("%s, max_steps 3: %s\n", name.c_str(), e.what());
      EXPECT_EQ(e.flag(), -1) << e.what();
      EXPECT_TRUE(Contains(e.flag_name(), "TOO_MUCH_WORK")) << e.what();
      EXPECT_TRUE(Contains(e.what(), "'" + name + "'")) << e.what();
      EXPECT_TRUE(Contains(e.what(), "raise max_steps")) << e.what();
    }
  }
}

// The SUNDIALS flags an integrator may report for a fault (empty for integrators with their own
// step control: heun, epi2 and any future one, which must throw an snode::Error that names the
// integrator and the time).
std::vector<std::string> ExpectedFlags(const std::string& name, const std::string& fault) {
  if (name == "cvodes_bdf" || name == "cvodes_adams") return {"CV_" + fault};
  // sdirk on the time noise stops with ARK_CONV_FAILURE before the error test gives up: its
  // Newton convergence test fails first even with the exact (zero) Jacobian.
  if (name == "sdirk" && fault == "ERR_FAILURE") return {"ARK_ERR_FAILURE", "ARK_CONV_FAILURE"};
  if (name == "dopri5" || name == "sdirk" || name == "backward_euler") return {"ARK_" + fault};
  return {};
}

void ExpectFault(const std::string& name, const IntegratorOptions& options,
                 const OdeProblem& problem, const std::vector<std::string>& flags,
                 const char* what) {
  try {
    IntegratorRegistry().Create(name, options)->Solve(problem);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    std::printf("%s, %s: %s\n", name.c_str(), what, e.what());
    EXPECT_TRUE(Contains(e.what(), "'" + name + "'")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "t=")) << e.what();
    if (!flags.empty()) {
      const auto* sundials = dynamic_cast<const SundialsError*>(&e);
      ASSERT_NE(sundials, nullptr) << e.what();
      EXPECT_NE(std::find(flags.begin(), flags.end(), sundials->flag_name()), flags.end())
          << e.what();
      EXPECT_TRUE(Contains(e.what(), sundials->flag_name())) << e.what();
    }
  }
}

TEST(SolverFault, RepeatedErrorTestFailuresAreErrFailure) {
  for (const std::string& name : Names()) {
    if (IsFixedStep(name)) continue;  // no error test
    SCOPED_TRACE(name);
    IntegratorOptions options = OptionsFor(name);
    options.initial_step = 0.01;
    ExpectFault(name, options, NoiseProblem(FaultField::Mode::kTimeNoise),
                ExpectedFlags(name, "ERR_FAILURE"), "error-test failures");
  }
}

TEST(SolverFault, RepeatedNewtonFailuresAreConvFailure) {
  // Integrators with a nonlinear solver (explicit ones have none to fail).
  for (const std::string name : {"backward_euler", "sdirk", "cvodes_bdf"}) {
    if (!IntegratorRegistry().Contains(name)) continue;
    SCOPED_TRACE(name);
    IntegratorOptions options = OptionsFor(name);
    if (!IsFixedStep(name)) options.initial_step = 0.01;
    ExpectFault(name, options, NoiseProblem(FaultField::Mode::kCallNoise),
                ExpectedFlags(name, "CONV_FAILURE"), "Newton failures");
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient methods.

GradientOptions GradientOptionsFor(const std::string& integrator) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options = OptionsFor(integrator);
  return options;
}

// Every (method, integrator) pair among a few that the method accepts.
template <typename Check>
void ForEachMethod(Check check) {
  for (const std::string& method : GradientRegistry().Names()) {
    for (const std::string integrator : {"dopri5", "cvodes_bdf", "rk4"}) {
      if (!IntegratorRegistry().Contains(integrator)) continue;
      std::unique_ptr<GradientMethod> created;
      try {
        created = GradientRegistry().Create(method, GradientOptionsFor(integrator));
      } catch (const ConfigError&) {
        continue;
      }
      SCOPED_TRACE(method + "/" + integrator);
      check(method, integrator, *created);
    }
  }
}

const LinearFunctionalLoss& FinalSumLoss() {
  static const LinearFunctionalLoss loss = LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(2), 3);
  return loss;
}

TEST(SolverFault, InfInGradientForwardPassIsNumericalError) {
  ForEachMethod(
      [](const std::string& method, const std::string& integrator, GradientMethod& gradient) {
        try {
          gradient.Compute(FaultProblem(FaultField::Mode::kInf, 0.7), FinalSumLoss());
          ADD_FAILURE() << "no exception";
        } catch (const NumericalError& e) {
          std::printf("%s/%s, Inf in the forward pass: %s\n", method.c_str(), integrator.c_str(),
                      e.what());
          EXPECT_TRUE(Contains(e.what(), "NaN")) << e.what();
          EXPECT_TRUE(Contains(e.what(), "t")) << e.what();
        }
      });
}

// A NaN in the backward pass never reaches the parameters: the method throws an error naming
// itself, or (bptt, backsolve_adjoint) returns a non-finite gradient, which Adam::Step refuses
// with a NumericalError, leaving parameters and moments unchanged; backsolve_adjoint also raises
// its reconstruction flag.
TEST(SolverFault, NanInBackwardPassNeverReachesTheParameters) {
  ForEachMethod(
      [](const std::string& method, const std::string& integrator, GradientMethod& gradient) {
        LossAndGradient result;
        try {
          result = gradient.Compute(FaultProblem(FaultField::Mode::kNanVjp, 0.7), FinalSumLoss());
        } catch (const Error& e) {
          std::printf("%s/%s, NaN VJP: throws: %s\n", method.c_str(), integrator.c_str(), e.what());
          EXPECT_TRUE(Contains(e.what(), "'" + method + "'")) << e.what();
          EXPECT_TRUE(Contains(e.what(), "NaN")) << e.what();
          return;
        }
        std::printf("%s/%s, NaN VJP: returns dL/dtheta finite %d, reconstruction flag %d\n",
                    method.c_str(), integrator.c_str(), result.dtheta.allFinite() ? 1 : 0,
                    result.stats.reconstruction_failed ? 1 : 0);
        if (result.stats.vjp_evals == 0) return;  // finite_difference: no VJP on its path
        ASSERT_FALSE(result.dtheta.allFinite());
        if (method == "backsolve_adjoint") {
          EXPECT_TRUE(result.stats.reconstruction_failed);
        }
        Adam adam(result.dtheta.size());
        Vector params = Vector::Constant(result.dtheta.size(), 0.5);
        try {
          adam.Step(params, result.dtheta);
          ADD_FAILURE() << "Adam took a step on a non-finite gradient";
        } catch (const NumericalError& e) {
          EXPECT_TRUE(Contains(e.what(), "non-finite gradient")) << e.what();
          EXPECT_TRUE(Contains(e.what(), "parameters left unchanged")) << e.what();
        }
        EXPECT_TRUE(params == Vector::Constant(result.dtheta.size(), 0.5));
        EXPECT_EQ(adam.step(), 0u);
      });
}

// backsolve_adjoint cannot reconstruct z backward on a stiff decay (λ = 1e4: errors grow like
// e^{λ t}), nor when its backward solve fails (max_steps 2). Either way the forward loss is
// right, reconstruction_failed is set with reconstruction_error above the tolerance (or NaN),
// and a non-finite gradient is refused by Adam::Step.
TEST(SolverFault, BacksolveReconstructionFailureIsFlaggedAndNeverApplied) {
  if (!GradientRegistry().Contains("backsolve_adjoint") ||
      !IntegratorRegistry().Contains("dopri5")) {
    GTEST_SKIP() << "backsolve_adjoint or dopri5 not registered";
  }
  const double lambda = 1e4;
  const OdeProblem problem = problems::DecayOde(lambda);
  const LinearFunctionalLoss loss = problems::DecayLoss();
  GradientOptions stiff = GradientOptionsFor("dopri5");
  stiff.integrator_options.rtol = stiff.integrator_options.atol = 1e-6;
  GradientOptions short_backward = GradientOptionsFor("dopri5");
  short_backward.backward_options = short_backward.integrator_options;
  short_backward.backward_options->max_steps = 2;
  OdeProblem mild = problem;
  mild.theta[0] = 1.0;
  const struct {
    const char* label;
    GradientOptions options;
    OdeProblem problem;
  } cases[] = {{"stiff decay lambda 1e4", stiff, problem},
               {"backward max_steps 2", short_backward, mild}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto method = GradientRegistry().Create("backsolve_adjoint", c.options);
    const LossAndGradient result = method->Compute(c.problem, loss);
    std::printf(
        "backsolve_adjoint, %s: loss %.6e, dL/dtheta %.3e, reconstruction error %.3e, flag %d\n",
        c.label, result.loss, result.dtheta[0], result.stats.reconstruction_error,
        result.stats.reconstruction_failed ? 1 : 0);
    EXPECT_NEAR(result.loss, std::exp(-c.problem.theta[0]), 1e-5);
    EXPECT_TRUE(result.stats.reconstruction_failed);
    EXPECT_TRUE(std::isnan(result.stats.reconstruction_error) ||
                result.stats.reconstruction_error > BacksolveOptions().reconstruction_tolerance);
    if (!result.dtheta.allFinite()) {
      Adam adam(1);
      Vector params = Vector::Constant(1, 0.25);
      EXPECT_THROW(adam.Step(params, result.dtheta), NumericalError);
      EXPECT_EQ(params[0], 0.25);
    }
  }
}

}  // namespace
}  // namespace snode
