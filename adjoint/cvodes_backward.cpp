#include "adjoint/cvodes_backward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace snode {

double FlagTolerance(const GradientOptions& options) {
  return std::max(options.integrator_options.rtol, options.EffectiveBackwardOptions().rtol);
}

double BoundedDifference(const Vector& x, const Vector& y, double floor) {
  double worst = 0.0;
  for (Index i = 0; i < y.size(); ++i) {
    const double difference = std::abs(x(i) - y(i));
    const double denominator = std::max(std::abs(y(i)), floor);
    if (difference > 0.0) worst = std::max(worst, difference / denominator);
  }
  return std::isfinite(worst) ? worst : std::numeric_limits<double>::infinity();
}

void ReportErrorEstimate(double estimate, double rtol, const std::string& what,
                         GradientStats& stats) {
  stats.error_estimate = estimate;
  if (!(estimate > kCvodesFlagFactor * rtol)) return;
  std::ostringstream reason;
  reason << "cvodes_adjoint: " << what << " differ by " << estimate << " relative (more than "
         << kCvodesFlagFactor << "·rtol = " << kCvodesFlagFactor * rtol << ")";
  stats.Flag(reason.str());
}

std::unique_ptr<BackwardStrategy> MakeBackwardStrategy(const CvodesBackwardChoice& choice,
                                                       const GradientOptions& options, Index n,
                                                       Index p, bool running_cost,
                                                       CvodesForward& forward, SUNContext ctx) {
  switch (choice.kind) {
    case CvodesBackwardKind::kCvodesQuadrature:
      return MakeCvodesQuadratureBackward(options, n, p, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kGaussRestart:
      return MakeGaussRestartBackward(options, n, 0, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kControlledGauss:
      return MakeGaussRestartBackward(options, n, p, choice.jump_layer, forward, ctx);
    case CvodesBackwardKind::kFundamental:
      return MakeFundamentalBackward(options, n, running_cost, forward, ctx);
    case CvodesBackwardKind::kExponential:
      return MakeExponentialBackward(options, n, p);
    case CvodesBackwardKind::kRegistry:
      return MakeRegistryBackward(options, n);
  }
  return nullptr;  // not reached: every kind is handled above
}

}  // namespace snode
