#include "integrators/heun_integrator.hpp"

#include <utility>

namespace snode {

namespace {

StepMethod HeunMethod() {
  StepMethod method;
  method.kind = IntegratorKind::kExplicit;
  method.order = 2;
  method.error_order = 1;
  method.tableau = ExplicitTableau("heun");
  return method;
}

}  // namespace

HeunIntegrator::HeunIntegrator(IntegratorOptions options)
    : StepIntegrator("heun", std::move(options), HeunMethod()) {}

void HeunIntegrator::Step(StepContext& ctx, double t, const Vector& z, double h, Vector& z_new,
                          Vector& error) {
  const Vector& k1 = ctx.StartSlope();
  Vector& stage = ctx.Work(0);
  Vector& k2 = ctx.Work(1);
  stage = z + h * k1;
  ctx.F(t + h, stage, k2);
  z_new = z + (0.5 * h) * (k1 + k2);
  error = (0.5 * h) * (k2 - k1);
}

}  // namespace snode
