#pragma once
// Michaelis–Menten enzyme kinetics with full mass action, S + E ⇌ C → P + E, in the
// singular-perturbation scaling of Segel & Slemrod (1989): with s = substrate and c = complex
// (both scaled to [0, 1]) and ε = E0/S0 the ratio of enzyme to substrate,
//   s' = −s + (s + κ − ν) c,
//   c' = λ (s − (s + κ) c),      λ = 1/ε,
// θ = (κ, ν, λ) = (1, 0.5, λ), z(0) = (1, 0). λ enters θ itself, not ε: central differences
// perturb a parameter by a step relative to max(1, |θ_i|), which for ε ≪ 1 would be a large
// relative change (at ε = 1e-5 even a negative ε). The stiffness parameter λ = S0/E0: the
// complex reaches its quasi-steady state c ≈ s/(s + κ) in a layer of width ≈ ε/(1 + κ), after
// which the Jacobian keeps an eigenvalue ≈ −(s + κ)λ next to a slow one of order 1. Observed at
// t = {1/λ (inside the layer's tail), 0.5, 1, 2, 4}, L = Σ_t s(t) + c(t). No closed-form
// gradient: a study computes its own reference (problems/reference.hpp). c(0) = 0 sits on the
// boundary of the non-negative states, hence positive_states.

#include <memory>

#include "core/errors.hpp"
#include "problems/jacobian_field.hpp"
#include "problems/problem_registry.hpp"

namespace michaelis_menten {

class Field final : public snode::problems::JacobianField {
 public:
  Field() : JacobianField("michaelis_menten", 2, 3) {}
  std::unique_ptr<snode::VectorField> Clone() const override {
    return std::make_unique<Field>(*this);
  }

 protected:
  void Evaluate(double, snode::ConstVectorRef z, snode::ConstVectorRef theta,
                snode::VectorRef out) const override {
    const double s = z(0), c = z(1), kappa = theta(0), nu = theta(1), lambda = theta(2);
    out(0) = -s + (s + kappa - nu) * c;
    out(1) = lambda * (s - (s + kappa) * c);
  }
  void Jacobians(double, snode::ConstVectorRef z, snode::ConstVectorRef theta,
                 snode::MatrixRef dfdz, snode::MatrixRef dfdtheta) const override {
    const double s = z(0), c = z(1), kappa = theta(0), nu = theta(1), lambda = theta(2);
    dfdz << -1.0 + c, s + kappa - nu,  //
        lambda * (1.0 - c), -lambda * (s + kappa);
    dfdtheta << c, -c, 0.0,  //
        -lambda * c, 0.0, s - (s + kappa) * c;
  }
};

constexpr double kMinLambda = 10.0;  // the first observation 1/λ before the second, 0.5

inline snode::problems::ProblemSetup Make(double lambda) {
  snode::Require(lambda >= kMinLambda, "michaelis_menten: λ must be at least 10");
  snode::problems::ProblemSetup setup;
  setup.name = "michaelis_menten";
  setup.stiffness = lambda;
  setup.ode.field = std::make_shared<Field>();
  setup.ode.theta = (snode::Vector(3) << 1.0, 0.5, lambda).finished();
  setup.ode.z0 = (snode::Vector(2) << 1.0, 0.0).finished();
  setup.ode.output_times = {1.0 / lambda, 0.5, 1.0, 2.0, 4.0};
  setup.loss =
      std::make_shared<snode::LinearFunctionalLoss>(snode::LinearFunctionalLoss::SameAtEveryTime(
          snode::Vector::Ones(2), setup.ode.output_times.size()));
  return setup;
}

inline snode::problems::ProblemCapabilities Capabilities() {
  snode::problems::ProblemCapabilities c;
  c.description = "Michaelis–Menten kinetics (mass action), ε = E0/S0 = 1/λ, L = Σ_t s + c";
  c.sweeps = true;
  c.parameter = "λ";
  c.parameter_meaning = "the substrate-to-enzyme ratio S0/E0 (fast eigenvalue ≈ −(s + κ)λ)";
  c.default_lambdas = {10.0, 100.0, 1e3, 1e4, 1e5};
  c.min_lambda = kMinLambda;
  c.positive_states = true;
  return c;
}

}  // namespace michaelis_menten
