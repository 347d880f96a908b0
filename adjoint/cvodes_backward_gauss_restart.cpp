// The CVODES backward pass restarted at every observation, with the Gauss–Legendre parameter
// quadrature: CVodeB in CV_ONE_STEP mode, and ∫ (∂f/∂θ)ᵀ a dt added over each backward step by
// 1–3 Gauss nodes (by the step's order), a from the backward dense output and z from the
// recorded forward step polynomials, split at the forward steps. Controlled (quadrature "auto"
// with P ≤ 8·n): CVODES' own quadrature of dL/dθ runs alongside under error control, so the
// backward steps resolve dL/dθ too; the Gauss value is returned and the difference of the two is
// the error estimate (GradientStats::error_estimate, flagged above kFlagFactor·rtol).
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "adjoint/cvodes_backward_restarting.hpp"

namespace snode {

namespace {

// Flag when the two quadratures differ by more than this many times the requested rtol. The
// difference is mostly the CVODES quadrature's own error (up to 180·rtol where the Gauss value
// is within 20·rtol, docs/methods/cvodes-adjoint.md), so the factor sits above that.
constexpr double kFlagFactor = 100.0;

class GaussRestartBackward final : public CvodesRestartingBackward {
 public:
  // controlled_p > 0: CVODES' quadrature of the controlled_p parameters alongside.
  GaussRestartBackward(const GradientOptions& options, Index n, Index controlled_p, bool jump_layer,
                       CvodesForward& forward, SUNContext ctx)
      : CvodesRestartingBackward(options, n, true, jump_layer, forward, ctx),
        controlled_(controlled_p > 0),
        rtol_(std::max(options.integrator_options.rtol, options.EffectiveBackwardOptions().rtol)),
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
    if (controlled_) {
      if (first_segment_) cvodes_sum_.setZero();
      first_segment_ = false;
      solver_.RestartQuadrature(zero_);
    }
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

  // error_estimate: max_i |q_i − g_i| / max(|g_i|, 1e-3·‖[g; a]‖_∞) over the parameters, with g
  // the Gauss dL/dθ and q CVODES' (both with the jump layers' share).
  void Diagnose(const BackwardPass& /*pass*/, const Vector& a, const Vector& grad,
                const Vector& layer_grad, GradientStats& stats) override {
    const bool ran = !first_segment_;
    first_segment_ = true;
    if (!controlled_ || grad.size() == 0) return;
    if (!ran) cvodes_sum_.setZero();  // nothing for CVODES to integrate: only the layers
    const double scale =
        1e-3 * std::max(grad.cwiseAbs().maxCoeff(), a.size() > 0 ? a.cwiseAbs().maxCoeff() : 0.0);
    double estimate = 0.0;
    for (Index i = 0; i < grad.size(); ++i) {
      const double difference = std::abs(cvodes_sum_(i) + layer_grad(i) - grad(i));
      const double denominator = std::max(std::abs(grad(i)), scale);
      estimate = std::max(estimate, denominator > 0.0 ? difference / denominator : 0.0);
    }
    if (!std::isfinite(estimate)) estimate = std::numeric_limits<double>::infinity();
    stats.error_estimate = estimate;
    if (estimate > kFlagFactor * rtol_) {
      std::ostringstream reason;
      reason << "cvodes_adjoint: the Gauss and the error-controlled CVODES quadratures of dL/dθ "
                "differ by "
             << estimate << " relative (more than " << kFlagFactor << "·rtol): tighten rtol/atol";
      stats.Flag(reason.str());
    }
  }

  const bool controlled_;
  const double rtol_;
  const Vector zero_;
  Vector cvodes_sum_, segment_sum_;  // CVODES' dL/dθ over the segments so far; one segment's
  bool first_segment_ = true;
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeGaussRestartBackward(const GradientOptions& options, Index n,
                                                           Index controlled_p, bool jump_layer,
                                                           CvodesForward& forward, SUNContext ctx) {
  return std::make_unique<GaussRestartBackward>(options, n, controlled_p, jump_layer, forward, ctx);
}

}  // namespace snode
