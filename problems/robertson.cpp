#include "problems/robertson.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <exception>
#include <memory>

#include "adjoint/finite_difference.hpp"
#include "adjoint/gradient_method.hpp"
#include "integrators/integrator.hpp"
#include "models/analytic_fields.hpp"

namespace snode::problems {
namespace {

Vector RobertsonWeights() {
  Vector weights(3);
  weights << 1.0, 1e4, 0.0;
  return weights;
}

GradientOptions TightOptions(const std::string& integrator) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = 1e-12;
  options.integrator_options.atol = 1e-20;
  options.integrator_options.max_steps = 1000000;
  return options;
}

// The tight CVODES adjoint; sets ref.adjoint (when finite) or ref.adjoint_message and returns the
// forward state at T (empty when it failed).
Vector TightAdjoint(const ProblemSetup& problem, RobertsonReference& ref) {
  if (!GradientRegistry().Contains("cvodes_adjoint") ||
      !IntegratorRegistry().Contains("cvodes_bdf")) {
    ref.adjoint_message = "cvodes_adjoint/cvodes_bdf is not registered";
    return Vector();
  }
  try {
    auto method = GradientRegistry().Create("cvodes_adjoint", TightOptions("cvodes_bdf"));
    const LossAndGradient result = method->Compute(problem.ode, *problem.loss);
    const Vector g = result.Joined();
    if (std::isfinite(result.loss) && g.allFinite()) ref.adjoint = g;
    return result.forward.states.empty() ? Vector() : result.forward.states.back();
  } catch (const std::exception& e) {
    ref.adjoint_message = e.what();
    return Vector();
  }
}

}  // namespace

std::vector<double> RobertsonSumTimes(double horizon) {
  std::vector<double> times;
  for (int i = 0; i < 50; ++i) {
    const double t = std::pow(10.0, -5.0 + 10.0 * i / 49.0);
    if (t <= horizon * (1.0 + 1e-12)) times.push_back(t);
  }
  return times;
}

ProblemSetup MakeRobertson(double horizon) {
  ProblemSetup setup;
  setup.name = "robertson";
  setup.stiffness = horizon;
  setup.ode = RobertsonOde({horizon});
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::FinalTimeOnly(RobertsonWeights(), 1));
  return setup;
}

ProblemSetup MakeRobertsonSum(double horizon) {
  ProblemSetup setup;
  setup.name = "robertson_sum";
  setup.stiffness = horizon;
  setup.ode = RobertsonOde(RobertsonSumTimes(horizon));
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(RobertsonWeights(), setup.ode.output_times.size()));
  return setup;
}

RobertsonReference ComputeRobertsonReference(const ProblemSetup& problem) {
  RobertsonReference ref;
  const Vector adjoint_final = TightAdjoint(problem, ref);
  ref.fd_integrator = IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "sdirk";
  Vector final_state;
  try {
    const LossAndGradient result =
        CentralDifferenceGradient(problem.ode, *problem.loss, TightOptions(ref.fd_integrator));
    ref.finite_difference = result.Joined();
    final_state = result.forward.states.back();
  } catch (const std::exception& e) {
    ref.fd_message = e.what();
  }
  if (ref.adjoint.size() > 0 && adjoint_final.size() > 0) final_state = adjoint_final;
  if (final_state.size() == 3) {
    Matrix jac(3, 3);
    problem.ode.field->DenseJacobian(problem.ode.output_times.back(), final_state,
                                     problem.ode.theta, jac);
    ref.spectral_radius = jac.eigenvalues().cwiseAbs().maxCoeff();
  }
  return ref;
}

OdeProblem RobertsonOde(std::vector<double> times, Vector rates) {
  OdeProblem ode;
  ode.field = std::make_shared<RobertsonField>();
  ode.z0 = Vector::Zero(3);
  ode.z0(0) = 1.0;
  ode.theta = std::move(rates);
  ode.output_times = std::move(times);
  return ode;
}

}  // namespace snode::problems
