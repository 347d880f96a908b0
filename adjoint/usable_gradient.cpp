#include "adjoint/usable_gradient.hpp"

#include <cmath>
#include <cstdio>

#include "core/errors.hpp"

namespace snode {

namespace {

std::string ThreeDigits(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

}  // namespace

void RequireUsableGradient(const LossAndGradient& result, const std::string& method,
                           const std::string& what) {
  // Refused only when z_rec(t0) is off by more than |z0| itself, or not finite (the seed's decay
  // at λ = 100 reconstructs y0 ≈ 1e37).
  const double error = result.stats.reconstruction_error;
  if (result.stats.reconstruction_failed && !(error <= 1.0)) {
    throw NumericalError("gradient '" + method + "' at " + what +
                         ": the backward reconstruction of z failed (relative error " +
                         ThreeDigits(error) +
                         "), so the gradient is not used; the problem may be stiff: use "
                         "cvodes_adjoint or bptt");
  }
  if (!result.dtheta.allFinite()) {
    throw NumericalError("gradient '" + method + "' at " + what + " is NaN/Inf; not used");
  }
}

}  // namespace snode
