// Tests of the exponential jump layer of cvodes_adjoint (CvodesAdjointOptions::jump_layer,
// adjoint/jump_layer.hpp): W5 (Robertson on [0, 1e5]) gradients against a tight CVODES
// reference, layer on vs off, a non-stiff problem, option validation and NaN/Inf handling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "adjoint/cvodes_adjoint.hpp"
#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/errors.hpp"
#include "core/forwarding_field.hpp"
#include "models/analytic_fields.hpp"
#include "models/mlp.hpp"
#include "problems/robertson.hpp"

namespace snode {
namespace {

// W5: Robertson, y0 = (1, 0, 0), 50 log-spaced observation times in [1e-5, 1e5]·horizon/1e5.
OdeProblem Robertson(double horizon = 1e5, Vector theta = RobertsonField::ClassicRates()) {
  std::vector<double> times;
  for (int i = 0; i < 50; ++i)
    times.push_back(std::pow(10.0, -5.0 + 10.0 * i / 49.0) * horizon / 1e5);
  return problems::RobertsonOde(std::move(times), std::move(theta));
}

Vector W5Weights() { return Vector{{1.0, 1e4, 0.0}}; }

// Forward rtol/atol, backward rtol/atol.
GradientOptions Options(double rtol, double atol, double backward_rtol, double backward_atol) {
  GradientOptions options;
  options.integrator = "cvodes_bdf";
  options.integrator_options.rtol = rtol;
  options.integrator_options.atol = atol;
  options.integrator_options.max_steps = 1000000;
  options.backward_options = options.integrator_options;
  options.backward_options->rtol = backward_rtol;
  options.backward_options->atol = backward_atol;
  return options;
}

// cvodes_adjoint's quadrature and jump_layer settings.
CvodesAdjointOptions Own(const std::string& quadrature, const std::string& layer) {
  return CvodesAdjointOptions::FromSettings({{"quadrature", quadrature}, {"jump_layer", layer}});
}

// The reference: CVODES at rtol 1e-12 (atol 1e-20) both ways, no layer.
LossAndGradient Reference(const OdeProblem& problem, const Loss& loss) {
  CvodesAdjoint method(Options(1e-12, 1e-20, 1e-12, 1e-20), Own("cvodes", "off"));
  return method.Compute(problem, loss);
}

double MaxRelativeError(const Vector& value, const Vector& reference) {
  double worst = 0.0;
  for (Index i = 0; i < value.size(); ++i) {
    const double error = std::abs(value(i) - reference(i)) / std::abs(reference(i));
    worst = std::isfinite(error) ? std::max(worst, error) : std::numeric_limits<double>::infinity();
  }
  return worst;
}

void Print(const char* label, const LossAndGradient& result, const LossAndGradient& reference) {
  std::printf("%s: dL/dk rel err (%.2e, %.2e, %.2e), steps fwd/bwd %ld/%ld\n", label,
              std::abs(result.dtheta(0) / reference.dtheta(0) - 1),
              std::abs(result.dtheta(1) / reference.dtheta(1) - 1),
              std::abs(result.dtheta(2) / reference.dtheta(2) - 1), result.stats.forward_steps,
              result.stats.backward_steps);
}

// The W5 sum loss with the layer: dL/dk to 1e-6 (measured 1.7e-7 with the CVODES quadrature,
// 6.8e-8 with Gauss–Legendre), dL/dz0 to 1e-5 (its third component is a small difference).
TEST(CvodesJumpLayer, RobertsonSumLossMatchesTightReference) {
  const OdeProblem problem = Robertson();
  const auto loss = LinearFunctionalLoss::SameAtEveryTime(W5Weights(), 50);
  const LossAndGradient reference = Reference(problem, loss);
  for (const std::string quadrature : {"cvodes", "gauss"}) {
    CvodesAdjoint method(Options(1e-9, 1e-15, 1e-10, 1e-16), Own(quadrature, "on"));
    const LossAndGradient result = method.Compute(problem, loss);
    Print(("sum, layer on, q=" + quadrature).c_str(), result, reference);
    EXPECT_LT(MaxRelativeError(result.dtheta, reference.dtheta), 1e-6) << quadrature;
    EXPECT_LT(MaxRelativeError(result.dz0, reference.dz0), 1e-5) << quadrature;
    EXPECT_NEAR(result.loss, reference.loss, 1e-8 * std::abs(reference.loss)) << quadrature;
  }
}

// The final-time loss (one jump, at T): measured 8e-9.
TEST(CvodesJumpLayer, RobertsonFinalTimeLossMatchesTightReference) {
  const OdeProblem problem = Robertson();
  const auto loss = LinearFunctionalLoss::FinalTimeOnly(W5Weights(), 50);
  const LossAndGradient reference = Reference(problem, loss);
  CvodesAdjoint method(Options(1e-9, 1e-15, 1e-9, 1e-15), Own("cvodes", "on"));
  const LossAndGradient result = method.Compute(problem, loss);
  Print("final, layer on", result, reference);
  EXPECT_LT(MaxRelativeError(result.dtheta, reference.dtheta), 1e-6);
  EXPECT_LT(MaxRelativeError(result.dz0, reference.dz0), 1e-6);
}

// With a running cost g = 1e4·y2 (the trailing 1 of the augmented system carries ∂g/∂z).
TEST(CvodesJumpLayer, RunningCostMatchesTightReference) {
  const OdeProblem problem = Robertson();
  std::vector<Vector> weights(50, W5Weights());
  const LinearFunctionalLoss loss(weights, Vector{{0.0, 1e4, 0.0}});
  const LossAndGradient reference = Reference(problem, loss);
  CvodesAdjoint method(Options(1e-9, 1e-15, 1e-10, 1e-16), Own("cvodes", "on"));
  const LossAndGradient result = method.Compute(problem, loss);
  Print("sum + running cost, layer on", result, reference);
  EXPECT_LT(MaxRelativeError(result.dtheta, reference.dtheta), 1e-6);
}

// On and off solve the same equations: they agree to the tolerance, and the layer saves
// backward steps (each CF4 step counted as one).
TEST(CvodesJumpLayer, OnAndOffAgree) {
  const OdeProblem problem = Robertson();
  const auto loss = LinearFunctionalLoss::SameAtEveryTime(W5Weights(), 50);
  CvodesAdjoint on(Options(1e-9, 1e-15, 1e-10, 1e-16), Own("cvodes", "on"));
  CvodesAdjoint off(Options(1e-9, 1e-15, 1e-10, 1e-16), Own("cvodes", "off"));
  const LossAndGradient with_layer = on.Compute(problem, loss);
  const LossAndGradient without = off.Compute(problem, loss);
  Print("sum, on vs off", with_layer, without);
  EXPECT_LT(MaxRelativeError(with_layer.dtheta, without.dtheta), 2e-6);
  EXPECT_LT(with_layer.stats.backward_steps, without.stats.backward_steps / 2);
  EXPECT_EQ(with_layer.loss, without.loss);
  // Reuse: a second call with other rates gives the same as a fresh object.
  const OdeProblem other = Robertson(1e5, Vector{{0.05, 3e7, 1e4}});
  CvodesAdjoint fresh(Options(1e-9, 1e-15, 1e-10, 1e-16), Own("cvodes", "on"));
  const LossAndGradient reused = on.Compute(other, loss);
  const LossAndGradient first = fresh.Compute(other, loss);
  for (Index i = 0; i < 3; ++i) EXPECT_EQ(reused.dtheta(i), first.dtheta(i));
}

// Non-stiff rates (0.5, 2, 1) on [0, 10]: no mode is stiff relative to a segment, so the layer is
// skipped and the gradient is the plain CVODES one, bit for bit.
TEST(CvodesJumpLayer, NonStiffProblemIsUnchanged) {
  const OdeProblem problem = Robertson(10.0, Vector{{0.5, 2.0, 1.0}});
  const auto loss = LinearFunctionalLoss::SameAtEveryTime(W5Weights(), 50);
  CvodesAdjoint on(Options(1e-8, 1e-12, 1e-8, 1e-12), Own("cvodes", "on"));
  CvodesAdjoint off(Options(1e-8, 1e-12, 1e-8, 1e-12), Own("cvodes", "off"));
  const LossAndGradient with_layer = on.Compute(problem, loss);
  const LossAndGradient without = off.Compute(problem, loss);
  for (Index i = 0; i < 3; ++i) EXPECT_EQ(with_layer.dtheta(i), without.dtheta(i));
  const LossAndGradient reference = Reference(problem, loss);
  EXPECT_LT(MaxRelativeError(with_layer.dtheta, reference.dtheta), 1e-5);
}

// A linear decay z' = −λz with λ = 1e3 observed at t_i = 0.02·i, i = 1..10: λ·(t_i − t_{i−1}) = 20,
// so every segment is stiff and the layer takes it whole (here z decays as fast as the adjoint,
// so the layer follows the forward steps). dL/dλ = Σ_i −t_i e^{−λ t_i}, dL/dz0 = Σ_i e^{−λ t_i}.
TEST(CvodesJumpLayer, StiffDecayMatchesClosedForm) {
  OdeProblem problem;
  problem.field = std::make_shared<DecayField>(1);
  problem.z0 = Vector::Ones(1);
  const double lambda = 1e3;
  problem.theta = Vector::Constant(1, lambda);
  double dtheta = 0.0, dz0 = 0.0;
  for (int i = 1; i <= 10; ++i) {
    const double t = 0.02 * i;
    problem.output_times.push_back(t);
    dtheta += -t * std::exp(-lambda * t);
    dz0 += std::exp(-lambda * t);
  }
  for (const std::string layer : {"on", "off"}) {
    CvodesAdjoint method(Options(1e-10, 1e-24, 1e-10, 1e-24), Own("cvodes", layer));
    const LossAndGradient result =
        method.Compute(problem, LinearFunctionalLoss::SameAtEveryTime(Vector::Ones(1), 10));
    std::printf("decay, layer %s: dL/dλ rel err %.2e, dL/dz0 rel err %.2e, bwd steps %ld\n",
                layer.c_str(), std::abs(result.dtheta(0) / dtheta - 1),
                std::abs(result.dz0(0) / dz0 - 1), result.stats.backward_steps);
    EXPECT_NEAR(result.dtheta(0), dtheta, 1e-6 * std::abs(dtheta)) << layer;
    EXPECT_NEAR(result.dz0(0), dz0, 1e-6 * std::abs(dz0)) << layer;
  }
}

TEST(CvodesJumpLayer, RejectsBadOptions) {
  EXPECT_THROW(Own("auto", "sometimes"), ConfigError);
  // "on" needs a CVODES backward.
  for (const std::string backward : {"epi2", "dopri5"}) {
    GradientOptions options = Options(1e-8, 1e-12, 1e-8, 1e-12);
    options.backward_integrator = backward;
    EXPECT_THROW((CvodesAdjoint{options, Own("auto", "on")}), ConfigError) << backward;
    EXPECT_NO_THROW((CvodesAdjoint{options, Own("auto", "auto")})) << backward;
  }
  // "on" with a backward system larger than 64: refused when the sizes are known.
  MlpOptions mlp_options;
  mlp_options.widths = {2, 16, 2};
  auto mlp = std::make_shared<MlpField>(mlp_options);
  OdeProblem problem;
  problem.field = mlp;
  problem.z0 = Vector::Ones(2);
  problem.theta = Vector::Constant(mlp->num_params(), 0.1);
  problem.output_times = {0.5, 1.0};
  CvodesAdjoint too_big(Options(1e-6, 1e-8, 1e-6, 1e-8), Own("auto", "on"));
  EXPECT_THROW(too_big.Compute(problem, LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(2), 2)),
               ConfigError);
  // "auto" leaves it off there and works.
  CvodesAdjoint automatic(Options(1e-6, 1e-8, 1e-6, 1e-8), Own("auto", "auto"));
  EXPECT_NO_THROW(
      automatic.Compute(problem, LinearFunctionalLoss::FinalTimeOnly(Vector::Ones(2), 2)));
}

// Robertson whose Jacobian (only) turns NaN or Inf after t_bad; F, the JVP and the VJPs stay
// finite, so with a matrix-free forward only the jump layer (and the dense backward Jacobian)
// sees it.
class BadJacobianRobertson final : public ForwardingField {
 public:
  BadJacobianRobertson(double t_bad, double value) : t_bad_(t_bad), value_(value) { Bind(&inner_); }
  std::string name() const override { return "robertson with a bad Jacobian"; }
  void DenseJacobian(double t, ConstVectorRef z, ConstVectorRef theta, MatrixRef jac) override {
    inner_.DenseJacobian(t, z, theta, jac);
    if (t > t_bad_) jac(1, 1) = value_;
  }
  std::unique_ptr<VectorField> Clone() const override {
    return std::make_unique<BadJacobianRobertson>(t_bad_, value_);
  }

