// The contract every registered gradient method must meet, over every integrator it accepts:
// L, dL/dθ and dL/dz0 match central finite differences of the same loss (style.md §7, levels 2–4).
//
// Cases come from GradientRegistry().Names() × a table of preferred integrators per method
// (filtered by what IntegratorRegistry() holds); a method "accepts" an integrator when Create and
// Compute do not throw ConfigError (otherwise the case is skipped, with the message).
//
// Tolerances, and why:
//   * bptt with a fixed step: it is the exact derivative of the discrete map, and the reference
//     differentiates the very same map (same integrator, same fixed step): ≤ 1e-7 relative.
//   * everything else (continuous adjoints; bptt on an adaptive step sequence, which holds the
//     step sizes constant while finite differences also move the controller's choices): the
//     method runs at rtol 1e-10 / atol 1e-12 and must match to ≤ 1e-5 relative. The reference
//     for adaptive runs is the continuous L(θ), differenced through dopri5 at rtol 1e-12 /
//     atol 1e-14: at the methods' own tolerance the difference quotient of an adaptive solve
//     carries noise ≈ rtol·L/h_fd ≈ 1e-4·L, measured up to 5e-6 relative on decay, too close to
//     the bound; two decades tighter leaves ≈ 1e-7.
// Relative error is max_i |a_i − e_i| / max_i |e_i| (test_util::MaxRelativeError).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>
#include <string>
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
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

using test_util::MaxRelativeError;

constexpr double kFixedStep = 0.01;
constexpr double kMethodRtol = 1e-10;
constexpr double kMethodAtol = 1e-12;
constexpr double kReferenceRtol = 1e-12;
constexpr double kReferenceAtol = 1e-14;

bool IsFixedStep(const std::string& integrator) {
  return integrator == "euler" || integrator == "heun" || integrator == "rk4" ||
         integrator == "backward_euler";
}

// Integrators to try per method, in order of preference (the first adaptive one is used by the
// cross-method and closed-form tests).
std::vector<std::string> PreferredIntegrators(const std::string& method) {
  if (method == "bptt") return {"dopri5", "euler", "rk4", "backward_euler"};
  if (method == "backsolve_adjoint") return {"dopri5", "cvodes_bdf", "sdirk", "epi2"};
  if (method == "cvodes_adjoint") return {"cvodes_bdf", "cvodes_adams"};
  return {"dopri5"};
}

struct ContractCase {
  std::string method;
  std::string integrator;
};

// Readable parameter in test names and failure messages.
void PrintTo(const ContractCase& c, std::ostream* os) { *os << c.method << "/" << c.integrator; }

std::vector<ContractCase> ContractCases() {
  std::vector<ContractCase> cases;
  for (const std::string& method : GradientRegistry().Names()) {
    for (const std::string& integrator : PreferredIntegrators(method)) {
      if (IntegratorRegistry().Contains(integrator)) cases.push_back({method, integrator});
    }
  }
  return cases;
}

GradientOptions MethodOptions(const std::string& integrator) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = kMethodRtol;
  options.integrator_options.atol = kMethodAtol;
  options.integrator_options.max_nonlinear_iters = 20;
  if (IsFixedStep(integrator)) options.integrator_options.fixed_step = kFixedStep;
  return options;
}

GradientOptions ReferenceOptions(const std::string& integrator) {
  if (IsFixedStep(integrator)) return MethodOptions(integrator);  // the same discrete map
  GradientOptions options;
  options.integrator = IntegratorRegistry().Contains("dopri5") ? "dopri5" : integrator;
  options.integrator_options.rtol = kReferenceRtol;
  options.integrator_options.atol = kReferenceAtol;
  return options;
}

// ---------------------------------------------------------------------------------------------
// Test problems: an MSE loss over 10 observation times.

struct TestProblem {
  std::string name;
  OdeProblem problem;
  std::shared_ptr<Loss> loss;
};

std::vector<double> TimesUpTo(double t_end, int count) {
  std::vector<double> times;
  for (int i = 1; i <= count; ++i) times.push_back(t_end * i / count);
  return times;
}

