#include "problems/decay.hpp"

#include <cmath>
#include <memory>

#include "models/analytic_fields.hpp"

namespace snode::problems {

OdeProblem DecayOde(double lambda, std::vector<double> times) {
  OdeProblem ode;
  ode.field = std::make_shared<DecayField>(1);
  ode.z0 = Vector::Ones(1);
  ode.theta = Vector::Constant(1, lambda);
  ode.output_times = std::move(times);
  return ode;
}

LinearFunctionalLoss DecayLoss() { return LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1); }

Vector DecayExactGradient(double lambda) {
  const double decay = std::exp(-lambda);  // 0 in double for λ > ~745
  Vector exact(2);
  exact << -decay, decay;
  return exact;
}

ProblemSetup MakeDecay(double lambda) {
  ProblemSetup setup;
  setup.name = "decay";
  setup.stiffness = lambda;
  setup.ode = DecayOde(lambda);
  setup.loss = std::make_shared<LinearFunctionalLoss>(DecayLoss());
  setup.exact_gradient = DecayExactGradient(lambda);
  return setup;
}

std::vector<double> TwoRateDecayTimes() { return {1e-3, 1e-2, 1e-1, 1.0}; }

OdeProblem TwoRateDecayOde(double lambda) {
  OdeProblem ode;
  ode.field = std::make_shared<DecayField>(2);
  ode.z0 = Vector::Ones(2);
  ode.theta.resize(2);
  ode.theta << 1.0, lambda;
  ode.output_times = TwoRateDecayTimes();
  return ode;
}

LinearFunctionalLoss TwoRateDecayLoss() {
  return LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), TwoRateDecayTimes().size());
}

Vector TwoRateDecayExactGradient(double lambda, const std::vector<double>& times) {
  double d1 = 0, d2 = 0, s1 = 0, s2 = 0;
  for (const double t : times) {
    d1 -= t * std::exp(-t);
    d2 -= t * std::exp(-lambda * t);
    s1 += std::exp(-t);
    s2 += std::exp(-lambda * t);
  }
  Vector exact(4);
  exact << d1, d2, s1, s2;
  return exact;
}

ProblemSetup MakeTwoRateDecay(double lambda) {
  ProblemSetup setup;
  setup.name = "two_rate_decay";
  setup.stiffness = lambda;
  setup.ode = TwoRateDecayOde(lambda);
  setup.loss = std::make_shared<LinearFunctionalLoss>(TwoRateDecayLoss());
  setup.exact_gradient = TwoRateDecayExactGradient(lambda);
  return setup;
}

}  // namespace snode::problems
