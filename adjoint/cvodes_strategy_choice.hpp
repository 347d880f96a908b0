#pragma once
// Which backward algorithm cvodes_adjoint runs (internal to snode_adjoint). The rules are the
// ones GradientOptions documents for backward_integrator, cvodes_quadrature, cvodes_jump_layer
// and cvodes_observations; ChooseCvodesBackward is the one place that combines them.

#include <string>

#include "adjoint/gradient_method.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"

namespace snode {

enum class CvodesBackwardKind {
  kCvodesQuadrature,  // CVODES backward, dL/dθ by CVODES' quadrature; restart at each observation
  kGaussRestart,      // CVODES backward, Gauss–Legendre dL/dθ; restart at each observation
  kFundamental,       // CVODES backward of the fundamental matrix, Gauss–Legendre dL/dθ
  kEpi2,              // "epi2" on the reversed linear system [a, q], segment by segment
  kRegistry,          // a registered integrator with output jumps (the interpolating adjoint)
};

struct CvodesBackwardChoice {
  CvodesBackwardKind kind = CvodesBackwardKind::kCvodesQuadrature;
  bool jump_layer = false;  // only with kCvodesQuadrature and kGaussRestart
};

// "cvodes_bdf" or "cvodes_adams".
bool IsCvodesIntegrator(const std::string& name);

// cvodes_quadrature: the Gauss–Legendre parameter quadrature, which needs a CVODES backward;
// "gauss", or "auto" once P > 8·n.
bool UseGaussQuadrature(const GradientOptions& options, Index n, Index p);

// cvodes_jump_layer: "on" with a CVODES backward; "auto" with the Gauss quadrature, a
// "cvodes_bdf" backward, n + p + 1 ≤ JumpLayer::kMaxSize and cvodes_observations not
// "fundamental".
bool UseJumpLayer(const GradientOptions& options, Index n, Index p, bool gauss);

// cvodes_observations (for a CVODES backward): "fundamental", or "auto" with the Gauss
// quadrature, no jump layer, n ≤ 8 and many_observations.
bool UseFundamentalMatrix(const GradientOptions& options, Index n, bool gauss, bool jump_layer,
                          bool many_observations);

// "auto"'s observation count: at least n output times strictly inside (t0, T).
bool ManyObservations(const OdeProblem& problem);

// The backward algorithm for a problem with n states and p parameters. Throws ConfigError when
// cvodes_observations "fundamental" meets the CVODES quadrature or the jump layer.
CvodesBackwardChoice ChooseCvodesBackward(const GradientOptions& options, Index n, Index p,
                                          bool many_observations);

// The checks of the CvodesAdjoint constructor: ConfigError naming the offending option.
void ValidateCvodesAdjointOptions(const GradientOptions& options);

}  // namespace snode
