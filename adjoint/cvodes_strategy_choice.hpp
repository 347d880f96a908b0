#pragma once
// Which backward algorithm cvodes_adjoint runs (internal to snode_adjoint). The rules are the
// ones documented for GradientOptions::backward_integrator and for CvodesAdjointOptions'
// quadrature, jump_layer and observations; ChooseCvodesBackward is the one place that combines
// them. `backward` is the backward integrator's name (GradientOptions::
// EffectiveBackwardIntegrator()).

#include <string>

#include "adjoint/cvodes_adjoint_options.hpp"
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

// quadrature: the Gauss–Legendre parameter quadrature, which needs a CVODES backward; kGauss,
// or kAuto once P > 8·n.
bool UseGaussQuadrature(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                        Index p);

// jump_layer: kOn with a CVODES backward; kAuto with the Gauss quadrature, a "cvodes_bdf"
// backward, n + p + 1 ≤ JumpLayer::kMaxSize and observations not kFundamental.
bool UseJumpLayer(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                  Index p, bool gauss);

// observations (for a CVODES backward): kFundamental, or kAuto with the Gauss quadrature, no
// jump layer, n ≤ 8 and many_observations.
bool UseFundamentalMatrix(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                          bool gauss, bool jump_layer, bool many_observations);

// "auto"'s observation count: at least n output times strictly inside (t0, T).
bool ManyObservations(const OdeProblem& problem);

// The backward algorithm for a problem with n states and p parameters. Throws ConfigError when
// observations kFundamental meets the CVODES quadrature or the jump layer.
CvodesBackwardChoice ChooseCvodesBackward(const CvodesAdjointOptions& options,
                                          const std::string& backward, Index n, Index p,
                                          bool many_observations);

// The checks of the CvodesAdjoint constructor: ConfigError naming the offending option.
void ValidateCvodesAdjointOptions(const GradientOptions& options,
                                  const CvodesAdjointOptions& cvodes_options);

}  // namespace snode
