#include "problems/nonnormal_linear.hpp"

#include <cmath>
#include <memory>
#include <unsupported/Eigen/MatrixFunctions>

#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "models/analytic_fields.hpp"
#include "problems/linear_system.hpp"

namespace snode::problems {

Matrix NonNormalMatrix(double stiffness) {
  Require(std::isfinite(stiffness) && stiffness >= 1.0,
          "nonnormal problem: stiffness must be a finite number >= 1 (got " +
              std::to_string(stiffness) + ")");
  constexpr Index kSize = 4;
  Matrix u = Matrix::Zero(kSize, kSize);
  const double diagonal[kSize] = {-1.0, -stiffness, -0.9 * stiffness, -0.8 * stiffness};
  for (Index i = 0; i < kSize; ++i) u(i, i) = diagonal[i];
  for (Index i = 0; i < kSize; ++i) {
    for (Index j = i + 1; j < kSize; ++j) u(i, j) = 5.0 * std::sqrt(u(i, i) * u(j, j));
  }
  Vector v(kSize);
  v << 1.0, 2.0, 3.0, 4.0;
  const Matrix q = Matrix::Identity(kSize, kSize) - 2.0 * v * v.transpose() / v.squaredNorm();
  return q * u * q.transpose();
}

Vector NonNormalInitialState() { return Vector::Ones(4); }

Vector NonNormalWeights() { return Vector::Ones(4); }

double NonNormalClosedFormLoss(const Matrix& a, double horizon) {
  const Matrix phi = (a * horizon).exp();
  return NonNormalWeights().dot(phi * NonNormalInitialState());
}

Vector NonNormalExactGradient(const Matrix& a, double horizon) {
  return LinearFunctionalGradient(a, NonNormalInitialState(), NonNormalWeights(), horizon);
}

ProblemSetup NonNormalLinearProblem(double stiffness, double horizon) {
  Require(std::isfinite(horizon) && horizon > 0.0,
          "nonnormal problem: horizon must be a finite number > 0 (got " + std::to_string(horizon) +
              ")");
  const Matrix a = NonNormalMatrix(stiffness);
  ProblemSetup setup;
  setup.name = "nonnormal";
  setup.stiffness = stiffness;
  setup.ode.field = std::make_shared<LinearField>(4);
  setup.ode.theta = LinearField::ParamsFromMatrix(a);
  setup.ode.z0 = NonNormalInitialState();
  setup.ode.output_times = {horizon};
  setup.loss = std::make_shared<LinearFunctionalLoss>(
      LinearFunctionalLoss::FinalTimeOnly(NonNormalWeights(), 1));
  setup.exact_gradient = NonNormalExactGradient(a, horizon);
  return setup;
}

}  // namespace snode::problems
