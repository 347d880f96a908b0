#pragma once
// L-BFGS minimisation of a smooth objective, backed by Debian's libLBFGS (Nocedal's L-BFGS with a
// Moré–Thuente line search, maintained by N. Okazaki). Used for small parameter vectors, e.g. the
// Lotka–Volterra parameter discovery; Adam (optim/adam.hpp) is for networks.

#include <functional>
#include <string>

#include "core/types.hpp"

namespace snode {

struct LbfgsOptions {
  int memory = 8;                        // number of correction pairs kept
  int max_iterations = 200;              // 0 means until convergence
  double gradient_tol = 1e-8;            // stop when ‖g‖ < gradient_tol·max(1, ‖x‖)
  double relative_decrease_tol = 1e-12;  // stop when f decreased less than this over 5 iterations
  int max_line_search = 40;              // objective evaluations per line search
  void Validate() const;                 // throws ConfigError
};

struct LbfgsResult {
  double value = 0;        // objective at the returned x
  int iterations = 0;      // L-BFGS iterations
  int evaluations = 0;     // objective + gradient evaluations
  int status = 0;          // libLBFGS return code (0: converged)
  std::string message;     // plain-words reading of status
  bool converged = false;  // status is a normal stop (converged, stopped by tolerance)
  // The line search stopped on rounding errors (counted as converged above): on a loss that is
  // only piecewise smooth this can happen far from a minimum, and a restart may go on.
  bool line_search_stalled = false;
};

// objective(x, grad) returns f(x) and writes ∇f(x) into grad (length of x). If it returns a
// non-finite value the line search backs off. Exceptions thrown by the objective propagate out of
// Minimize after libLBFGS has returned (they never cross its C frames).
using Objective = std::function<double(const Vector& x, Vector& grad)>;
// Called after each iteration with (iteration, x, f); return false to stop early.
using IterationCallback = std::function<bool(int iteration, const Vector& x, double value)>;

// Minimises objective from x (updated in place to the best point found).
LbfgsResult MinimizeLbfgs(const Objective& objective, Vector& x, const LbfgsOptions& options = {},
                          const IterationCallback& callback = nullptr);

}  // namespace snode
