// bptt through methods given as Butcher tableaus (integrators/tableau_integrator.hpp): the
// gradient of a Lotka–Volterra loss with the example files bogacki_shampine (explicit) and sdirk2
// (diagonally implicit) at a fixed step against central differences of the same discrete map, and
// the dopri5 tableau registered under another name giving the built-in's gradient bit for bit.
// bptt finds the tableau through Integrator::Capabilities(), never through the name.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "integrators/tableau_integrator.hpp"
#include "problems/lotka_volterra.hpp"
#include "tests/test_util/finite_difference_checks.hpp"

namespace snode {
namespace {

const std::string kExamples = SNODE_TABLEAU_EXAMPLES_DIR;

void RegisterExamples() {
  if (!IntegratorRegistry().Contains("bogacki_shampine")) {
    RegisterTableauFile(kExamples + "/bogacki_shampine.json");
  }
  if (!IntegratorRegistry().Contains("sdirk2")) RegisterTableauFile(kExamples + "/sdirk2.json");
  if (!IntegratorRegistry().Contains("dopri5_as_data")) {
    RegisterTableau("dopri5_as_data", ExplicitTableau("dopri5"));
  }
}

OdeProblem Problem() {
  return problems::LotkaVolterraProblem(problems::LotkaVolterraTrueRates(),
                                        problems::EquallySpacedTimes(2.0, 5));
}

MseLoss Targets(const OdeProblem& problem) {
  std::vector<Vector> targets;
  for (std::size_t i = 0; i < problem.output_times.size(); ++i) {
    targets.push_back(Vector::Constant(2, 1.0 + 0.2 * std::sin(problem.output_times[i])));
  }
  return MseLoss(targets);
}

IntegratorOptions FixedStep() {
  IntegratorOptions options;
  options.fixed_step = 0.05;
  options.rtol = 1e-12;  // implicit stages solved far below the differencing error
  options.atol = 1e-14;
  options.max_nonlinear_iters = 20;
  return options;
}

// Central differences of L in θ and z0, h_i = 1e-6·max(1, |x_i|).
Vector CentralDifferences(const OdeProblem& problem, const Loss& loss, Integrator& integrator) {
  const Index p = problem.theta.size();
  Vector x(p + problem.z0.size());
  x << problem.theta, problem.z0;
  const Matrix jacobian = test_util::CentralDifferenceJacobian(
      [&](const Vector& point) {
        OdeProblem perturbed = problem;
        perturbed.theta = point.head(p);
        perturbed.z0 = point.tail(problem.z0.size());
        return Vector::Constant(1, EvaluateLoss(perturbed, loss, integrator));
      },
      x);
  return jacobian.row(0).transpose();
}

TEST(TableauBptt, GradientMatchesCentralDifferencesAtAFixedStep) {
  RegisterExamples();
  const OdeProblem problem = Problem();
  const MseLoss loss = Targets(problem);
  for (const std::string name : {"bogacki_shampine", "sdirk2"}) {
    GradientOptions options;
    options.integrator = name;
    options.integrator_options = FixedStep();
    const LossAndGradient result =
        GradientRegistry().Create("bptt", options)->Compute(problem, loss);
    Vector gradient(result.dtheta.size() + result.dz0.size());
    gradient << result.dtheta, result.dz0;
    auto integrator = IntegratorRegistry().Create(name, FixedStep());
    const Vector differences = CentralDifferences(problem, loss, *integrator);
    const double error = test_util::MaxRelativeError(gradient, differences);
    std::printf("%s: bptt vs central differences, max relative error %.2e\n", name.c_str(), error);
    EXPECT_LT(error, 1e-6) << name;
  }
}

TEST(TableauBptt, Dopri5TableauUnderAnotherNameGivesTheBuiltinGradient) {
  RegisterExamples();
  const OdeProblem problem = Problem();
  const MseLoss loss = Targets(problem);
  GradientOptions options;
  options.integrator_options.rtol = 1e-7;
  options.integrator_options.atol = 1e-9;
  options.integrator = "dopri5";
  const LossAndGradient builtin =
      GradientRegistry().Create("bptt", options)->Compute(problem, loss);
  options.integrator = "dopri5_as_data";
  const LossAndGradient data = GradientRegistry().Create("bptt", options)->Compute(problem, loss);
  EXPECT_EQ(data.loss, builtin.loss);
  EXPECT_EQ(data.dtheta, builtin.dtheta);
  EXPECT_EQ(data.dz0, builtin.dz0);
}

}  // namespace
}  // namespace snode
