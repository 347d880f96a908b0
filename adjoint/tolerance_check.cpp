#include "adjoint/tolerance_check.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <utility>

#include "integrators/integrator.hpp"

namespace snode {
namespace {

std::string Scientific(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1e", value);
  return text;
}

class ToleranceCheckedMethod final : public GradientMethod {
 public:
  ToleranceCheckedMethod(std::string name, const GradientOptions& options,
                         ToleranceCheckOptions check)
      : name_(std::move(name)),
        options_(options),
        check_(check),
        inner_(GradientRegistry().Create(name_, options)) {}

  std::string name() const override { return inner_->name(); }
  const GradientOptions& options() const override { return inner_->options(); }

  LossAndGradient Compute(const OdeProblem& problem, const Loss& loss) override {
    LossAndGradient result = inner_->Compute(problem, loss);
    const Vector g = result.Joined();
    if (!g.allFinite()) return result;  // already non-finite: nothing to estimate
    const double rtol = options_.integrator_options.rtol;
    std::string failure;
    double estimate = Compare(problem, loss, g, 1.0 / check_.factor, &failure);
    if (std::isnan(estimate)) estimate = Compare(problem, loss, g, check_.factor, &failure);
    GradientStats& stats = result.stats;
    if (std::isnan(estimate)) {
      stats.Flag("tolerance check: no comparison solve succeeded (" + failure + ")");
      return result;
    }
    stats.error_estimate =
        std::isnan(stats.error_estimate) ? estimate : std::max(stats.error_estimate, estimate);
    // Differences below bound·atol are under what the solve was asked to resolve (a gradient
    // that underflows, e^{-1e4}): not evidence of an error.
    const double atol = options_.integrator_options.atol;
    if (estimate > check_.bound * rtol && largest_difference_ > check_.bound * atol) {
      stats.Flag("tolerance check: the gradient changes by " + Scientific(estimate) +
                 " when the tolerances are divided by " + Scientific(check_.factor) + " (bound " +
                 Scientific(check_.bound * rtol) + ")");
    }
    return result;
  }

 private:
  // The estimated error of g from a solve with tolerances × scale (NaN when it fails).
  double Compare(const OdeProblem& problem, const Loss& loss, const Vector& g, double scale,
                 std::string* failure) {
    try {
      auto method = GradientRegistry().Create(name_, ScaleTolerances(options_, scale));
      const LossAndGradient other = method->Compute(problem, loss);
      const Vector reference = other.Joined();
      const double difference = BoundConventionError(g, reference);
      if (reference.size() == g.size()) largest_difference_ = (g - reference).cwiseAbs().maxCoeff();
      if (std::isnan(difference)) {
        *failure = "non-finite gradient at tolerances ×" + Scientific(scale);
        return difference;
      }
      // A tighter solve is ~factor× more accurate: e ≈ |g − g'|; a looser one ~factor× less:
      // |g − g'| ≈ (factor − 1)·e.
      return scale < 1.0 ? difference : difference / (check_.factor - 1.0);
    } catch (const std::exception& e) {
      *failure = e.what();
      return std::numeric_limits<double>::quiet_NaN();
    }
  }

  std::string name_;
  GradientOptions options_;
  ToleranceCheckOptions check_;
  std::unique_ptr<GradientMethod> inner_;
  double largest_difference_ = 0.0;  // max_i |g_i − g'_i| of the last comparison
};

bool AdaptiveForward(const GradientOptions& options) {
  if (options.integrator_options.fixed_step > 0.0) return false;
  const IntegratorCapabilities caps =
      IntegratorRegistry().Create(options.integrator, options.integrator_options)->Capabilities();
  return caps.error_estimate && !caps.needs_fixed_step;
}

}  // namespace

GradientOptions ScaleTolerances(GradientOptions options, double scale) {
  options.integrator_options.rtol *= scale;
  options.integrator_options.atol *= scale;
  if (options.backward_options) {
    options.backward_options->rtol *= scale;
    options.backward_options->atol *= scale;
  }
  return options;
}

double BoundConventionError(const Vector& g, const Vector& reference) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (g.size() == 0 || g.size() != reference.size() || !g.allFinite() || !reference.allFinite()) {
    return nan;
  }
  const double floor = 1e-3 * reference.cwiseAbs().maxCoeff();
  double worst = 0.0;
  for (Index i = 0; i < g.size(); ++i) {
    const double scale = std::max(std::abs(reference[i]), floor);
    const double difference = std::abs(g[i] - reference[i]);
    if (difference == 0.0) continue;
    worst =
        std::max(worst, scale > 0.0 ? difference / scale : std::numeric_limits<double>::infinity());
  }
  return worst;
}

std::unique_ptr<GradientMethod> CreateGradientMethod(const std::string& name,
                                                     const GradientOptions& options,
                                                     ToleranceCheckOptions check) {
  if (!options.tolerance_check || !AdaptiveForward(options)) {
    return GradientRegistry().Create(name, options);
  }
  return std::make_unique<ToleranceCheckedMethod>(name, options, check);
}

}  // namespace snode
