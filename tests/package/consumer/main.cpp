// One gradient through an installed snode: dy/dt = -λy, y(0) = 1, L = y(1) = e^{-λ}, so
// dL/dλ = -e^{-λ} and dL/dy0 = e^{-λ}. BPTT through dopri5 must match them to 1e-6 (relative).
#include <cmath>
#include <cstdio>
#include <memory>
#include <snode/adjoint/gradient_method.hpp>
#include <snode/adjoint/loss.hpp>
#include <snode/core/errors.hpp>
#include <snode/core/vector_field.hpp>

namespace {

class Decay final : public snode::VectorField {
 public:
  std::string name() const override { return "consumer_decay"; }
  snode::Index state_size() const override { return 1; }
  snode::Index num_params() const override { return 1; }
  void F(double, snode::ConstVectorRef z, snode::ConstVectorRef theta,
         snode::VectorRef out) override {
    out = -theta(0) * z;
  }
  void Jvp(double, snode::ConstVectorRef, snode::ConstVectorRef theta, snode::ConstVectorRef v,
           snode::VectorRef out) override {
    out = -theta(0) * v;
  }
  void VjpState(double, snode::ConstVectorRef, snode::ConstVectorRef theta, snode::ConstVectorRef a,
                snode::VectorRef out) override {
    out = -theta(0) * a;
  }
  void VjpParams(double, snode::ConstVectorRef z, snode::ConstVectorRef, snode::ConstVectorRef a,
                 snode::VectorRef grad) override {
    grad(0) -= a.dot(z);
  }
  std::unique_ptr<snode::VectorField> Clone() const override {
    return std::make_unique<Decay>(*this);
  }
};

}  // namespace

int main() {
  try {
    const double lambda = 2.0;
    snode::OdeProblem problem;
    problem.field = std::make_shared<Decay>();
    problem.z0 = snode::Vector::Ones(1);
    problem.theta = snode::Vector::Constant(1, lambda);
    problem.output_times = {1.0};
    const auto loss = snode::LinearFunctionalLoss::FinalTimeOnly(snode::Vector::Ones(1), 1);

    snode::GradientOptions options;
    options.integrator = "dopri5";
    options.integrator_options.rtol = 1e-10;
    options.integrator_options.atol = 1e-12;
    const snode::LossAndGradient result =
        snode::GradientRegistry().Create("bptt", options)->Compute(problem, loss);

    const double exact = std::exp(-lambda);
    const double error_theta = std::abs(result.dtheta(0) + exact) / exact;
    const double error_z0 = std::abs(result.dz0(0) - exact) / exact;
    std::printf("dL/dlambda = %.12f (exact %.12f), dL/dy0 = %.12f (exact %.12f)\n",
                result.dtheta(0), -exact, result.dz0(0), exact);
    if (error_theta > 1e-6 || error_z0 > 1e-6) {
      std::printf("FAILED: relative errors %.3g and %.3g exceed 1e-6\n", error_theta, error_z0);
      return 1;
    }
    std::printf("OK\n");
    return 0;
  } catch (const snode::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
