#pragma once
// The check a training loop makes before it takes an optimiser step with a gradient.

#include <string>

#include "adjoint/gradient_method.hpp"

namespace snode {

// Throws NumericalError when a gradient must not be used for a training step: the backsolve
// adjoint's reconstruction failed outright (flagged, and its relative error > 1 or NaN), or dL/dθ
// is not finite. `method` names the gradient method, `what` the step ("batch 3 of epoch 1").
// A gradient that is merely flagged (reconstruction error above the method's tolerance but
// below 1) is used: such gradients still train (the Lotka–Volterra neural fit at rtol 1e-6
// reconstructs to 1e-3…3e-2 during training and trains as well as bptt).
void RequireUsableGradient(const LossAndGradient& result, const std::string& method,
                           const std::string& what);

}  // namespace snode