TestProblem LinearProblem() {
  TestProblem p;
  p.name = "linear";
  Matrix a(3, 3);
  a << -0.5, 1.0, 0.2, -1.0, -0.3, 0.0, 0.1, 0.4, -0.8;
  p.problem.field = std::make_shared<LinearField>(3);
  p.problem.theta = LinearField::ParamsFromMatrix(a);
  p.problem.z0 = (Vector(3) << 1.0, -0.5, 0.3).finished();
  p.problem.output_times = TimesUpTo(2.0, 10);
  std::vector<Vector> targets;
  for (double t : p.problem.output_times) {
    targets.push_back((Vector(3) << std::sin(t), std::cos(t), 0.1 * t).finished());
  }
  p.loss = std::make_shared<MseLoss>(targets);
  return p;
}

TestProblem LotkaVolterraProblem() {
  TestProblem p;
  p.name = "lotka_volterra";
  p.problem =
      problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(), TimesUpTo(2.0, 10));
  std::vector<Vector> targets;
  for (double t : p.problem.output_times) {
    targets.push_back((Vector(2) << 1.0 + 0.1 * t, 0.8).finished());
  }
  p.loss = std::make_shared<MseLoss>(targets);
  return p;
}

TestProblem MlpProblem() {
  TestProblem p;
  p.name = "mlp_2_16_16_2";
  MlpOptions options;
  options.widths = {2, 16, 16, 2};
  options.activations = {"tanh"};
  auto field = std::make_shared<MlpField>(options);
  p.problem.theta = field->InitialParams(7);
  p.problem.field = field;
  p.problem.z0 = (Vector(2) << 0.5, -0.3).finished();
  p.problem.output_times = TimesUpTo(1.0, 10);
  std::vector<Vector> targets;
  for (double t : p.problem.output_times) {
    targets.push_back((Vector(2) << std::cos(t), std::sin(t)).finished());
  }
  p.loss = std::make_shared<MseLoss>(targets);
  return p;
}

TestProblem MakeProblem(const std::string& name) {
  if (name == "linear") return LinearProblem();
  if (name == "lotka_volterra") return LotkaVolterraProblem();
  return MlpProblem();
}

