#include "integrators/integrator_support.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.hpp"

namespace snode {
namespace detail {

std::string FormatTime(double t) {
  std::ostringstream out;
  out.precision(6);
  out << t;
  return out.str();
}

void RequireStopTimesOnly(const std::string& integrator, const IntegratorOptions& options,
                          const OdeProblem& problem) {
  Require(!options.interpolate_outputs, [&] {
    return "integrator '" + integrator +
           "' has no dense output: integrator option interpolate_outputs is not available (its "
           "steps end on every output time)";
  });
  Require(!problem.at_output, [&] {
    return "integrator '" + integrator +
           "' does not support jumps at output times (OdeProblem::at_output)";
  });
  Require(!problem.after_step, [&] {
    return "integrator '" + integrator +
           "' has no dense output: OdeProblem::after_step is not available";
  });
}

double HairerFirstGuess(double d0, double d1) {
  return (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
}

double HairerStartingStep(double h0, double d1, double d2, int order) {
  const double largest = std::max(d1, d2);
  const double h1 =
      largest <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / largest, 1.0 / (order + 1.0));
  return std::min(100.0 * h0, h1);
}

}  // namespace detail
}  // namespace snode
