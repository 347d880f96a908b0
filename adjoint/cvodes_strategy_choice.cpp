#include "adjoint/cvodes_strategy_choice.hpp"

#include <algorithm>
#include <vector>

#include "adjoint/jump_layer.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {

namespace {

// quadrature "auto": Gauss–Legendre alone once P > 8·n. The CVODES backward quadrature costs
// O(P) vector work per step (Nordsieck update, error norm, restarts), which dominates the O(n)
// adjoint for a neural field (an MLP 2-32-32-2: P = 1 218, n = 2: 55 ms of 58 ms per gradient).
// For small P it is cheap and its error control chooses steps that resolve dL/dθ (SUNDIALS'
// Robertson example: Gauss alone 0.5% off), but its own BDF value is up to 300× less accurate
// than Gauss–Legendre on the same steps (a stiff non-normal 4 × 4 system): so both, the Gauss
// value returned and the CVODES one its error estimate (docs/methods/cvodes-adjoint.md).
//
// And the CVODES quadrature alone once n > 8·P (a state far longer than θ: a PDE-scale field,
// where every product is a network pass over the whole grid). Each Gauss node then costs a full
// VJP at its own interpolated z, while the CVODES quadrature's one fQB per step reuses the step's
// forward pass (the reaction–diffusion gradient at N = 10⁴, n = 2·10⁴, P = 354: 2.4 s with both,
// 1.4 s with the CVODES quadrature alone, both 4–8e-6 from a tight reference).
constexpr Index kAutoGaussRatio = 8;

// observations "auto": the fundamental matrix up to n = 8 states and for at least n
// observations strictly inside (t0, T). Its fB costs n VJPs (one per column) against the
// restart's one, but the restarts begin every segment at order 1 with CVODES' tiny first step:
// an MLP 2-32-32-2 (n = 2) with 99 observations inside takes ≈ 5–10 backward steps per segment
// with restarts. The same MLP with fewer observations, VJPs per gradient fundamental /
// restart: none inside 318 / 222, one 321 / 255, ten 348 / 535 (Adams).
constexpr Index kAutoFundamentalMaxStates = 8;

}  // namespace

IntegratorOptions CvodesBackwardOptions(const GradientOptions& options) {
  IntegratorOptions backward = options.EffectiveBackwardOptions();
  backward.interpolate_outputs = false;
  return backward;
}

bool UseGaussQuadrature(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                        Index p) {
  using Quadrature = CvodesAdjointOptions::Quadrature;
  if (backward == CvodesMethod::kNone) return false;
  return options.quadrature == Quadrature::kGauss ||
         (options.quadrature == Quadrature::kAuto && p > kAutoGaussRatio * n);
}

bool UseControlledGauss(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                        Index p) {
  return backward != CvodesMethod::kNone &&
         options.quadrature == CvodesAdjointOptions::Quadrature::kAuto &&
         p <= kAutoGaussRatio * n && n <= kAutoGaussRatio * p;
}

// kOn needs a CVODES backward (checked in the constructor). kAuto also needs BDF (the layer
// exists to spare BDF the stiff transients), a backward system small enough for dense m × m
// exponentials, and the Gauss–Legendre quadrature: the layer reads z(t) from the recorded
// forward step polynomials, which only the Gauss quadrature records anyway; with the CVODES
// quadrature the recording would make the stored memory grow with the forward steps instead of
// the checkpoints.
bool UseJumpLayer(const CvodesAdjointOptions& options, CvodesMethod backward, Index n, Index p,
                  bool gauss) {
  using Layer = CvodesAdjointOptions::JumpLayer;
  if (options.jump_layer == Layer::kOn) return backward != CvodesMethod::kNone;
  if (options.jump_layer == Layer::kOff) return false;
  // An explicit fundamental matrix has no restarts for the layer to start from.
  if (options.observations == CvodesAdjointOptions::Observations::kFundamental) return false;
  return gauss && backward == CvodesMethod::kBdf && n + p + 1 <= JumpLayer::kMaxSize;
}

bool UseFundamentalMatrix(const CvodesAdjointOptions& options, CvodesMethod backward, Index n,
                          bool gauss, bool jump_layer, bool many_observations) {
  using Observations = CvodesAdjointOptions::Observations;
  if (backward == CvodesMethod::kNone) return false;
  if (options.observations == Observations::kRestart) return false;
  if (options.observations == Observations::kFundamental) return true;
  return gauss && !jump_layer && n <= kAutoFundamentalMaxStates && many_observations;
}