// Finite-difference references are expensive (2·(P + n) + 1 solves): compute each once.
const LossAndGradient& Reference(const TestProblem& problem, const std::string& integrator) {
  static std::map<std::string, LossAndGradient> cache;
  const GradientOptions options = ReferenceOptions(integrator);
  const std::string key = problem.name + "/" + options.integrator + "/" +
                          std::to_string(options.integrator_options.fixed_step);
  auto it = cache.find(key);
  if (it == cache.end()) {
    it = cache.emplace(key, CentralDifferenceGradient(problem.problem, *problem.loss, options))
             .first;
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------------

class GradientContract : public ::testing::TestWithParam<ContractCase> {
 protected:
  void CheckAgainstFiniteDifferences(const std::string& problem_name) {
    const ContractCase& c = GetParam();
    const TestProblem problem = MakeProblem(problem_name);
    LossAndGradient actual;
    try {
      auto method = GradientRegistry().Create(c.method, MethodOptions(c.integrator));
      actual = method->Compute(problem.problem, *problem.loss);
    } catch (const ConfigError& error) {
      GTEST_SKIP() << c.method << " does not accept " << c.integrator << ": " << error.what();
    }
    const LossAndGradient& expected = Reference(problem, c.integrator);
    const bool exact_discrete = c.method == "bptt" && IsFixedStep(c.integrator);
    const double rtol = exact_discrete ? 1e-7 : 1e-5;
    // Same map, but the integrator's Newton iterations (implicit methods) stop at its own
    // tolerance while bptt's converge to 1e-14: 1e-10 on L.
    const double loss_rtol = exact_discrete ? 1e-10 : 1e-7;
    const double theta_error = MaxRelativeError(actual.dtheta, expected.dtheta);
    const double z0_error = MaxRelativeError(actual.dz0, expected.dz0);
    std::printf(
        "%s/%s on %s: dL/dtheta rel err %.2e, dL/dz0 rel err %.2e (bound %.0e), "
        "fwd rhs %ld, bwd rhs %ld, vjp %ld, %.1f ms\n",
        c.method.c_str(), c.integrator.c_str(), problem.name.c_str(), theta_error, z0_error, rtol,
        actual.stats.forward_rhs_evals, actual.stats.backward_rhs_evals, actual.stats.vjp_evals,
        1e3 * actual.stats.wall_seconds);
    EXPECT_NEAR(actual.loss, expected.loss, loss_rtol * std::abs(expected.loss));
    ASSERT_EQ(actual.dtheta.size(), problem.problem.theta.size());
    ASSERT_EQ(actual.dz0.size(), problem.problem.z0.size());
    EXPECT_LE(theta_error, rtol);
    EXPECT_LE(z0_error, rtol);
    EXPECT_EQ(actual.dreadout.size(), 0);
    EXPECT_GT(actual.stats.forward_rhs_evals, 0);
    EXPECT_FALSE(actual.stats.reconstruction_failed);
  }
};

TEST_P(GradientContract, MatchesFiniteDifferencesOnLinearField) {
  CheckAgainstFiniteDifferences("linear");
}

TEST_P(GradientContract, MatchesFiniteDifferencesOnLotkaVolterra) {
  CheckAgainstFiniteDifferences("lotka_volterra");
}

TEST_P(GradientContract, MatchesFiniteDifferencesOnMlp) { CheckAgainstFiniteDifferences("mlp"); }

INSTANTIATE_TEST_SUITE_P(Registered, GradientContract, ::testing::ValuesIn(ContractCases()),
                         [](const ::testing::TestParamInfo<ContractCase>& info) {
                           return info.param.method + "_" + info.param.integrator;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GradientContract);

// ---------------------------------------------------------------------------------------------
// Level 3 and 4: the methods agree with each other, and with the closed form on decay.

// The first preferred, registered, adaptive integrator the method accepts ("" if none).
std::unique_ptr<GradientMethod> AdaptiveMethod(const std::string& method, std::string* integrator) {
  for (const std::string& candidate : PreferredIntegrators(method)) {
    if (IsFixedStep(candidate) || !IntegratorRegistry().Contains(candidate)) continue;
    try {
      auto created = GradientRegistry().Create(method, MethodOptions(candidate));
      *integrator = candidate;
      return created;
    } catch (const ConfigError&) {
    }
  }
  return nullptr;
}

TEST(GradientMethods, AgreeWithEachOther) {
  const TestProblem problem = LotkaVolterraProblem();
  std::vector<std::string> names;
  std::vector<LossAndGradient> results;
  for (const std::string& method : GradientRegistry().Names()) {
    std::string integrator;
    auto created = AdaptiveMethod(method, &integrator);
    if (!created) continue;
    results.push_back(created->Compute(problem.problem, *problem.loss));
    names.push_back(method + "/" + integrator);
  }
  if (results.size() < 2) GTEST_SKIP() << "fewer than two methods with an adaptive integrator";
  for (std::size_t i = 1; i < results.size(); ++i) {
    SCOPED_TRACE(names[i] + " vs " + names[0]);
    const double theta_error = MaxRelativeError(results[i].dtheta, results[0].dtheta);
    const double z0_error = MaxRelativeError(results[i].dz0, results[0].dz0);
    std::printf("%s vs %s: dL/dtheta rel diff %.2e, dL/dz0 rel diff %.2e\n", names[i].c_str(),
                names[0].c_str(), theta_error, z0_error);
    EXPECT_NEAR(results[i].loss, results[0].loss, 1e-8 * std::abs(results[0].loss));
    EXPECT_LE(theta_error, 1e-5);
    EXPECT_LE(z0_error, 1e-5);
  }
}

TEST(GradientMethods, DecayClosedForm) {
  // y' = −λy, y0 = 1, L = y(1): dL/dλ = −e^{−λ}, dL/dy0 = e^{−λ}, within 1e-6 relative.
  for (const std::string& method : GradientRegistry().Names()) {
    std::string integrator;
    auto created = AdaptiveMethod(method, &integrator);
    if (!created) continue;
    for (double lambda : {1.0, 10.0}) {
      SCOPED_TRACE(method + "/" + integrator + ", lambda = " + std::to_string(lambda));
      const LossAndGradient result =
          created->Compute(problems::DecayOde(lambda), problems::DecayLoss());
      const double e = std::exp(-lambda);
      std::printf("%s/%s decay lambda=%g: dL/dlambda rel err %.2e, dL/dy0 rel err %.2e\n",
                  method.c_str(), integrator.c_str(), lambda, std::abs(result.dtheta[0] + e) / e,
                  std::abs(result.dz0[0] - e) / e);
      EXPECT_NEAR(result.loss, e, 1e-6 * e);
      EXPECT_NEAR(result.dtheta[0], -e, 1e-6 * e);
      EXPECT_NEAR(result.dz0[0], e, 1e-6 * e);
    }
  }
}

}  // namespace
}  // namespace snode
