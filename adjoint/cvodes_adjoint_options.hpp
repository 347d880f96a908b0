#pragma once
// CvodesAdjointOptions: the options of the "cvodes_adjoint" gradient method
// (adjoint/cvodes_adjoint.hpp) beyond the shared GradientOptions. Setting names
// (GradientOptions::method_settings, `--gradient-option`):
//   checkpoint_interval   a positive integer
//   interpolation         hermite|polynomial
//   quadrature            auto|gauss|cvodes
//   jump_layer            auto|on|off
//   observations          auto|restart|fundamental
//   fundamental_condition a number > 1
//   fundamental_growth    a number >= 1
// The "auto" choices are decided per problem by the rules documented at each field, implemented
// (and unit-tested) by UseGaussQuadrature, UseJumpLayer and UseFundamentalMatrix in
// adjoint/cvodes_strategy_choice.hpp.

#include "core/settings.hpp"

namespace snode {

struct CvodesAdjointOptions {
  enum class Interpolation { kHermite, kPolynomial };
  enum class Quadrature { kAuto, kGauss, kCvodes };
  enum class JumpLayer { kAuto, kOn, kOff };
  enum class Observations { kAuto, kRestart, kFundamental };

  // Forward steps between CVODES checkpoints (Nd of CVodeAdjInit). The backward pass replays
  // every interval but the last once, so a forward solve of at most Nd steps is never replayed;
  // the interpolation buffer holds Nd + 1 points (2n values each with Hermite). The W2 fit's
  // Adams forward passes 100 steps late in training: Nd = 500 saves 10% of its backward f, but
  // made the Robertson problem's (T = 1e5) backward BDF fail, so the default stays 100.
  long checkpoint_interval = 100;
  // How CVODES interpolates the forward solution between checkpoints (CV_HERMITE stores y and
  // y', CV_POLYNOMIAL y only).
  Interpolation interpolation = Interpolation::kHermite;
  // With a CVODES backward: how dL/dθ = ∫ (∂f/∂θ)ᵀ a dt is summed. kCvodes: a P-long CVODES
  // backward quadrature under error control. kGauss: 3-point Gauss–Legendre over each backward
  // step (split at the forward steps) from CVODES' dense output of a and of the recorded forward
  // z, outside the backward error test. kAuto: kGauss when P > 8·n (neural fields, where the
  // CVODES quadrature's O(P) vector work per step dominates); otherwise both, the CVODES
  // quadrature under error control choosing the steps and the Gauss value on them returned, their
  // difference the error estimate (measured in docs/methods/cvodes-adjoint.md: as accurate as the
  // better of the two alone, up to 300× better than kCvodes in the worst component).
  Quadrature quadrature = Quadrature::kAuto;
  // With a CVODES backward: integrate the stiff transient of the adjoint after each jump
  // (observation time) by exponentials (adjoint/jump_layer.hpp) and restart the backward BDF
  // after it; the forward step polynomials are recorded then (memory grows with the forward
  // steps). kOn: always (ConfigError for a non-CVODES backward, and in Compute when the backward
  // system n + P (+ 1 with a running cost) is too large for dense exponentials). kOff: never.
  // kAuto: on with the Gauss quadrature, a "cvodes_bdf" backward, a small enough backward
  // system, and observations not kFundamental.
  JumpLayer jump_layer = JumpLayer::kAuto;
  // With a CVODES backward and the Gauss quadrature: how the adjoint's jumps at the observation
  // times enter the backward solve. kRestart: a ← a + ∂ℓ_i/∂z and CVodeReInitB at every
  // observation (each restart begins again at order 1 with a tiny step). kFundamental: one
  // backward solve of the n × n fundamental matrix U (dU/dt = −(∂f/∂z)ᵀ U, U(T) = I; plus one
  // column for a running cost) with a = U c and c ← c + U(t_i)⁻¹ ∂ℓ_i/∂z at each observation,
  // restarting only where U(t_i) becomes ill-conditioned (needs the Gauss quadrature and no jump
  // layer: ConfigError otherwise). kAuto: kFundamental with the Gauss quadrature, no jump layer,
  // n ≤ 8 and at least n output times strictly inside (t0, T); kRestart otherwise.
  Observations observations = Observations::kAuto;
  // With the fundamental matrix (kFundamental): where the backward solve restarts (U ← I at an
  // observation t_i, carrying a(t_i) into c). a = U c inherits U's relative error amplified by up
  // to cond(U), and U's absolute error times ‖c‖∞. So U is solved at atol / max(1, ‖c‖∞) of c
  // at the last (re)start, and the solve restarts at t_i where
  //   - the 1-norm condition number of U(t_i) exceeds fundamental_condition, or
  //   - folding the jump would make ‖c‖∞ more than fundamental_growth times its value at the
  //     last (re)start (where U has decayed: without this, a trained MLP 2-32-32-2 on 101
  //     Lotka–Volterra observations got dL/dθ wrong by 10× its norm at rtol 1e-6; with it the
  //     error is 3e-5, as with a restart at every observation; docs/decisions.md).
  // Smaller values: more restarts (each begins at order 1 with a small step), more accurate.
  double fundamental_condition = 1e3;
  double fundamental_growth = 1e3;

  // Throws ConfigError naming the offending option.
  void Validate() const;
  // The defaults overridden by settings; ConfigError for an unknown name or a bad value.
  static CvodesAdjointOptions FromSettings(const Settings& settings);
};

}  // namespace snode
