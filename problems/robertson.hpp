#pragma once
// Robertson's chemical kinetics (a classic stiff problem): y = (y1, y2, y3),
//   y1' = −k1 y1 + k2 y2 y3,  y2' = k1 y1 − k2 y2 y3 − k3 y2²,  y3' = k3 y2²,
// k = θ = (0.04, 3e7, 1e4), y(0) = (1, 0, 0), on [0, T]. y2 lives at 1e-5 … 1e-11, so solvers
// need a tiny absolute tolerance. Two losses with the weights w = (1, 1e4, 0):
//   final time:               L = w·y(T)
//   sum of observations:      L = Σ_t w·y(t) over the 50 log-spaced t in [1e-5, 1e5] with t ≤ T.
// There is no closed-form gradient: ComputeRobertsonReference gives a tight one.

#include <string>
#include <vector>

#include "models/analytic_fields.hpp"
#include "problems/problem.hpp"

namespace snode::problems {

// The ODE alone: RobertsonField with `rates`, y(0) = (1, 0, 0), t0 = 0, observed at `times`.
OdeProblem RobertsonOde(std::vector<double> times, Vector rates = RobertsonField::ClassicRates());

// Final-time loss; name "robertson", stiffness T.
ProblemSetup MakeRobertson(double horizon);
// Sum-of-observations loss at RobertsonSumTimes(horizon); name "robertson_sum", stiffness T.
ProblemSetup MakeRobertsonSum(double horizon);
// The 50 log-spaced times 10^{-5 + 10 i/49}, i = 0 … 49, that are ≤ horizon (1 + 1e-12).
std::vector<double> RobertsonSumTimes(double horizon);

// A tight reference gradient [dL/dk; dL/dy0] for a Robertson problem: the CVODES adjoint with
// BDF at rtol = 1e-12, atol = 1e-20 (up to 1e6 steps), and as cross-check central differences
// of a BDF solve (cvodes_bdf, or sdirk when it is not registered) at the same tolerances; the
// parts of problems/reference.hpp's ComputeReference, kept separately for the Robertson bench.
// Never throws: failures are kept as messages.
struct RobertsonReference {
  Vector adjoint;                // empty when the adjoint failed, was unavailable or non-finite
  std::string adjoint_message;   // why it is empty
  Vector finite_difference;      // empty when the differences failed
  std::string fd_integrator;     // integrator of the differences
  std::string fd_message;        // why they failed
  double spectral_radius = 0.0;  // max |eig(∂f/∂y)| at T on the reference's forward solve (0
                                 // when there is none)
};
RobertsonReference ComputeRobertsonReference(const ProblemSetup& problem);

}  // namespace snode::problems
