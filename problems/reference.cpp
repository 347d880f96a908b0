#include "problems/reference.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <sstream>

#include "adjoint/finite_difference.hpp"
#include "integrators/integrator.hpp"

namespace snode::problems {

namespace {

std::string Format(double value, int digits = 2) {
  std::ostringstream out;
  out.precision(digits);
  out << value;
  return out.str();
}

std::string DifferenceIntegrator() {
  return IntegratorRegistry().Contains("cvodes_bdf") ? "cvodes_bdf" : "sdirk";
}

std::string Tolerances(const ReferenceTolerances& t) {
  return "rtol=" + Format(t.rtol) + ", atol=" + Format(t.atol) +
         " (max_steps=" + std::to_string(t.max_steps) + ")";
}

// TightGradient from one gradient method's run; never throws.
template <class Run>
TightGradient Tight(const std::string& integrator, Run&& run) {
  TightGradient tight;
  tight.integrator = integrator;
  try {
    const LossAndGradient result = run();
    const Vector g = result.Joined();
    if (!result.forward.states.empty()) tight.final_state = result.forward.states.back();
    tight.error_estimate = result.stats.error_estimate;
    if (std::isfinite(result.loss) && g.allFinite()) {
      tight.gradient = g;
    } else {
      tight.message = "the gradient is not finite";
    }
  } catch (const std::exception& e) {
    tight.message = e.what();
  }
  return tight;
}

// "a" or "failed (why)".
std::string AgreementText(double agreement, const TightGradient& fd) {
  return fd.gradient.size() > 0 ? Format(agreement) : "failed (" + fd.message + ")";
}

// The cross-check of an adjoint reference against two difference quotients, the fixed step 1e-6
// and the automatic ladder: the Richardson ladder is the more accurate where L is smooth on the
// ladder's widest rung, the small fixed step where it is not (a non-normal exponential that a
// wide step destabilises). agreement = the better of the two: an adjoint error shows in both.
void CrossCheck(const TightGradient& fixed, const TightGradient& automatic, bool positive_states,
                Index p, ReferenceGradient& ref) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Index count = positive_states ? p : -1;
  const double by_fixed =
      fixed.gradient.size() > 0 ? ReferenceAgreement(ref.gradient, fixed.gradient, count) : nan;
  const double by_auto = automatic.gradient.size() > 0
                             ? ReferenceAgreement(ref.gradient, automatic.gradient, count)
                             : nan;
  const std::string what = "central differences of " + automatic.integrator;
  if (std::isnan(by_fixed) && std::isnan(by_auto)) {
    ref.agreement = nan;
    ref.cross_check_error = nan;
    ref.description += "; no cross-check: " + what + " failed: " + automatic.message;
    return;
  }
  ref.agreement = std::fmin(by_fixed, by_auto);
  ref.cross_check_error =
      ref.agreement == by_auto ? automatic.error_estimate : fixed.error_estimate;
  ref.confirmed = ref.agreement <= kReferenceAgreement;
  ref.description +=
      "; " + what + " at the same tolerances " + (ref.confirmed ? "agree" : "DISAGREE") + " on " +
      (positive_states ? "dL/dθ (positive states: not dL/dz0)" : "dL/dθ, dL/dz0") + " to " +
      Format(ref.agreement) + " relative (step 1e-6: " + AgreementText(by_fixed, fixed) +
      "; automatic step: " + AgreementText(by_auto, automatic) + ", own error estimate " +
      Format(automatic.error_estimate) + ")";
}

}  // namespace

ReferenceTolerances ReferenceTolerancesFor(const ProblemSetup& setup, double atol_scale) {
  ReferenceTolerances t;
  const double size = setup.ode.z0.size() > 0 ? setup.ode.z0.cwiseAbs().maxCoeff() : 0.0;
  t.atol = t.rtol * atol_scale * 1e-2 * std::max(1.0, size);
  return t;
}

GradientOptions TightGradientOptions(const std::string& integrator,
                                     const ReferenceTolerances& tolerances) {
  GradientOptions options;
  options.integrator = integrator;
  options.integrator_options.rtol = tolerances.rtol;
  options.integrator_options.atol = tolerances.atol;
  options.integrator_options.max_steps = tolerances.max_steps;
  return options;
}

