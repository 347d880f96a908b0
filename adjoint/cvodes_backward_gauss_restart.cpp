// The CVODES backward pass restarted at every observation, with the Gauss–Legendre parameter
// quadrature: CVodeB in CV_ONE_STEP mode, and ∫ (∂f/∂θ)ᵀ a dt added over each backward step by
// 1–3 Gauss nodes (by the step's order), a from the backward dense output and z from the
// recorded forward step polynomials, split at the forward steps. Controlled (quadrature "auto"
// with P ≤ 8·n): CVODES' own quadrature of dL/dθ runs alongside under error control, so the
// backward steps resolve dL/dθ too; the Gauss value is returned and the difference of the two is
// the error estimate (GradientStats::error_estimate, flagged above kCvodesFlagFactor·rtol: the
// difference is mostly the CVODES quadrature's own error, measured up to 25·rtol on healthy runs,
// docs/methods/cvodes-adjoint.md).
#include <algorithm>

#include "adjoint/cvodes_backward_restarting.hpp"

namespace snode {

namespace {

class GaussRestartBackward final : public CvodesRestartingBackward {
 public:
  // controlled_p > 0: CVODES' quadrature of the controlled_p parameters alongside.
  GaussRestartBackward(const GradientOptions& options, Index n, Index controlled_p, bool jump_layer,
                       CvodesForward& forward, SUNContext ctx)
      : CvodesRestartingBackward(options, n, true, jump_layer, forward, ctx),
        controlled_(controlled_p > 0),
        rtol_(FlagTolerance(options)),
        zero_(Vector::Zero(controlled_p)),
        cvodes_sum_(controlled_p),
        segment_sum_(controlled_p) {
    if (controlled_) solver_.InitQuadrature(controlled_p, ctx);
  }

 private:
  long Segment(const OdeProblem& problem, double t_high, double t_low, Vector& a,
               Vector& grad) override {
    solver_.State() = a;
    solver_.Restart(t_high);
    if (controlled_) solver_.RestartQuadrature(zero_);
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
    if (controlled_) {
      solver_.QuadratureAt(t_low, segment_sum_);
      cvodes_sum_ += segment_sum_;
    }
    // Counters restart at every CVodeReInitB: the segments' steps are summed.
    return steps;
  }

  void BeginPass() override {
    if (controlled_) cvodes_sum_.setZero();
  }

  // error_estimate: max_i |q_i − g_i| / max(|g_i|, 1e-3·‖[g; a]‖_∞) over the parameters, with g
  // the Gauss dL/dθ and q CVODES' (both with the jump layers' share).
  void Diagnose(const BackwardPass& /*pass*/, const Vector& a, const Vector& grad,
                const Vector& layer_grad, GradientStats& stats) override {
    if (!controlled_ || grad.size() == 0) return;
    segment_sum_ = cvodes_sum_ + layer_grad;
    const double floor =
        1e-3 * std::max(grad.cwiseAbs().maxCoeff(), a.size() > 0 ? a.cwiseAbs().maxCoeff() : 0.0);
    ReportErrorEstimate(BoundedDifference(segment_sum_, grad, floor), rtol_,
                        "the Gauss and the error-controlled CVODES quadratures of dL/dθ", stats);
  }

  const bool controlled_;
  const double rtol_;
  const Vector zero_;
  Vector cvodes_sum_;   // CVODES' dL/dθ over the segments so far
  Vector segment_sum_;  // one segment's (and in Diagnose, the total with the layers)
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeGaussRestartBackward(const GradientOptions& options, Index n,
                                                           Index controlled_p, bool jump_layer,
                                                           CvodesForward& forward, SUNContext ctx) {
  return std::make_unique<GaussRestartBackward>(options, n, controlled_p, jump_layer, forward, ctx);
}

}  // namespace snode
