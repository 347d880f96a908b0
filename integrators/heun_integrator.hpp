#pragma once
// "heun": the explicit trapezoidal rule (Heun's method), a step-level method on StepIntegrator
// (integrators/step_integrator.hpp), which supplies the output loop, the step-size controller,
// jumps at output times, after_step hooks with a cubic Hermite dense output, interpolated
// outputs, max_steps and the NaN checks. It is the worked example of docs/plugins.md.
//
// One step of size h from (t, z):
//   k1 = f(t, z),  k2 = f(t + h, z + h k1),  z_new = z + h/2 (k1 + k2)     (order 2)
// Forward Euler z + h k1 is the embedded first-order solution, so the local error estimate is
//   e = z_new − (z + h k1) = h/2 (k2 − k1),
// and the controller's step factor is 0.9·‖e‖^{-1/2} clamped to [0.2, 5]. The step is exactly
// ExplicitTableau("heun"), which Capabilities() declares (bptt replays it).
//
// Cost: 2 f evaluations per step attempt (k1 is shared by the retries after a rejection; with a
// dense output, f at a step's end serves as the next k1). Stability: explicit, real stability
// interval hλ ∈ [−2, 0], so it is unsuited to stiff problems.
//
// Throws ConfigError (bad options or problem), NumericalError (NaN/Inf in f or the state, step
// size underflow), SundialsError with flag name HEUN_TOO_MUCH_WORK (more than options.max_steps
// steps in one output interval, worded like the SUNDIALS integrators' ARK_TOO_MUCH_WORK) and
// whatever the field throws (unchanged). Holds no resources besides workspace vectors; reusable
// across solves.

#include "core/types.hpp"
#include "integrators/step_integrator.hpp"

namespace snode {

class HeunIntegrator final : public StepIntegrator {
 public:
  explicit HeunIntegrator(IntegratorOptions options);

 protected:
  void Step(StepContext& ctx, double t, const Vector& z, double h, Vector& z_new,
            Vector& error) override;
};

}  // namespace snode
