#pragma once
// CheckGradient: is a gradient method right on this problem? In the manner of Ceres'
// GradientChecker, the method's [dL/dθ; dL/dz0] is compared with an independent reference and
// the per-component relative errors and a verdict are reported.
//
// Reference (GradientCheckOptions::reference):
//   "finite_difference" (default)  central differences (FiniteDifference, step auto: chosen from
//        the measured noise of L, with a Richardson ladder) of the forward map
//          - fixed step (integrator_options.fixed_step > 0): the same integrator and step, i.e.
//            the discrete map the training follows (bptt reproduces it exactly; the continuous
//            adjoints differ from it by the discretisation error);
//          - adaptive: the same integrator solved tightly, rtol_ref = clamp(rtol·1e-4, 1e-12,
//            1e-10), atol scaled by the same factor.
//   a registered method name      that method at the reference tolerances above, through the
//        checked integrator or, if the method refuses it, cvodes_bdf, then dopri5 (its own flag,
//        if set, is reported as reference_diagnosis). It shares the field's VJPs with the method
//        checked, so it cannot catch a wrong VJP; it catches a method's own errors.
//
// Components. With P + n ≤ max_components every component is checked. Otherwise a
// deterministic random subset of max_components components (std::mt19937_64(seed)) plus
// `directions` random directional derivatives gᵀd (d_i = ±max(1, |x_i|)) are checked, and the
// result says so (subset = true; component names list what was checked). dL/dφ is not checked:
// every method gets it from the loss exactly.
//
// Error of a component: |g_i − r_i| / max(|r_i|, 1e-3·max_j |r_j|) over the checked coordinate
// components (directions: over the directions), the convention of docs/gradients.md.
// Tolerance: relative_tolerance, or when 0: fixed step 1e-4; adaptive max(100·rtol, 1e-6) (the
// documented bound C·rtol, C = 100, not below what central differences resolve).
//
// Verdict: kFlagged when the method flagged its own gradient (stats.flagged; the errors are still
// reported); else kPass when max error ≤ tolerance; else kInconclusive when the reference's own
// error estimate e_ref (relative, same convention) could explain the difference (max error ≤
// 3·e_ref; e_ref includes the reference map's relative error, MapRelativeError, and is infinite
// when that exceeds 1e-2, e.g. L below the absolute tolerance); else kFail. reference_flagged says
// that the reference is not accurate enough for the tolerance (10·e_ref > tolerance) or, for
// another method, that it flagged itself. Throws what the method or the integrators throw for a bad
// configuration (ConfigError naming it) and ConfigError for bad GradientCheckOptions.

#include <cstdint>
#include <string>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"

namespace snode {

struct GradientCheckOptions {
  std::string reference = "finite_difference";  // or a registered gradient method
  double relative_tolerance = 0.0;              // 0 = auto (see the file comment)
  Index max_components = 32;                    // above this, a random subset
  int directions = 3;                           // random directional derivatives with a subset
  std::uint64_t seed = 0;                       // of the subset and the directions

  // Throws ConfigError naming the field.
  void Validate() const;
};

struct GradientComponentCheck {
  std::string name;  // "dtheta[3]", "dz0[0]" or "direction 1"
  double method = 0.0;
  double reference = 0.0;
  double relative_error = 0.0;
};

enum class GradientVerdict { kPass, kFail, kFlagged, kInconclusive };
// "pass", "FAIL", "flagged", "inconclusive".
std::string VerdictName(GradientVerdict verdict);

struct GradientCheckResult {
  GradientVerdict verdict = GradientVerdict::kPass;
  std::string method;     // the method checked, with its integrator ("bptt/dopri5")
  std::string reference;  // what it was compared with, in words
  std::vector<GradientComponentCheck> components;
  std::size_t worst = 0;            // index into components of the largest relative error
  double max_relative_error = 0.0;  // components[worst].relative_error
  double tolerance = 0.0;           // the tolerance the verdict used
  Index total_components = 0;       // P + n
  bool subset = false;              // only a subset (plus directions) was checked
  double loss = 0.0;                // L from the method
  double reference_loss = 0.0;      // L from the reference
  bool method_flagged = false;
  std::string method_diagnosis;
  bool reference_flagged = false;
  std::string reference_diagnosis;
  double reference_error_estimate = 0.0;  // e_ref (0 when the reference has none)
  GradientStats method_stats;
};

GradientCheckResult CheckGradient(const OdeProblem& problem, const Loss& loss,
                                  const std::string& method, const GradientOptions& options,
                                  const GradientCheckOptions& check = {});

}  // namespace snode
