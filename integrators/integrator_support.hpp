#pragma once
// Small helpers shared by the integrator implementations (snode::detail): the number format of
// their messages and the checks of an integrator that only stops at output times.

#include <string>

#include "core/ode_problem.hpp"
#include "integrators/integrator.hpp"

namespace snode {
namespace detail {

// t (or a step size) with 6 significant digits, as the integrators' messages print it.
std::string FormatTime(double t);

// For an integrator whose steps end on every output time, without dense output and without
// jumps (heun, epi2): ConfigError naming the integrator when options.interpolate_outputs is set
// or the problem has OdeProblem::at_output or OdeProblem::after_step.
void RequireStopTimesOnly(const std::string& integrator, const IntegratorOptions& options,
                          const OdeProblem& problem);

}  // namespace detail
}  // namespace snode