TightGradient TightCvodesAdjoint(const ProblemSetup& setup, const ReferenceTolerances& tolerances) {
  if (!GradientRegistry().Contains("cvodes_adjoint") ||
      !IntegratorRegistry().Contains("cvodes_bdf")) {
    TightGradient tight;
    tight.integrator = "cvodes_bdf";
    tight.message = "cvodes_adjoint/cvodes_bdf is not registered";
    return tight;
  }
  return Tight("cvodes_bdf", [&] {
    auto method =
        GradientRegistry().Create("cvodes_adjoint", TightGradientOptions("cvodes_bdf", tolerances));
    return method->Compute(setup.ode, *setup.loss);
  });
}

TightGradient TightCentralDifferences(const ProblemSetup& setup,
                                      const ReferenceTolerances& tolerances, double step) {
  const std::string integrator = DifferenceIntegrator();
  return Tight(integrator, [&] {
    FiniteDifferenceOptions own;
    own.step = step;
    return FiniteDifference(TightGradientOptions(integrator, tolerances), own)
        .Compute(setup.ode, *setup.loss);
  });
}

double ReferenceAgreement(const Vector& reference, const Vector& check, Index count) {
  if (reference.size() == 0 || reference.size() != check.size()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const Index n = count < 0 ? reference.size() : std::min(count, reference.size());
  const double floor = 1e-3 * reference.head(n).cwiseAbs().maxCoeff();
  double worst = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double scale = std::max(std::abs(reference(i)), floor);
    const double diff = std::abs(reference(i) - check(i));
    if (diff == 0.0) continue;
    worst = std::max(worst, scale > 0.0 ? diff / scale : std::numeric_limits<double>::infinity());
  }
  return worst;
}

double SpectralRadiusAt(const OdeProblem& ode, const Vector& state) {
  const Index n = state.size();
  if (n == 0 || !ode.field || !ode.field->HasDenseJacobian() || n > 500 ||
      ode.output_times.empty()) {
    return 0.0;
  }
  try {
    Matrix jac(n, n);
    ode.field->DenseJacobian(ode.output_times.back(), state, ode.theta, jac);
    return jac.eigenvalues().cwiseAbs().maxCoeff();
  } catch (const std::exception&) {
    return 0.0;
  }
}

ReferenceGradient ComputeReference(const ProblemSetup& setup,
                                   const ProblemCapabilities& capabilities) {
  ReferenceGradient ref;
  if (setup.exact_gradient) {
    ref.ok = setup.exact_gradient->allFinite();
    ref.gradient = *setup.exact_gradient;
    ref.source = "exact";
    ref.confirmed = ref.ok;
    ref.description = ref.ok ? "exact gradient of the problem" : "the exact gradient is not finite";
    return ref;
  }
  const ReferenceTolerances tolerances = ReferenceTolerancesFor(setup, capabilities.atol_scale);
  const TightGradient adjoint = TightCvodesAdjoint(setup, tolerances);
  const TightGradient fixed = TightCentralDifferences(setup, tolerances, 1e-6);
  const TightGradient automatic = TightCentralDifferences(setup, tolerances);
  const TightGradient& fd = automatic.gradient.size() > 0 ? automatic : fixed;
  const Index p = setup.ode.theta.size();
  if (adjoint.gradient.size() > 0) {
    ref.ok = true;
    ref.gradient = adjoint.gradient;
    ref.source = "cvodes_adjoint";
    ref.description = "cvodes_adjoint with cvodes_bdf at " + Tolerances(tolerances);
    CrossCheck(fixed, automatic, capabilities.positive_states, p, ref);
    ref.spectral_radius = SpectralRadiusAt(setup.ode, adjoint.final_state);
    return ref;
  }
  ref.agreement = std::numeric_limits<double>::quiet_NaN();
  ref.cross_check_error = std::numeric_limits<double>::quiet_NaN();
  const std::string why = "cvodes_adjoint failed: " + adjoint.message;
  if (fd.gradient.size() > 0) {
    ref.ok = true;
    ref.gradient = fd.gradient;
    ref.source = "central differences";
    ref.cross_check_error = fd.error_estimate;
    ref.description = "central differences (" +
                      std::string(&fd == &automatic ? "automatic step" : "step 1e-6") + ") of " +
                      fd.integrator + " at " + Tolerances(tolerances) + ", own error estimate " +
                      Format(fd.error_estimate) + ", not cross-checked (" + why + ")";
    if (capabilities.positive_states) {
      ref.description += "; dL/dz0 perturbs non-negative states and may be wrong";
    }
    ref.spectral_radius = SpectralRadiusAt(setup.ode, fd.final_state);
    return ref;
  }
  ref.description = "no reference gradient: " + why + "; central differences of " + fd.integrator +
                    " failed: " + fd.message;
  return ref;
}

}  // namespace snode::problems
