#include "problems/robertson.hpp"

#include <cmath>
#include <memory>

#include "models/analytic_fields.hpp"
#include "problems/reference.hpp"

namespace snode::problems {
namespace {

Vector RobertsonWeights() {
  Vector weights(3);
  weights << 1.0, 1e4, 0.0;
  return weights;
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
  // The generic reference's tolerances with Robertson's atol_scale: rtol 1e-12, atol 1e-20.
  const ReferenceTolerances tolerances = ReferenceTolerancesFor(problem, 1e-6);
  const TightGradient adjoint = TightCvodesAdjoint(problem, tolerances);
  const TightGradient fd = TightCentralDifferences(problem, tolerances, 1e-6);
  RobertsonReference ref;
  ref.adjoint = adjoint.gradient;
  ref.adjoint_message = adjoint.message;
  ref.finite_difference = fd.gradient;
  ref.fd_integrator = fd.integrator;
  ref.fd_message = fd.message;
  const Vector& final_state = adjoint.gradient.size() > 0 && adjoint.final_state.size() > 0
                                  ? adjoint.final_state
                                  : fd.final_state;
  ref.spectral_radius = SpectralRadiusAt(problem.ode, final_state);
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
