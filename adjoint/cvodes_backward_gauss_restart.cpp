// The CVODES backward pass restarted at every observation, with the Gauss–Legendre parameter
// quadrature: CVodeB in CV_ONE_STEP mode, and ∫ (∂f/∂θ)ᵀ a dt added over each backward step by
// 1–3 Gauss nodes (by the step's order), a from the backward dense output and z from the
// recorded forward step polynomials, split at the forward steps.
#include <algorithm>

#include "adjoint/cvodes_backward_restarting.hpp"

namespace snode {

namespace {

class GaussRestartBackward final : public CvodesRestartingBackward {
 public:
  GaussRestartBackward(const GradientOptions& options, Index n, bool jump_layer,
                       CvodesForward& forward, SUNContext ctx)
      : CvodesRestartingBackward(options, n, true, jump_layer, forward, ctx) {}

 private:
  long Segment(const OdeProblem& problem, double t_high, double t_low, Vector& a,
               Vector& grad) override {
    solver_.State() = a;
    solver_.Restart(t_high);
    double t_prev = t_high;
    double t_current = t_high;
    long steps = 0;
    // CV_ONE_STEP: every call takes exactly one backward step (CVodeB stops it at checkpoint
    // boundaries), and the step may overshoot t_low; the quadrature then stops at t_low and
    // a(t_low) comes from the step's dense output.
    while (t_current > t_low) {
      const int nodes = solver_.Step(t_low, t_current);
      ++steps;
      const double lo = std::max(t_current, t_low);
      if (grad.size() > 0 && lo < t_prev) {
        quadrature_vjps_ += AddGaussLegendre(
            lo, t_prev, nodes, polynomials_,
            [this](double t, VectorRef out) { out = AsEigen(solver_.DenseAt(t)); }, quadrature_,
            *problem.field, problem.theta, grad);
      }
      t_prev = t_current;
    }
    a = AsEigen(solver_.DenseAt(t_low));
    // Counters restart at every CVodeReInitB: the segments' steps are summed.
    return steps;
  }
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeGaussRestartBackward(const GradientOptions& options, Index n,
                                                           bool jump_layer, CvodesForward& forward,
                                                           SUNContext ctx) {
  return std::make_unique<GaussRestartBackward>(options, n, jump_layer, forward, ctx);
}

}  // namespace snode
