#include "adjoint/cvodes_strategy_choice.hpp"

#include <algorithm>
#include <vector>

#include "adjoint/jump_layer.hpp"
#include "core/errors.hpp"
#include "integrators/integrator.hpp"

namespace snode {

namespace {

// quadrature "auto": Gauss–Legendre once P > 8·n. The CVODES backward quadrature costs
// O(P) vector work per step (Nordsieck update, error norm, restarts), which dominates the O(n)
// adjoint for a neural field (an MLP 2-32-32-2: P = 1 218, n = 2: 55 ms of 58 ms per gradient); for
// small P it is cheap and its error control is what keeps dL/dθ accurate on stiff kinetics
// (Robertson).
constexpr Index kAutoGaussRatio = 8;

// observations "auto": the fundamental matrix up to n = 8 states and for at least n
// observations strictly inside (t0, T). Its fB costs n VJPs (one per column) against the
// restart's one, but the restarts begin every segment at order 1 with CVODES' tiny first step:
// an MLP 2-32-32-2 (n = 2) with 99 observations inside takes ≈ 5–10 backward steps per segment
// with restarts. The same MLP with fewer observations, VJPs per gradient fundamental /
// restart: none inside 318 / 222, one 321 / 255, ten 348 / 535 (Adams).
constexpr Index kAutoFundamentalMaxStates = 8;

}  // namespace

bool IsCvodesIntegrator(const std::string& name) {
  return name == "cvodes_bdf" || name == "cvodes_adams";
}

bool UseGaussQuadrature(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                        Index p) {
  using Quadrature = CvodesAdjointOptions::Quadrature;
  if (!IsCvodesIntegrator(backward)) return false;
  return options.quadrature == Quadrature::kGauss ||
         (options.quadrature == Quadrature::kAuto && p > kAutoGaussRatio * n);
}

// kOn needs a CVODES backward (checked in the constructor). kAuto also needs BDF (the layer
// exists to spare BDF the stiff transients), a backward system small enough for dense m × m
// exponentials, and the Gauss–Legendre quadrature: the layer reads z(t) from the recorded
// forward step polynomials, which only the Gauss quadrature records anyway; with the CVODES
// quadrature the recording would make the stored memory grow with the forward steps instead of
// the checkpoints.
bool UseJumpLayer(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                  Index p, bool gauss) {
  using Layer = CvodesAdjointOptions::JumpLayer;
  if (options.jump_layer == Layer::kOn) return IsCvodesIntegrator(backward);
  if (options.jump_layer == Layer::kOff) return false;
  // An explicit fundamental matrix has no restarts for the layer to start from.
  if (options.observations == CvodesAdjointOptions::Observations::kFundamental) return false;
  return gauss && backward == "cvodes_bdf" && n + p + 1 <= JumpLayer::kMaxSize;
}

bool UseFundamentalMatrix(const CvodesAdjointOptions& options, const std::string& backward, Index n,
                          bool gauss, bool jump_layer, bool many_observations) {
  using Observations = CvodesAdjointOptions::Observations;
  if (!IsCvodesIntegrator(backward)) return false;
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
                                          const std::string& backward, Index n, Index p,
                                          bool many_observations) {
  CvodesBackwardChoice choice;
  if (backward == "epi2") {
    choice.kind = CvodesBackwardKind::kEpi2;
    return choice;
  }
  if (!IsCvodesIntegrator(backward)) {
    choice.kind = CvodesBackwardKind::kRegistry;
    return choice;
  }
  const bool gauss = UseGaussQuadrature(options, backward, n, p);
  const bool jump_layer = UseJumpLayer(options, backward, n, p, gauss);
  const bool fundamental =
      UseFundamentalMatrix(options, backward, n, gauss, jump_layer, many_observations);
  Require(!fundamental || (gauss && !jump_layer),
          "gradient 'cvodes_adjoint' with observations 'fundamental' needs the Gauss "
          "quadrature (quadrature 'gauss', or 'auto' with P > 8·n) and no jump layer "
          "(jump_layer 'off', or 'auto' without a cvodes_bdf backward)");
  if (fundamental) {
    choice.kind = CvodesBackwardKind::kFundamental;
    return choice;
  }
  choice.kind = gauss ? CvodesBackwardKind::kGaussRestart : CvodesBackwardKind::kCvodesQuadrature;
  choice.jump_layer = jump_layer;
  return choice;
}

namespace {

// A registered backward integrator other than CVODES and epi2 must apply jumps at output times.
bool SupportsOutputJumps(const GradientOptions& options) {
  const std::string& backward = options.EffectiveBackwardIntegrator();
  if (IsCvodesIntegrator(backward) || backward == "epi2") return false;
  if (!IntegratorRegistry().Contains(backward)) return false;
  return IntegratorRegistry()
      .Create(backward, options.EffectiveBackwardOptions())
      ->SupportsOutputJumps();
}

// jump_layer kOn and observations kFundamental need a CVODES backward.
void RequireCvodesBackwardFor(const CvodesAdjointOptions& options, const std::string& backward) {
  Require(
      options.jump_layer != CvodesAdjointOptions::JumpLayer::kOn || IsCvodesIntegrator(backward),
      "gradient 'cvodes_adjoint' with jump_layer 'on' needs backward_integrator "
      "'cvodes_bdf' or 'cvodes_adams', got '" +
          backward + "'");
  Require(options.observations != CvodesAdjointOptions::Observations::kFundamental ||
              IsCvodesIntegrator(backward),
          "gradient 'cvodes_adjoint' with observations 'fundamental' needs "
          "backward_integrator 'cvodes_bdf' or 'cvodes_adams', got '" +
              backward + "'");
}

}  // namespace

void ValidateCvodesAdjointOptions(const GradientOptions& options,
                                  const CvodesAdjointOptions& cvodes_options) {
  options.Validate();
  cvodes_options.Validate();
  Require(IsCvodesIntegrator(options.integrator),
          "gradient 'cvodes_adjoint' needs integrator 'cvodes_bdf' or 'cvodes_adams', got '" +
              options.integrator + "'");
  const std::string& backward = options.EffectiveBackwardIntegrator();
  Require(IsCvodesIntegrator(backward) || backward == "epi2" || SupportsOutputJumps(options),
          "gradient 'cvodes_adjoint' needs backward_integrator 'cvodes_bdf', 'cvodes_adams', "
          "'epi2', or a registered integrator with output jumps such as 'dopri5' (or empty for "
          "the forward's), got '" +
              backward + "'");
  Require(options.integrator_options.fixed_step == 0.0 &&
              options.EffectiveBackwardOptions().fixed_step == 0.0,
          "gradient 'cvodes_adjoint' is adaptive: integrator option fixed_step must be 0");
  RequireCvodesBackwardFor(cvodes_options, backward);
  if (backward == "epi2") {
    Require(IntegratorRegistry().Contains("epi2"),
            "gradient 'cvodes_adjoint': backward_integrator 'epi2' is not registered; known: " +
                IntegratorRegistry().KnownNames());
  }
}

}  // namespace snode
