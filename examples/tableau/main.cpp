// Registers the two tableau files of this folder (bogacki_shampine.json, sdirk2.json) as snode
// integrators, then for each: the convergence order measured from fixed-step solves of the
// logistic equation z' = θ z (1 − z) (closed-form solution), and the bptt gradient of L = z(T)
// against central differences. Finally shows that wrong_coefficient.json is rejected.
//   tableau_example [DIR]    DIR: where the .json files are (default: this source folder)
// Exits 1 when an order is off by more than 0.1 or a gradient by more than 1e-6 (relative).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/vector_field.hpp"
#include "integrators/tableau_integrator.hpp"

namespace {

using snode::ConstVectorRef;
using snode::Vector;
using snode::VectorRef;

// z' = θ z (1 − z), one state, one parameter.
class Logistic final : public snode::VectorField {
 public:
  std::string name() const override { return "logistic"; }
  snode::Index state_size() const override { return 1; }
  snode::Index num_params() const override { return 1; }
  void F(double, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    out[0] = theta[0] * z[0] * (1.0 - z[0]);
  }
  void Jvp(double, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef v,
           VectorRef out) override {
    out[0] = theta[0] * (1.0 - 2.0 * z[0]) * v[0];
  }
  void VjpState(double t, ConstVectorRef z, ConstVectorRef theta, ConstVectorRef a,
                VectorRef out) override {
    Jvp(t, z, theta, a, out);  // 1 × 1 Jacobian
  }
  void VjpParams(double, ConstVectorRef z, ConstVectorRef, ConstVectorRef a,
                 VectorRef grad) override {
    grad[0] += a[0] * z[0] * (1.0 - z[0]);
  }
  bool HasDenseJacobian() const override { return true; }
  void DenseJacobian(double, ConstVectorRef z, ConstVectorRef theta,
                     snode::MatrixRef jac) override {
    jac(0, 0) = theta[0] * (1.0 - 2.0 * z[0]);
  }
  std::unique_ptr<snode::VectorField> Clone() const override {
    return std::make_unique<Logistic>();
  }
};

constexpr double kEnd = 2.0;

snode::OdeProblem Problem() {
  snode::OdeProblem problem;
  problem.field = std::make_shared<Logistic>();
  problem.theta = Vector::Constant(1, 2.0);
  problem.z0 = Vector::Constant(1, 0.1);
  problem.output_times = {kEnd};
  return problem;
}

snode::IntegratorOptions FixedStep(double h) {
  snode::IntegratorOptions options;
  options.fixed_step = h;
  options.rtol = 1e-12;  // implicit stages solved far below the truncation error
  options.atol = 1e-14;
  options.max_nonlinear_iters = 20;
  return options;
}

// Least-squares slope of log(error) against log(h).
double MeasuredOrder(const std::string& name) {
  const snode::OdeProblem problem = Problem();
  const double exact =
      1.0 / (1.0 + (1.0 / problem.z0[0] - 1.0) * std::exp(-problem.theta[0] * kEnd));
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (const int steps : {80, 160, 320, 640}) {
    const double h = kEnd / steps;
    const auto integrator = snode::IntegratorRegistry().Create(name, FixedStep(h));
    const double error = std::abs(integrator->Solve(problem).states.back()[0] - exact);
    std::printf("  h = %-8.4g error %.3e\n", h, error);
    const double x = std::log(h), y = std::log(error);
    sx += x, sy += y, sxx += x * x, sxy += x * y, n += 1;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

// Largest relative difference between the bptt gradient of L = z(T) in (θ, z0) and central
// differences of the same fixed-step solve.
double GradientCheck(const std::string& name) {
  const snode::OdeProblem problem = Problem();
  const auto loss = snode::LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(1), 1);
  snode::GradientOptions options;
  options.integrator = name;
  options.integrator_options = FixedStep(0.05);
  const snode::LossAndGradient result =
      snode::GradientRegistry().Create("bptt", options)->Compute(problem, loss);
  const auto integrator = snode::IntegratorRegistry().Create(name, FixedStep(0.05));
  auto central = [&](Vector snode::OdeProblem::*member) {
    constexpr double kStep = 1e-6;
    snode::OdeProblem plus = problem, minus = problem;
    (plus.*member)[0] += kStep;
    (minus.*member)[0] -= kStep;
    return (snode::EvaluateLoss(plus, loss, *integrator) -
            snode::EvaluateLoss(minus, loss, *integrator)) /
           (2 * kStep);
  };
  const double dtheta = central(&snode::OdeProblem::theta);
  const double dz0 = central(&snode::OdeProblem::z0);
  std::printf("  dL/dθ  bptt % .12f  central differences % .12f\n", result.dtheta[0], dtheta);
  std::printf("  dL/dz0 bptt % .12f  central differences % .12f\n", result.dz0[0], dz0);
  return std::max(std::abs(result.dtheta[0] - dtheta) / std::abs(dtheta),
                  std::abs(result.dz0[0] - dz0) / std::abs(dz0));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : TABLEAU_DIR;
  bool ok = true;
  try {
    for (const char* file : {"bogacki_shampine.json", "sdirk2.json"}) {
      const std::string name = snode::RegisterTableauFile(dir + "/" + file);
      const int order =
          snode::IntegratorRegistry().Create(name, FixedStep(0.1))->Capabilities().order;
      std::printf("%s (%s, order %d)\n", name.c_str(), file, order);
      const double measured = MeasuredOrder(name);
      std::printf("  measured order %.3f\n", measured);
      const double gradient_error = GradientCheck(name);
      std::printf("  gradient relative error %.2e\n", gradient_error);
      ok = ok && std::abs(measured - order) <= 0.1 && gradient_error <= 1e-6;
    }
  } catch (const snode::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  try {
    snode::RegisterTableauFile(dir + "/wrong_coefficient.json");
    std::printf("wrong_coefficient.json was accepted\n");
    ok = false;
  } catch (const snode::ConfigError& e) {
    std::printf("wrong_coefficient.json rejected: %s\n", e.what());
  }
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
