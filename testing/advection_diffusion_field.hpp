#pragma once
// Test fields for the preconditioned Krylov solvers (snode's integrator and gradient tests).
//
// AdvectionDiffusionField: on x_i = i/n, dx = 1/n, periodic or with zero boundary values,
//   f_i(z; θ) = D (z_{i+1} − 2z_i + z_{i−1})/dx² − v (z_{i+1} − z_{i−1})/(2dx)
//               − θ_0 z_i + θ_1 tanh(z_i) + θ_2 (1 + sin 2πx_i),
// stiff through diffusion (|λ|max ≈ 4D/dx²) and non-symmetric through advection, so that the
// forward (I − γJ) and transposed (I − γJᵀ) Newton matrices differ. Its preconditioner is exact:
// a dense LU of I − γJ (or of I − γJᵀ) built at every Setup, so a Krylov solve with it converges
// in one iteration. Setup multiplies γ by gamma_sign (default 1): a test sets −1 to see what a
// wrong sign of γ does to the iteration counts. Preconditioners share the field's counters.
// JacobianHalfBandwidth() is 1 with zero boundaries, −1 (undeclared) when periodic.
//
// LinearDecayField: f = −θ_0 z on any number of states, cheap at any size (the dense limit).

#include <Eigen/LU>
#include <cmath>
#include <memory>
#include <string>

#include "core/ode_problem.hpp"
#include "core/preconditioner.hpp"
#include "core/vector_field.hpp"

namespace snode::testfields {

struct PreconditionerCounts {
  long setups = 0;
  long solves = 0;
  double last_gamma = 0.0;  // γ of the last Setup, as the solver passed it
  double last_t = 0.0;
};

class AdvectionDiffusionField final : public VectorField {
 public:
  struct Config {
    Index n = 40;
    double diffusion = 0.05;
    double velocity = 1.0;
    bool periodic = true;
    bool offers_preconditioner = true;
    double gamma_sign = 1.0;  // multiplies γ in Setup (1: correct)
  };
  explicit AdvectionDiffusionField(Config config)
      : config_(config), counts_(std::make_shared<PreconditionerCounts>()) {}

  std::string name() const override { return "advection_diffusion"; }
  Index state_size() const override { return config_.n; }
  Index num_params() const override { return 3; }