bool ManyObservations(const OdeProblem& problem) {
  const std::vector<double>& times = problem.output_times;
  const auto inside = std::count_if(times.begin(), times.end(),
                                    [&](double t) { return t > problem.t0 && t < times.back(); });
  return inside >= problem.field->state_size();
}

CvodesBackwardChoice ChooseCvodesBackward(const CvodesAdjointOptions& options,
                                          const IntegratorCapabilities& backward, Index n, Index p,
                                          bool many_observations) {
  CvodesBackwardChoice choice;
  const CvodesMethod method = backward.cvodes_method;
  if (method == CvodesMethod::kNone) {
    // The interpolating adjoint sums dL/dθ from the step hook's dense output; without one (or
    // for an exponential method, which suits the linear system) dL/dθ rides in the state.
    const bool exponential = backward.kind == IntegratorKind::kExponential || !backward.step_hook;
    choice.kind = exponential ? CvodesBackwardKind::kExponential : CvodesBackwardKind::kRegistry;
    return choice;
  }
  const bool gauss = UseGaussQuadrature(options, method, n, p);
  const bool jump_layer = UseJumpLayer(options, method, n, p, gauss);
  const bool fundamental =
      UseFundamentalMatrix(options, method, n, gauss, jump_layer, many_observations);
  Require(!fundamental || (gauss && !jump_layer),
          "gradient 'cvodes_adjoint' with observations 'fundamental' needs the Gauss "
          "quadrature (quadrature 'gauss', or 'auto' with P > 8·n) and no jump layer "
          "(jump_layer 'off', or 'auto' without a cvodes_bdf backward)");
  if (fundamental) {
    choice.kind = CvodesBackwardKind::kFundamental;
    return choice;
  }
  if (gauss) {
    choice.kind = CvodesBackwardKind::kGaussRestart;
  } else {
    choice.kind = UseControlledGauss(options, method, n, p) ? CvodesBackwardKind::kControlledGauss
                                                            : CvodesBackwardKind::kCvodesQuadrature;
  }
  choice.jump_layer = jump_layer;
  return choice;
}

namespace {

// jump_layer kOn and observations kFundamental need a CVODES backward.
void RequireCvodesBackwardFor(const CvodesAdjointOptions& options, CvodesMethod backward,
                              const std::string& name) {
  const bool cvodes = backward != CvodesMethod::kNone;
  Require(options.jump_layer != CvodesAdjointOptions::JumpLayer::kOn || cvodes,
          "gradient 'cvodes_adjoint' with jump_layer 'on' needs a CVODES backward_integrator "
          "('cvodes_bdf' or 'cvodes_adams'), got '" +
              name + "'");
  Require(options.observations != CvodesAdjointOptions::Observations::kFundamental || cvodes,
          "gradient 'cvodes_adjoint' with observations 'fundamental' needs a CVODES "
          "backward_integrator ('cvodes_bdf' or 'cvodes_adams'), got '" +
              name + "'");
  // Another backward integrator sums dL/dθ by its own Gauss quadrature over its steps: a
  // request for CVODES' quadrature would otherwise go unused without a word.
  Require(options.quadrature != CvodesAdjointOptions::Quadrature::kCvodes || cvodes,
          "gradient 'cvodes_adjoint' with quadrature 'cvodes' needs a CVODES backward_integrator "
          "('cvodes_bdf' or 'cvodes_adams'), got '" +
              name + "', which sums dL/dtheta by Gauss quadrature over its own steps (quadrature " +
              "'auto' or 'gauss')");
}

}  // namespace

CvodesAdjointIntegrators ValidateCvodesAdjointOptions(const GradientOptions& options,
                                                      const CvodesAdjointOptions& cvodes_options) {
  options.Validate();
  cvodes_options.Validate();
  Require(options.integrator_options.fixed_step == 0.0 &&
              options.EffectiveBackwardOptions().fixed_step == 0.0,
          "gradient 'cvodes_adjoint' is adaptive: integrator option fixed_step must be 0");
  CvodesAdjointIntegrators integrators;
  integrators.forward =
      IntegratorRegistry().Create(options.integrator, options.integrator_options)->Capabilities();
  Require(integrators.forward.cvodes_method != CvodesMethod::kNone,
          "gradient 'cvodes_adjoint' needs a CVODES integrator (one that declares a "
          "cvodes_method: 'cvodes_bdf', 'cvodes_adams'), got '" +
              options.integrator + "'");
  const std::string& backward = options.EffectiveBackwardIntegrator();
  integrators.backward =
      IntegratorRegistry().Create(backward, CvodesBackwardOptions(options))->Capabilities();
  RequireCvodesBackwardFor(cvodes_options, integrators.backward.cvodes_method, backward);
  return integrators;
}

}  // namespace snode
