#pragma once
// "finite_difference": central differences of the forward map, registered as a gradient method
// (gradient_registry.cpp), and the pieces the gradient checker (gradient_checker.hpp) shares.
//
//   dL/dx_i ≈ (L(x + h_i e_i) − L(x − h_i e_i)) / ((x_i + h_i) − (x_i − h_i)),   x = [θ; z0],
//   h_i = h·max(1, |x_i|),
//
// where L is EvaluateLoss() through a fresh integrator options.integrator with
// options.integrator_options (running cost included). dL/dφ (the loss's read-out parameters) is
// not differenced: EvaluateLoss returns it exactly. The result differentiates the *discrete* map
// of that integrator: with a fixed step it is the derivative bptt must reproduce; with an adaptive
// integrator L(x) is only smooth up to the noise of the map (the controller's and the Newton
// iterations' choices move with x), and the quotient carries that noise divided by h.
//
// The step h (FiniteDifferenceOptions::step):
//   auto   the noise ε of L is measured (EstimateLossNoise: high-order differences along a
//          random direction). The noise-optimal relative step h* = (3ε/|L|)^{1/3} (with the
//          truncation error modelled as |L|·h²) starts a ladder 4h*, h*, h*/4, h*/16; each
//          component takes the rung whose Richardson estimate of the truncation error plus ε/h_i
//          is smallest. A rung whose solve fails with a NumericalError or SundialsError (a step
//          out of the field's domain) takes no part; while fewer than two rungs have solved the
//          ladder goes on down, up to 8 more quarters (NumericalError when none solves). Cost:
//          8 (P + n) + 7 forward solves (+1 with adaptive steps).
//   <h>    one difference with relative step h (h > 0). Cost: 2 (P + n) + 1 solves (+7 with
//          adaptive steps, for the noise estimate and the map's error).
// GradientStats: forward_rhs_evals and forward_steps summed over all solves; error_estimate =
// the larger of max_i (truncation_i + ε/h_i) / max(|g_i|, 1e-3·‖g‖_∞) over [dL/dθ; dL/dz0] and,
// with adaptive steps, the map's relative error (MapRelativeError). With adaptive steps
// stats.Flag() when
//   - the map's relative error exceeds 100·rtol: the map itself, and so the derivative of it,
//     is not within the documented bound (tighten the tolerances), or
//   - the noise part alone, max_i (ε/h_i) / max(|g_i|, 1e-3·‖g‖_∞), exceeds 100·rtol: the step
//     is inside the noise of the map (the fixed step 1e-6 through cvodes_bdf at rtol 1e-6).
//
// Settings (GradientOptions::method_settings, `--gradient-option`): step=auto|<h>.
// Throws ConfigError for bad options, an unknown integrator or a bad problem, and whatever the
// integrator throws.

#include <cstdint>
#include <memory>
#include <string>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/settings.hpp"

namespace snode {

struct FiniteDifferenceOptions {
  double step = 0.0;  // relative step h > 0; 0 = auto (chosen from the noise of L)

  // Throws ConfigError naming the option.
  void Validate() const;
  // step=auto|<h>; ConfigError for an unknown name or a bad value.
  static FiniteDifferenceOptions FromSettings(const Settings& settings);
};

// L(x) for x = [θ; z0] through one integrator, counting every solve into stats().
class LossMap {
 public:
  // Validates options and problem; creates the integrator.
  LossMap(const OdeProblem& problem, const Loss& loss, const GradientOptions& options);
  Index size() const { return base_.size(); }
  const Vector& base() const { return base_; }  // [θ; z0] of the problem
  // True when the steps adapt (fixed_step = 0): L is then smooth only up to the tolerance.
  bool adaptive() const { return adaptive_; }
  double rtol() const { return rtol_; }
  // L at the base point, with dL/dφ and the trajectory (either may be null).
  double AtBase(Vector* readout_grad, Trajectory* forward);
  // L at base + scale·direction (direction of length size()).
  double Along(const Vector& direction, double scale);
  // L at the base point with component i set to value.
  double WithComponent(Index i, double value);
  // L at the base point through the same integrator at 100 times tighter tolerances (rtol and
  // atol, at least 1e-14 and 1e-300): |L − this| bounds the size of the map's error.
  double AtTighterTolerance();
  GradientStats& stats() { return stats_; }

 private:
  void SetPoint(const Vector& x);
  double Solve(Integrator& integrator, Trajectory* forward, Vector* readout_grad);

  OdeProblem perturbed_;
  const Loss& loss_;
  GradientOptions options_;
  std::unique_ptr<Integrator> integrator_;
  Vector base_;
  bool adaptive_ = false;
  double rtol_ = 0.0;
  GradientStats stats_;
  Trajectory scratch_;
};

// The noise ε of L around the base point (absolute, in units of L): the ECnoise estimate of
// Moré & Wild (2011), the smallest of the 2nd–5th difference estimates from 6 solves at
// base ± k·1e-4·p (k = 1, 2, 3, p_i = ±max(1, |x_i|) from a fixed seed; when such a solve fails
// with a NumericalError or SundialsError, e.g. a state leaving the field's domain, at 1e-6·p,
// then not measured), at least 4·eps·|L|.
double EstimateLossNoise(LossMap& map, double loss_at_base);

// For an adaptive map: |L − L_tight| / |L|, with L_tight from the same integrator at 100 times
// tighter tolerances (one more solve), an estimate of the map's own relative error (infinite
// when L = 0 and L_tight is not). 0 for a fixed-step map.
double MapRelativeError(LossMap& map, double loss_at_base);

// Relative step h* = (3ε/|L|)^{1/3}, clamped to [1e-8, 1e-1] (ε ≤ 0 or L = 0: 1e-6).
double NoiseOptimalStep(double noise, double loss);

// One central-difference derivative and its error estimate (absolute, same units).
struct DifferenceEstimate {
  double value = 0.0;
  double step = 0.0;        // h_i actually used (absolute)
  double truncation = 0.0;  // Richardson estimate (0 for a single difference)
  double noise = 0.0;       // ε / h_i
};

// dL/dx_i. relative_step > 0: one difference at h = relative_step·max(1, |x_i|); with auto
// (relative_step = 0) the ladder of the file comment, starting at the noise-optimal step.
DifferenceEstimate ComponentDerivative(LossMap& map, Index i, double noise, double loss,
                                       double relative_step);
// dL/dx along direction d (entries in the scale of x): (L(x + h d) − L(x − h d)) / (2h), with
// h chosen as for a component (relative_step = 0: the ladder).
DifferenceEstimate DirectionalDerivative(LossMap& map, const Vector& direction, double noise,
                                         double loss, double relative_step);

class FiniteDifference final : public GradientMethod {
 public:
  explicit FiniteDifference(const GradientOptions& options, FiniteDifferenceOptions own = {});
  std::string name() const override { return "finite_difference"; }
  const GradientOptions& options() const override { return options_; }
  LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) override;

 private:
  GradientOptions options_;
  FiniteDifferenceOptions own_;
};

// The historical reference of the tests: FiniteDifference with step = 1e-6 (one difference per
// component, h_i = 1e-6·max(1, |x_i|)), so existing results are unchanged; it also sets the
// adaptive-noise flag in stats.
LossAndGradient CentralDifferenceGradient(const OdeProblem& problem, const Loss& loss,
                                          const GradientOptions& options);

}  // namespace snode