 private:
  RobertsonField inner_;
  double t_bad_, value_;
};

TEST(CvodesJumpLayer, NonFiniteJacobianThrowsNumericalError) {
  for (const double value :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    OdeProblem problem = Robertson(1e5);
    problem.field = std::make_shared<BadJacobianRobertson>(1e3, value);
    GradientOptions options = Options(1e-6, 1e-12, 1e-6, 1e-12);
    options.integrator_options.linear_solver = "gmres";  // the forward never calls the Jacobian
    CvodesAdjoint method(options, Own("cvodes", "on"));
    EXPECT_THROW(method.Compute(problem, LinearFunctionalLoss::SameAtEveryTime(W5Weights(), 50)),
                 NumericalError)
        << value;
  }
}

// Robertson whose f turns NaN after t_bad: the forward fails with NumericalError, layer or not.
class NanRobertson final : public ForwardingField {
 public:
  NanRobertson() { Bind(&inner_); }
  std::string name() const override { return "robertson with NaN"; }
  void F(double t, ConstVectorRef z, ConstVectorRef theta, VectorRef out) override {
    inner_.F(t, z, theta, out);
    if (t > 10.0) out(0) = std::numeric_limits<double>::quiet_NaN();
  }
  std::unique_ptr<VectorField> Clone() const override { return std::make_unique<NanRobertson>(); }

 private:
  RobertsonField inner_;
};

TEST(CvodesJumpLayer, NanFieldThrowsNumericalError) {
  OdeProblem problem = Robertson(1e5);
  problem.field = std::make_shared<NanRobertson>();
  GradientOptions options = Options(1e-6, 1e-12, 1e-6, 1e-12);
  options.integrator_options.max_steps = 5000;
  CvodesAdjoint method(options, Own("cvodes", "on"));
  EXPECT_THROW(method.Compute(problem, LinearFunctionalLoss::SameAtEveryTime(W5Weights(), 50)),
               NumericalError);
}

}  // namespace
}  // namespace snode
