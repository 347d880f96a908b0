#include "problems/boundary_layer.hpp"

#include <cmath>
#include <complex>
#include <memory>

#include "core/errors.hpp"
#include "problems/jacobian_field.hpp"

namespace snode::problems {

namespace {

constexpr double kPi = 3.14159265358979323846;

class BoundaryLayerField final : public JacobianField {
 public:
  BoundaryLayerField() : JacobianField("boundary_layer", 1, 3) {}
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<BoundaryLayerField>(*this);
  }
  bool IsAutonomous() const override { return false; }
  void TimeDerivative(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    CheckState("TimeDerivative", "z", z.size());
    CheckState("TimeDerivative", "out", out.size());
    CheckParams("TimeDerivative", theta.size());
    out(0) = -theta(0) * theta(1) * theta(2) * std::sin(theta(2) * t);
  }

 protected:
  void Evaluate(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) const override {
    out(0) = -theta(0) * (z(0) - theta(1) * std::cos(theta(2) * t));
  }
  void Jacobians(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef dfdz,
                 MatrixRef dfdtheta) const override {
    const double lambda = theta(0), a = theta(1), omega = theta(2);
    const double c = std::cos(omega * t);
    dfdz(0, 0) = -lambda;
    dfdtheta << -(z(0) - a * c), lambda * c, -lambda * a * t * std::sin(omega * t);
  }
};

// L(λ, a, ω, z0) = Σ_t z(t) from the closed-form solution, in complex arithmetic.
std::complex<double> LossOf(std::complex<double> lambda, std::complex<double> a,
                            std::complex<double> omega, std::complex<double> z0,
                            const std::vector<double>& times) {
  std::complex<double> sum = 0.0;
  const std::complex<double> denominator = lambda * lambda + omega * omega;
  for (const double t : times) {
    sum += std::exp(-lambda * t) * (z0 - a * lambda * lambda / denominator) +
           a * lambda * (lambda * std::cos(omega * t) + omega * std::sin(omega * t)) / denominator;
  }
  return sum;
}

}  // namespace

std::vector<double> BoundaryLayerTimes() { return {1e-5, 5e-5, 2e-4, 1e-3, 0.5, 1.0}; }

Vector BoundaryLayerExactGradient(double lambda, double amplitude, double omega, double z0,
                                  const std::vector<double>& times) {
  // Complex step: Im L(x + i h e_k) / h = ∂L/∂x_k to round-off for h far below any scale.
  const double h = 1e-40;
  const std::complex<double> step(0.0, h);
  Vector exact(4);
  exact(0) = std::imag(LossOf(lambda + step, amplitude, omega, z0, times)) / h;
  exact(1) = std::imag(LossOf(lambda, amplitude + step, omega, z0, times)) / h;
  exact(2) = std::imag(LossOf(lambda, amplitude, omega + step, z0, times)) / h;
  exact(3) = std::imag(LossOf(lambda, amplitude, omega, z0 + step, times)) / h;
  return exact;
}

ProblemSetup MakeBoundaryLayer(double lambda) {
  Require(lambda > 0.0, "MakeBoundaryLayer: lambda must be positive");
  const double amplitude = 1.0, omega = 2.0 * kPi, z0 = 2.0;
  ProblemSetup setup;
  setup.name = "boundary_layer";
  setup.stiffness = lambda;
  setup.ode.field = std::make_shared<BoundaryLayerField>();
  setup.ode.theta.resize(3);
  setup.ode.theta << lambda, amplitude, omega;
  setup.ode.z0 = Vector::Constant(1, z0);
  setup.ode.output_times = BoundaryLayerTimes();
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(1), setup.ode.output_times.size()));
  setup.exact_gradient = BoundaryLayerExactGradient(lambda, amplitude, omega, z0);
  return setup;
}

}  // namespace snode::problems
