#include "problems/oregonator.hpp"

#include <cmath>
#include <memory>

#include "core/errors.hpp"
#include "problems/jacobian_field.hpp"

namespace snode::problems {

namespace {

// θ = (ln s, ln q, ln w); ∂f/∂ln k = k ∂f/∂k.
class OregonatorField final : public JacobianField {
 public:
  OregonatorField() : JacobianField("oregonator", 3, 3) {}
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<OregonatorField>(*this);
  }

 protected:
  void Evaluate(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) const override {
    const double s = std::exp(theta(0)), q = std::exp(theta(1)), w = std::exp(theta(2));
    out(0) = s * (z(1) - z(0) * z(1) + z(0) - q * z(0) * z(0));
    out(1) = (-z(1) - z(0) * z(1) + z(2)) / s;
    out(2) = w * (z(0) - z(2));
  }
  void Jacobians(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef dfdz,
                 MatrixRef dfdtheta) const override {
    const double s = std::exp(theta(0)), q = std::exp(theta(1)), w = std::exp(theta(2));
    dfdz << s * (1.0 - z(1) - 2.0 * q * z(0)), s * (1.0 - z(0)), 0.0,  //
        -z(1) / s, (-1.0 - z(0)) / s, 1.0 / s,                         //
        w, 0.0, -w;
    const double f0 = s * (z(1) - z(0) * z(1) + z(0) - q * z(0) * z(0));
    const double f1 = (-z(1) - z(0) * z(1) + z(2)) / s;
    dfdtheta << f0, -s * q * z(0) * z(0), 0.0,  //
        -f1, 0.0, 0.0,                          //
        0.0, 0.0, w * (z(0) - z(2));
  }
};

}  // namespace

std::vector<double> OregonatorTimes(double horizon) {
  return {0.1 * horizon, 0.25 * horizon, 0.5 * horizon, 0.75 * horizon, horizon};
}

ProblemSetup MakeOregonator(double horizon) {
  Require(horizon > 0.0, "MakeOregonator: horizon must be positive");
  ProblemSetup setup;
  setup.name = "oregonator";
  setup.stiffness = horizon;
  setup.ode.field = std::make_shared<OregonatorField>();
  setup.ode.theta.resize(3);
  setup.ode.theta << std::log(77.27), std::log(8.375e-6), std::log(0.161);
  setup.ode.z0.resize(3);
  setup.ode.z0 << 1.0, 2.0, 3.0;
  setup.ode.output_times = OregonatorTimes(horizon);
  Vector weights(3);
  weights << 1e-4, 1e-3, 1e-4;
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(weights, setup.ode.output_times.size()));
  return setup;
}

}  // namespace snode::problems
