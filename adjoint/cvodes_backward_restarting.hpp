#pragma once
// CvodesRestartingBackward: the CVODES backward passes that restart at every observation
// (internal to snode_adjoint). Segment by segment between the output times, with the jump
// a += ∂ℓ_i/∂z and a CVodeReInitB between them; optionally the jump layer
// (adjoint/jump_layer.hpp) first integrates the top of each segment by exponentials. The
// subclasses integrate the rest of a segment: CvodesQuadratureBackward with CVODES' parameter
// quadrature (cvodes_backward_quadrature.cpp), GaussRestartBackward with the Gauss–Legendre one
// (cvodes_backward_gauss_restart.cpp).

#include <sundials/sundials_context.h>

#include "adjoint/cvodes_backward.hpp"
#include "adjoint/cvodes_backward_solver.hpp"
#include "adjoint/cvodes_step_polynomials.hpp"
#include "adjoint/jump_layer.hpp"
#include "adjoint/quadrature_batch.hpp"

namespace snode {

class CvodesRestartingBackward : public BackwardStrategy {
 public:
  bool UsesCheckpoints() const override { return true; }
  ForwardStepRecorder* PrepareRecorder() override { return record_ ? &polynomials_ : nullptr; }
  void Run(const BackwardPass& pass, Vector& a, Vector& grad, GradientStats& stats) override;

 protected:
  // record: keep the forward step polynomials (the Gauss quadrature and the jump layer read z(t)
  // from them).
  CvodesRestartingBackward(const GradientOptions& options, Index n, bool record, bool jump_layer,
                           CvodesForward& forward, SUNContext ctx);
  // From a(t_high) = a (and dL/dθ so far, grad) down to t_low < t_high; returns the steps.
  virtual long Segment(const OdeProblem& problem, double t_high, double t_low, Vector& a,
                       Vector& grad) = 0;
  // Before the pass.
  virtual void BeginPass() {}
  // After the pass, with dL/dz0 = a, dL/dθ = grad and the jump layers' share of grad
  // (layer_grad, zero without the layer): the strategy's run-time diagnosis (GradientStats'
  // error_estimate and flag).
  virtual void Diagnose(const BackwardPass& /*pass*/, const Vector& /*a*/, const Vector& /*grad*/,
                        const Vector& /*layer_grad*/, GradientStats& /*stats*/) {}

  const Index n_;
  CvodesBackwardSolver solver_;
  StepPolynomials polynomials_;
  QuadratureBatch quadrature_;  // the Gauss nodes' parameter products, in batches
  long quadrature_vjps_ = 0;    // their count in this pass

 private:
  // atol × min(1, ‖a‖∞) for the segment that starts from a (see the definition).
  void ScaleToleranceToAdjoint(const Vector& a);

  const bool record_;
  const bool jump_layer_;
  JumpLayer layer_;
  Vector layer_grad_, grad_before_layer_;  // the layers' share of dL/dθ; grad before a layer
};

}  // namespace snode