  void F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    Operator(z, out);
    const double dx = 1.0 / static_cast<double>(config_.n);
    for (Index i = 0; i < config_.n; ++i) {
      const double x = static_cast<double>(i) * dx;
      out[i] += -theta[0] * z[i] + theta[1] * std::tanh(z[i]) +
                theta[2] * (1.0 + std::sin(2.0 * M_PI * x));
    }
  }
  void Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    Operator(v, out);
    out.array() += Diagonal(z, theta).array() * v.array();
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    Matrix jac(config_.n, config_.n);
    DenseJacobian(t, z, theta, jac);
    out = jac.transpose() * a;
  }
  void VjpParams(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef a,
                 VectorRef grad) override {
    const double dx = 1.0 / static_cast<double>(config_.n);
    for (Index i = 0; i < config_.n; ++i) {
      const double x = static_cast<double>(i) * dx;
      grad[0] -= a[i] * z[i];
      grad[1] += a[i] * std::tanh(z[i]);
      grad[2] += a[i] * (1.0 + std::sin(2.0 * M_PI * x));
    }
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    const Index n = config_.n;
    Vector unit = Vector::Zero(n), column(n);
    for (Index j = 0; j < n; ++j) {
      unit[j] = 1.0;
      Operator(unit, column);
      jac.col(j) = column;
      unit[j] = 0.0;
    }
    jac.diagonal() += Diagonal(z, theta);
  }
  std::unique_ptr<Preconditioner> MakePreconditioner(PreconditionerSide side) override {
    if (!config_.offers_preconditioner) return nullptr;
    return std::make_unique<ExactPreconditioner>(*this, side);
  }
  Index JacobianHalfBandwidth() const override { return config_.periodic ? -1 : 1; }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<AdvectionDiffusionField>(config_);
  }

  const PreconditionerCounts& counts() const { return *counts_; }
  void ResetCounts() { *counts_ = PreconditionerCounts(); }

 private:
  class ExactPreconditioner final : public Preconditioner {
   public:
    ExactPreconditioner(AdvectionDiffusionField& field, PreconditionerSide side)
        : field_(field), side_(side), jac_(field.config_.n, field.config_.n) {}
    void Setup(double t, ConstVectorRef z, ConstVectorRef theta, double gamma) override {
      PreconditionerCounts& counts = *field_.counts_;
      ++counts.setups;
      counts.last_gamma = gamma;
      counts.last_t = t;
      field_.DenseJacobian(t, z, theta, jac_);
      if (side_ == PreconditionerSide::kTransposed) jac_.transposeInPlace();
      Matrix m = -(field_.config_.gamma_sign * gamma) * jac_;
      m.diagonal().array() += 1.0;
      lu_.compute(m);
    }
    void Solve(ConstVectorRef r, VectorRef x) override {
      ++field_.counts_->solves;
      x = lu_.solve(Vector(r));
    }

   private:
    AdvectionDiffusionField& field_;
    PreconditionerSide side_;
    Matrix jac_;
    Eigen::PartialPivLU<Matrix> lu_;
  };

  // out = (diffusion + advection) v.
  void Operator(ConstVectorRef v, VectorRef out) const {
    const Index n = config_.n;
    const double dx = 1.0 / static_cast<double>(n);
    const double d = config_.diffusion / (dx * dx), c = config_.velocity / (2.0 * dx);
    for (Index i = 0; i < n; ++i) {
      const bool first = i == 0, last = i == n - 1;
      const double left = first ? (config_.periodic ? v[n - 1] : 0.0) : v[i - 1];
      const double right = last ? (config_.periodic ? v[0] : 0.0) : v[i + 1];
      out[i] = d * (right - 2.0 * v[i] + left) - c * (right - left);
    }
  }
  // The pointwise part of ∂f/∂z: −θ_0 + θ_1 sech²(z_i).
  static Vector Diagonal(ConstVectorRef z, ConstVectorRef theta) {
    return (-theta[0] + theta[1] * (1.0 - z.array().tanh().square())).matrix();
  }

  Config config_;
  std::shared_ptr<PreconditionerCounts> counts_;
};

class LinearDecayField final : public VectorField {
 public:
  explicit LinearDecayField(Index n) : n_(n) {}
  std::string name() const override { return "linear_decay"; }
  Index state_size() const override { return n_; }
  Index num_params() const override { return 1; }
  void F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    out = -theta[0] * z;
  }
  void Jvp(double, ConstVectorRef, ConstVectorRef theta, ConstVectorRef v, VectorRef out) override {
    out = -theta[0] * v;
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    Jvp(t, z, theta, a, out);
  }
  void VjpParams(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef a,
                 VectorRef grad) override {
    grad[0] -= a.dot(z);
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<LinearDecayField>(n_);
  }

 private:
  Index n_;
};

// The field with θ = (1, 0.5, 1), z0 = sin 2πx + 0.5 cos 4πx on the grid and outputs at t = 0.25,
// 0.5, 0.75, 1 (the preconditioned-solve tests' problem).
inline OdeProblem AdvectionDiffusionProblem(const AdvectionDiffusionField::Config& config) {
  OdeProblem problem;
  problem.field = std::make_shared<AdvectionDiffusionField>(config);
  problem.theta = (Vector(3) << 1.0, 0.5, 1.0).finished();
  problem.z0.resize(config.n);
  for (Index i = 0; i < config.n; ++i) {
    const double x = static_cast<double>(i) / static_cast<double>(config.n);
    problem.z0[i] = std::sin(2.0 * M_PI * x) + 0.5 * std::cos(4.0 * M_PI * x);
  }
  problem.output_times = {0.25, 0.5, 0.75, 1.0};
  return problem;
}

}  // namespace snode::testfields
