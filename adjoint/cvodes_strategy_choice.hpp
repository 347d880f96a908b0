#pragma once
// Which backward algorithm cvodes_adjoint runs (internal to snode_adjoint). The rules are the
// ones documented for GradientOptions::backward_integrator and for CvodesAdjointOptions'
// quadrature, jump_layer and observations; ChooseCvodesBackward is the one place that combines
// them. They read the integrators' declared capabilities (IntegratorCapabilities, from the
// integrators created by name from IntegratorRegistry()), never their names.

#include <string>

#include "adjoint/cvodes_adjoint_options.hpp"
#include "adjoint/gradient_method.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"
#include "integrators/integrator.hpp"

namespace snode {

enum class CvodesBackwardKind {
  kCvodesQuadrature,  // CVODES backward, dL/dθ by CVODES' quadrature; restart at each observation
  kGaussRestart,      // CVODES backward, Gauss–Legendre dL/dθ; restart at each observation
  kControlledGauss,   // as kGaussRestart, on the steps of CVODES' error-controlled quadrature,
                      // which runs alongside as the error estimate (quadrature "auto", P ≤ 8·n)
  kFundamental,       // CVODES backward of the fundamental matrix, Gauss–Legendre dL/dθ
  kExponential,       // the reversed linear system [a, q] by the backward integrator, segment by
                      // segment (kind kExponential, or no step hook)
  kRegistry,          // a registered integrator with a step hook (the interpolating adjoint)
};

struct CvodesBackwardChoice {
  CvodesBackwardKind kind = CvodesBackwardKind::kCvodesQuadrature;
  bool jump_layer = false;  // only with kCvodesQuadrature, kGaussRestart and kControlledGauss
};

// What cvodes_adjoint's integrators declare (ValidateCvodesAdjointOptions).
struct CvodesAdjointIntegrators {
  IntegratorCapabilities forward;   // declares a cvodes_method (checked)
  IntegratorCapabilities backward;  // GradientOptions::EffectiveBackwardIntegrator()'s
};

// The options of a backward integrator from the registry: EffectiveBackwardOptions() without
// interpolate_outputs (the backward problem stops at every observation).
IntegratorOptions CvodesBackwardOptions(const GradientOptions& options);

// quadrature: the Gauss–Legendre parameter quadrature alone, which needs a CVODES backward
// (backward = its declared cvodes_method, kNone otherwise); kGauss, or kAuto once P > 8·n.
bool UseGaussQuadrature(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                        Index p);
// quadrature kAuto with a CVODES backward and P ≤ 8·n ≤ 64·P: the Gauss–Legendre value on the
// steps of CVODES' error-controlled quadrature (kControlledGauss); above 64·P (n > 8·P) the CVODES
// quadrature alone (kCvodesQuadrature).
bool UseControlledGauss(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                        Index p);

// jump_layer: kOn with a CVODES backward; kAuto with the Gauss quadrature alone, a BDF backward,
// n + p + 1 ≤ JumpLayer::kMaxSize and observations not kFundamental.
bool UseJumpLayer(const CvodesAdjointOptions& options, CvodesMethod backward, Index n, Index p,
                  bool gauss);

// observations (for a CVODES backward): kFundamental, or kAuto with the Gauss quadrature, no
// jump layer, n ≤ 8 and many_observations.
bool UseFundamentalMatrix(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                          bool gauss, bool jump_layer, bool many_observations);

// "auto"'s observation count: at least n output times strictly inside (t0, T).
bool ManyObservations(const OdeProblem& problem);

// The backward algorithm for a problem with n states and p parameters and a backward integrator
// with these capabilities: the CVODES strategies when it declares a cvodes_method, kExponential
// when its kind is kExponential or it has no step hook, kRegistry otherwise. Throws ConfigError
// when observations kFundamental meets the CVODES quadrature or the jump layer.
CvodesBackwardChoice ChooseCvodesBackward(const CvodesAdjointOptions& options,
                                          const IntegratorCapabilities& backward, Index n, Index p,
                                          bool many_observations);

// The checks of the CvodesAdjoint constructor: ConfigError naming the offending option or
// integrator (an unknown name, a forward that declares no cvodes_method, ...). Creates both
// integrators from the registry and returns their capabilities.
CvodesAdjointIntegrators ValidateCvodesAdjointOptions(const GradientOptions& options,
                                                      const CvodesAdjointOptions& cvodes_options);

}  // namespace snode
