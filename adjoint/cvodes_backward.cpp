#include "adjoint/cvodes_backward.hpp"

namespace snode {

std::unique_ptr<BackwardStrategy> MakeBackwardStrategy(const CvodesBackwardChoice& choice,
                                                       const GradientOptions& options, Index n,
                                                       Index p, bool running_cost,
                                                       CvodesForward& forward, SUNContext ctx) {
  switch (choice.kind) {
    case CvodesBackwardKind::kCvodesQuadrature:
      return MakeCvodesQuadratureBackward(options, n, p, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kGaussRestart:
      return MakeGaussRestartBackward(options, n, 0, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kControlledGauss:
      return MakeGaussRestartBackward(options, n, p, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kFundamental:
      return MakeFundamentalBackward(options, n, running_cost, forward, ctx);
    case CvodesBackwardKind::kExponential:
      return MakeExponentialBackward(options, n, p);
    case CvodesBackwardKind::kRegistry:
      return MakeRegistryBackward(options, n);
  }
  return nullptr;  // not reached: every kind is handled above
}

}  // namespace snode
