#pragma once
// A problem of the library: an ODE (vector field, parameters θ, initial state z0, output times),
// a loss on the states at the output times and, where one is known in closed form, the exact
// gradient g = [dL/dθ; dL/dz0]. Studies, tests and benchmarks build their problems from here so
// each is defined once.

#include <memory>
#include <optional>
#include <string>

#include "adjoint/loss.hpp"
#include "core/ode_problem.hpp"
#include "core/types.hpp"

namespace snode::problems {

struct ProblemSetup {
  std::string name;        // short identifier, e.g. "decay", "two_rate_decay", "robertson"
  double stiffness = 0.0;  // the parameter a stiffness sweep varies (λ; the horizon T for
                           // Robertson), 0 when there is none
  OdeProblem ode;
  std::shared_ptr<const Loss> loss;
  std::optional<Vector> exact_gradient;  // [dL/dθ; dL/dz0], when known in closed form
};

}  // namespace snode::problems
