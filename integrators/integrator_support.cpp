#include "integrators/integrator_support.hpp"

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

}  // namespace detail
}  // namespace snode
