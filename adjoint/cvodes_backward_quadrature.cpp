// The CVODES backward pass with CVODES' own parameter quadrature: dq/dt = −(∂f/∂θ)ᵀ a under
// error control, restarted with a and the current q at every observation.
#include "adjoint/cvodes_backward_restarting.hpp"

namespace snode {

namespace {

class CvodesQuadratureBackward final : public CvodesRestartingBackward {
 public:
  CvodesQuadratureBackward(const GradientOptions& options, Index n, Index p, bool jump_layer,
                           CvodesForward& forward, SUNContext ctx)
      : CvodesRestartingBackward(options, n, jump_layer, jump_layer, forward, ctx), p_(p) {
    if (p > 0) solver_.InitQuadrature(p, ctx);
  }

 private:
  long Segment(const OdeProblem& /*problem*/, double t_high, double t_low, Vector& a,
               Vector& grad) override {
    solver_.State() = a;
    solver_.Restart(t_high);
    if (p_ > 0) solver_.RestartQuadrature(grad);
    solver_.SolveTo(t_low, a, p_ > 0 ? &grad : nullptr);
    // Counters restart at every CVodeReInitB: the segments' steps are summed.
    return solver_.StepsSinceRestart();
  }

  const Index p_;
};

}  // namespace

std::unique_ptr<BackwardStrategy> MakeCvodesQuadratureBackward(const GradientOptions& options,
                                                               Index n, Index p, bool jump_layer,
                                                               CvodesForward& forward,
                                                               SUNContext ctx) {
  return std::make_unique<CvodesQuadratureBackward>(options, n, p, jump_layer, forward, ctx);
}

}  // namespace snode
