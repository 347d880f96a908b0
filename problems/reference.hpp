#pragma once
// The reference gradient of a problem without an exact one: what a study compares every method
// with, computed by the study itself and described in words.
//
//   1. the exact gradient, when the problem has one (source "exact");
//   2. otherwise the CVODES adjoint (cvodes_adjoint with cvodes_bdf) at tight tolerances
//      (ReferenceTolerancesFor), cross-checked against central differences (FiniteDifference)
//      of a cvodes_bdf solve (sdirk when cvodes_bdf is not registered) at the same tolerances,
//      twice: with the fixed relative step 1e-6 and with the automatic step (a Richardson ladder
//      from the noise-optimal step, which also estimates its own error). The ladder is the more
//      accurate where L is smooth over its widest rung, the small step where it is not (a wide
//      step can destabilise a non-normal system); the better agreement counts, since an error
//      of the adjoint shows against both (source "cvodes_adjoint");
//   3. when the adjoint fails or is not finite, the automatic-step differences (the fixed-step
//      ones when those failed; source "central differences").
// With positive_states the cross-check compares dL/dθ only: a ±h perturbation of z0 may push a
// species below zero (Robertson's z0 = (1, 0, 0)), and dL/dz0 by differences is then not
// trustworthy.
//
// Agreement: max_i |a_i − d_i| / max(|a_i|, 1e-3·‖a‖∞) over the compared components, a = the
// adjoint, d = the differences (the measure of the finite-difference error estimate).
//
// Never throws for a failing solve (failures end up in the description); thread-safe (no shared
// state beyond reading the registries).

#include <string>

#include "adjoint/gradient_method.hpp"
#include "core/types.hpp"
#include "problems/problem.hpp"
#include "problems/problem_registry.hpp"

namespace snode::problems {

// Agreement of the cross-check below which a reference counts as confirmed.
constexpr double kReferenceAgreement = 1e-4;

struct ReferenceTolerances {
  double rtol = 1e-12;
  double atol = 1e-20;
  long max_steps = 1000000;  // per output interval
};

// rtol = 1e-12 and atol = rtol · atol_scale · 1e-2 · max(1, ‖z0‖∞): the study's method matrix
// pairs rtol with rtol · atol_scale, and the reference is a further 100 times tighter in atol so
// that absolute control never decides the step near a state's zero crossing. Robertson
// (atol_scale 1e-6, z0 = (1, 0, 0)) gets 1e-20.
ReferenceTolerances ReferenceTolerancesFor(const ProblemSetup& setup, double atol_scale);

// Options of a tight solve by integrator at tolerances.
GradientOptions TightGradientOptions(const std::string& integrator,
                                     const ReferenceTolerances& tolerances);

// One tight gradient computation. Never throws.
struct TightGradient {
  Vector gradient;     // [dL/dθ; dL/dz0]; empty when it failed or is not finite
  Vector final_state;  // the forward state at the last output time (empty when unavailable)
  std::string integrator;
  std::string message;          // why gradient is empty
  double error_estimate = 0.0;  // the method's own relative error estimate (GradientStats)
};
// cvodes_adjoint with cvodes_bdf.
TightGradient TightCvodesAdjoint(const ProblemSetup& setup, const ReferenceTolerances& tolerances);
// Central differences of cvodes_bdf, or sdirk when cvodes_bdf is not registered, with the
// relative step `step` (0: automatic, see adjoint/finite_difference.hpp).
TightGradient TightCentralDifferences(const ProblemSetup& setup,
                                      const ReferenceTolerances& tolerances, double step = 0.0);

// The agreement measure of the file comment over the first `count` components (all when
// count < 0). NaN when the sizes differ or either is empty.
double ReferenceAgreement(const Vector& reference, const Vector& check, Index count = -1);

// max |eig(∂f/∂z)| at (the last output time, state) for a field with a dense Jacobian of at most
// 500 states; 0 otherwise or when state is empty.
double SpectralRadiusAt(const OdeProblem& ode, const Vector& state);

struct ReferenceGradient {
  bool ok = false;          // gradient holds a finite reference
  Vector gradient;          // [dL/dθ; dL/dz0]
  std::string source;       // "exact" | "cvodes_adjoint" | "central differences" ("" when none)
  std::string description;  // what, at which tolerances, and the cross-check's agreement
  double agreement = 0.0;   // the cross-check's agreement (NaN when there was no cross-check)
  double cross_check_error = 0.0;  // the own error estimate of the differences that counted
                                   // (NaN when none)
  bool confirmed = false;          // exact, or the cross-check agrees to kReferenceAgreement
  // max |eig(∂f/∂z)| at the last output time on the reference's forward solve: how stiff the
  // problem is there (0 when unknown: exact source, no dense Jacobian, or no forward state).
  double spectral_radius = 0.0;
};

// The reference of the file comment for setup, with capabilities (atol_scale, positive_states)
// of its problem.
ReferenceGradient ComputeReference(const ProblemSetup& setup,
                                   const ProblemCapabilities& capabilities);

}  // namespace snode::problems
