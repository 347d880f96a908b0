#pragma once
// The tolerance check: a run-time estimate of a gradient's error by tolerance reduction, for any
// gradient method (built-in or plug-in) on an adaptive forward integrator.
//
// An adaptive solve's global error scales with its tolerance, so the same gradient computed again
// with every tolerance divided by 10 (forward and backward rtol and atol) is about ten times more
// accurate, and the difference of the two estimates the error of the first:
//
//   e = max_i |g_i − g'_i| / max(|g'_i|, 1e-3·‖g'‖∞),   g = [dL/dθ; dL/dz0],
//
// the convention the validation suite judges every method by (docs/gradients.md). When the tighter
// solve fails (a step budget, a Newton failure), the check uses a solve with tolerances ×10
// instead and e = difference / 9. The result is flagged when e > bound·rtol (bound = 100, the
// documented bound of the built-in methods) and some component differs by more than bound·atol
// (smaller differences are below what the solve resolves, e.g. a gradient that underflows), or
// when neither comparison solve succeeds.
//
// This catches what a method cannot see from inside one solve: the discretisation error of
// bptt's adaptive map, a continuous adjoint whose error the forward solve amplifies (a relaxation
// jump), an explicit method past its stability limit. It costs one more gradient at a tenth of the
// tolerance (about 1.5–3× the cost of the gradient), so it is off in training loops and on in the
// studies and in CheckGradient. Fixed-step runs (no tolerance to reduce) are left unchecked.

#include <memory>
#include <string>

#include "adjoint/gradient_method.hpp"

namespace snode {

struct ToleranceCheckOptions {
  double factor = 10.0;  // tolerance reduction of the comparison solve
  double bound = 100.0;  // flag when the estimated error exceeds bound·rtol
};

// The gradient method `name` (registry) with the tolerance check around it when
// options.tolerance_check is set and the forward integrator is adaptive; the plain method
// otherwise. Throws what GradientRegistry().Create throws.
std::unique_ptr<GradientMethod> CreateGradientMethod(const std::string& name,
                                                     const GradientOptions& options,
                                                     ToleranceCheckOptions check = {});

// options with every tolerance (forward and backward rtol, atol) multiplied by scale.
GradientOptions ScaleTolerances(GradientOptions options, double scale);

// The error measure of the file comment; NaN when either vector is empty or not finite, or the
// lengths differ.
double BoundConventionError(const Vector& g, const Vector& reference);

}  // namespace snode
