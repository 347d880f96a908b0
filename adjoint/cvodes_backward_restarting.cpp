#include "adjoint/cvodes_backward_restarting.hpp"

#include <algorithm>
#include <cmath>

namespace snode {

CvodesRestartingBackward::CvodesRestartingBackward(const GradientOptions& options, Index n,
                                                   bool record, bool jump_layer,
                                                   CvodesForward& forward, SUNContext ctx)
    : n_(n), solver_(options, n, 1, forward, ctx), record_(record), jump_layer_(jump_layer) {}

// The backward absolute tolerance follows the adjoint's size when that is below 1: a loss
// normalised by the number of observed values (a mean over a grid of N points) has adjoints
// ∝ 1/N, and a fixed atol would then leave them with few correct digits (the reaction–diffusion
// gradient at N = 10⁴: 1e-4 relative error at atol 1e-8, 2e-6 with the scaled tolerance). Never
// looser than atol, as with the fundamental matrix; the solve restarts after this, so CVODES
// binds the new error weights at its first step.
void CvodesRestartingBackward::ScaleToleranceToAdjoint(const Vector& a) {
  double size = a.size() > 0 ? a.cwiseAbs().maxCoeff() : 0.0;
  // Every rank of a distributed state must set the same tolerance (they take the same steps).
  if (const StateDistribution* distribution = solver_.distribution()) {
    size = distribution->Max(size);
  }
  solver_.ScaleAbsoluteTolerance(size > 0.0 && std::isfinite(size) ? std::min(1.0, size) : 1.0);
}

void CvodesRestartingBackward::Run(const BackwardPass& pass, Vector& a, Vector& grad,
                                   GradientStats& stats) {
  const OdeProblem& problem = pass.problem;
  solver_.Bind(pass, pass.loss.HasRunningCost() ? 0 : -1);
  quadrature_vjps_ = 0;
  quadrature_.Reset(n_);
  BeginPass();
  const JumpLayer::ForwardSolution z_of_t = [this](double t, VectorRef out) {
    polynomials_.Evaluate(t, out);
  };
  const bool layered = jump_layer_ && pass.forward.t_reached > problem.t0 && !polynomials_.Empty();
  if (layered)
    layer_.Start(*problem.field, problem.theta, pass.loss, z_of_t, &polynomials_.Times());
  layer_grad_.setZero(grad.size());
  long steps = RunSegments(
      pass, a, grad, [&](double t_high, double t_low, Vector& a_high, Vector& grad_high) -> long {
        // The jump layer takes [t_start, t_high] (a and the quadrature move on to t_start), or
        // the whole segment (t_start = t_low), or nothing (t_start = t_high).
        ScaleToleranceToAdjoint(a_high);
        if (!layered) return Segment(problem, t_high, t_low, a_high, grad_high);
        grad_before_layer_ = grad_high;
        const double t_start = layer_.Apply(t_high, t_low, a_high, grad_high);
        layer_grad_ += grad_high - grad_before_layer_;
        // Nothing left for CVODES (CVodeB would reject tout == tB0).
        if (t_start <= t_low) return 0;
        return Segment(problem, t_start, t_low, a_high, grad_high);
      });
  quadrature_.Flush(*problem.field, problem.theta, grad);
  long extra_vjps = quadrature_vjps_;
  // The layers' CF4 steps count as backward steps, their F_θ columns as VJPs.
  if (layered) {
    steps += layer_.stats().steps;
    extra_vjps += layer_.stats().vjp_evals;
  }
  solver_.FillStats(pass, steps, extra_vjps, record_ ? polynomials_.Bytes() : 0.0, stats);
  Diagnose(pass, a, grad, layer_grad_, stats);
}

}  // namespace snode
