#pragma once
// "bs32": Bogacki–Shampine 3(2) (MATLAB's ode23), adaptive, FSAL, with its embedded 2nd-order
// error estimate; snode::StepIntegrator supplies the loop, controller, hooks and checks.
#include <utility>

#include "integrators/step_integrator.hpp"

class Bs32 final : public snode::StepIntegrator {
 public:
  explicit Bs32(snode::IntegratorOptions o) : StepIntegrator("bs32", std::move(o), Method()) {}
  // Order 3, embedding of order 2 and the tableau, so bptt can replay the steps.
  static snode::StepMethod Method() {
    snode::ButcherTableau b{
        4, 3, 2, snode::Matrix::Zero(4, 4), snode::Vector(4), snode::Vector(4), snode::Vector(4)};
    b.a.bottomLeftCorner(3, 3) << 0.5, 0, 0, 0, 0.75, 0, 2.0 / 9, 1.0 / 3, 4.0 / 9;
    b.b = b.a.row(3).transpose();
    b.c << 0, 0.5, 0.75, 1;
    b.b_embedded << 7.0 / 24, 0.25, 1.0 / 3, 0.125;
    return {snode::IntegratorKind::kExplicit, 3, 2, b, 0};
  }

 protected:
  void Step(snode::StepContext& ctx, double t, const snode::Vector& z, double h,
            snode::Vector& z_new, snode::Vector& error) override {
    const snode::Vector& k1 = ctx.StartSlope();  // the last step's k4
    snode::Vector &k2 = ctx.Work(0), &k3 = ctx.Work(1), &y = ctx.Work(2);
    y = z + (0.5 * h) * k1;
    ctx.F(t + 0.5 * h, y, k2);
    y = z + (0.75 * h) * k2;
    ctx.F(t + 0.75 * h, y, k3);
    z_new = z + h * (2.0 / 9 * k1 + 1.0 / 3 * k2 + 4.0 / 9 * k3);
    const snode::Vector& k4 = ctx.EndSlope(z_new);  // f(t + h, z_new): the next k1
    error = h * (-5.0 / 72 * k1 + 1.0 / 12 * k2 + 1.0 / 9 * k3 - 0.125 * k4);
  }
};
