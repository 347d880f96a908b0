#pragma once
// "heun": the explicit trapezoidal rule (Heun's method), written by hand without SUNDIALS. It is
// the worked example of docs/plugins.md: a complete, registered integrator in one file pair.
//
// One step of size h from (t, z):
//   k1 = f(t, z),  k2 = f(t + h, z + h k1),  z_new = z + h/2 (k1 + k2)     (order 2)
// Forward Euler z + h k1 is the embedded first-order solution, so the local error estimate is
//   e = z_new − (z + h k1) = h/2 (k2 − k1).
//
// Modes: options.fixed_step > 0 takes steps of that size, shortening the last step of each output
// interval so that every output time is hit exactly. Otherwise the step is adaptive: a step is
// accepted when ‖e‖ ≤ 1 in the weighted RMS norm with weights 1/(rtol·max(|z|,|z_new|) + atol), and
// the next step is h·clamp(0.9·‖e‖^{-1/2}, 0.2, 5) (capped by options.max_step and the next output
// time). Cost: 2 f evaluations per step attempt. Stability: explicit, real stability interval
// hλ ∈ [−2, 0], so it is unsuited to stiff problems.
//
// Throws ConfigError (bad options or problem), NumericalError (NaN/Inf in f or the state, step
// size underflow), SundialsError with flag name HEUN_TOO_MUCH_WORK (more than options.max_steps
// steps in one output interval, worded like the SUNDIALS integrators' ARK_TOO_MUCH_WORK) and
// whatever the field throws (unchanged). Holds no resources besides workspace vectors; reusable
// across solves.

#include <string>

#include "core/types.hpp"
#include "integrators/integrator.hpp"

namespace snode {

class HeunIntegrator final : public Integrator {
 public:
  explicit HeunIntegrator(IntegratorOptions options);

  std::string name() const override { return "heun"; }
  const IntegratorOptions& options() const override { return options_; }
  Trajectory Solve(const OdeProblem& problem) override;

 private:
  // One Heun step of size h from (t, z_): fills z_new_ and error_ (the Euler-difference estimate).
  void Step(const OdeProblem& problem, double t, double h);
  // Weighted RMS norm of error_ with the weights described above.
  double ErrorNorm() const;
  void CheckFinite(const Vector& v, const char* what, double t) const;

  IntegratorOptions options_;
  Vector z_, z_new_, k1_, k2_, stage_, error_;  // workspace, length n
  long rhs_evals_ = 0;
};

}  // namespace snode
