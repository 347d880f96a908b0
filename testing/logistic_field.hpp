#pragma once
// Test field with a closed-form solution for the integrator contract (and snode's own integrator
// tests): independent logistic equations z_i' = θ_i z_i (1 − z_i), solved by
// z_i(t) = 1 / (1 + (1/z_i(t0) − 1) e^{−θ_i (t − t0)}).

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/ode_problem.hpp"
#include "core/vector_field.hpp"

namespace snode::contract {

class LogisticField final : public snode::VectorField {
 public:
  explicit LogisticField(snode::Index dimension) : dimension_(dimension) {}
  std::string name() const override { return "logistic"; }
  snode::Index state_size() const override { return dimension_; }
  snode::Index num_params() const override { return dimension_; }
  void F(double, snode::ConstVectorRef z, snode::ConstVectorRef theta,
         snode::VectorRef out) override {
    out = theta.cwiseProduct(z).cwiseProduct((1.0 - z.array()).matrix());
  }
  void Jvp(double, snode::ConstVectorRef z, snode::ConstVectorRef theta, snode::ConstVectorRef v,
           snode::VectorRef out) override {
    out = theta.cwiseProduct((1.0 - 2.0 * z.array()).matrix()).cwiseProduct(v);
  }
  void VjpState(double t, snode::ConstVectorRef z, snode::ConstVectorRef theta,
                snode::ConstVectorRef a, snode::VectorRef out) override {
    Jvp(t, z, theta, a, out);  // diagonal Jacobian
  }
  void VjpParams(double, snode::ConstVectorRef z, snode::ConstVectorRef, snode::ConstVectorRef a,
                 snode::VectorRef grad) override {
    grad += a.cwiseProduct(z).cwiseProduct((1.0 - z.array()).matrix());
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double, snode::ConstVectorRef z, snode::ConstVectorRef theta,
                     snode::MatrixRef jac) override {
    jac.setZero();
    jac.diagonal() = theta.cwiseProduct((1.0 - 2.0 * z.array()).matrix());
  }
  std::unique_ptr<snode::VectorField> Clone() const override {
    return std::make_unique<LogisticField>(dimension_);
  }

  // Exact solution at t.
  static snode::Vector Exact(const snode::OdeProblem& problem, double t) {
    snode::Vector z(problem.z0.size());
    for (snode::Index i = 0; i < z.size(); ++i) {
      z[i] = 1.0 /
             (1.0 + (1.0 / problem.z0[i] - 1.0) * std::exp(-problem.theta[i] * (t - problem.t0)));
    }
    return z;
  }

 private:
  snode::Index dimension_;
};

// Two logistic components, θ = (1.5, 3), z0 = (0.1, 0.7), observed at t = 0.5, 1, 2.
inline snode::OdeProblem LogisticProblem() {
  snode::OdeProblem problem;
  problem.field = std::make_shared<LogisticField>(2);
  problem.theta = (snode::Vector(2) << 1.5, 3.0).finished();
  problem.z0 = (snode::Vector(2) << 0.1, 0.7).finished();
  problem.t0 = 0.0;
  problem.output_times = {0.5, 1.0, 2.0};
  return problem;
}

// max over output times and components of |z − exact|.
inline double MaxLogisticError(const snode::OdeProblem& problem,
                               const std::vector<snode::Vector>& states) {
  double error = 0.0;
  for (std::size_t k = 0; k < states.size(); ++k) {
    const snode::Vector exact = LogisticField::Exact(problem, problem.output_times[k]);
    error = std::max(error, (states[k] - exact).cwiseAbs().maxCoeff());
  }
  return error;
}

}  // namespace snode::contract
