#include "problems/van_der_pol.hpp"

#include <memory>
#include <vector>

#include "core/errors.hpp"
#include "problems/jacobian_field.hpp"

namespace snode::problems {

namespace {

class VanDerPolField final : public JacobianField {
 public:
  VanDerPolField() : JacobianField("van_der_pol_lienard", 2, 1) {}
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<VanDerPolField>(*this);
  }

 protected:
  void Evaluate(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) const override {
    const double mu = theta(0), x = z(0), y = z(1);
    out(0) = mu * (x - x * x * x / 3.0 - y);
    out(1) = x / mu;
  }
  void Jacobians(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef dfdz,
                 MatrixRef dfdtheta) const override {
    const double mu = theta(0), x = z(0), y = z(1);
    dfdz << mu * (1.0 - x * x), -mu, 1.0 / mu, 0.0;
    dfdtheta << x - x * x * x / 3.0 - y, -x / (mu * mu);
  }
};

}  // namespace

ProblemSetup MakeVanDerPol(double mu) {
  Require(mu > 0.0, "MakeVanDerPol: mu must be positive");
  ProblemSetup setup;
  setup.name = "van_der_pol";
  setup.stiffness = mu;
  setup.ode.field = std::make_shared<VanDerPolField>();
  setup.ode.theta = Vector::Constant(1, mu);
  setup.ode.z0.resize(2);
  setup.ode.z0 << 2.0, -2.0 / 3.0;
  setup.ode.output_times = {0.25 * mu, 0.5 * mu, 0.75 * mu, mu};
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(2), setup.ode.output_times.size()));
  return setup;
}

}  // namespace snode::problems
