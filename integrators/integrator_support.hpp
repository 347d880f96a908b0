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
// jumps (epi2): ConfigError naming the integrator when options.interpolate_outputs is set
// or the problem has OdeProblem::at_output or OdeProblem::after_step.
void RequireStopTimesOnly(const std::string& integrator, const IntegratorOptions& options,
                          const OdeProblem& problem);

// The starting step of Hairer, Nørsett & Wanner (Solving ODEs I, 2nd ed., II.4), in two parts
// around the one f evaluation it needs. With d0 = ‖z0‖ and d1 = ‖f(t0, z0)‖ in the error-weight
// norm: h0 = 0.01·d0/d1, or 1e-6 when either is below 1e-5.
double HairerFirstGuess(double d0, double d1);
// With d2 = ‖f(t0 + h0, z0 + h0·f0) − f0‖/h0 (an estimate of ‖z''‖): the step whose local error
// of a method of the given order is about the tolerance, min(100·h0, (0.01/max(d1,
// d2))^{1/(order+1)}) (max(1e-6, 1e-3·h0) instead of the power when max(d1, d2) ≤ 1e-15).
double HairerStartingStep(double h0, double d1, double d2, int order);

}  // namespace detail
}  // namespace snode
