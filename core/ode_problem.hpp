#pragma once
// OdeProblem: z' = f(t, z; θ), z(t0) = z0, observed at strictly increasing output_times > t0
// (the first may equal t0). The field is shared: several problems (and a problem and its
// finite-difference copies) may point at one field.

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

class StateDistribution;

// The solver's dense output over its last accepted step (see OdeProblem::after_step).
class DenseOutput {
 public:
  virtual ~DenseOutput() = default;
  // z(t) for t in the step's interval, into z (length = state size).
  virtual void Evaluate(double t, VectorRef z) const = 0;
};

struct OdeProblem {
  std::shared_ptr<VectorField> field;  // f; must not be null
  Vector z0;                           // initial state, length field->state_size()
  Vector theta;                        // parameters, length field->num_params()
  double t0 = 0.0;                     // initial time
  std::vector<double> output_times;    // strictly increasing, first ≥ t0, all finite

  // Optional jump at the output times (an adjoint's observation terms): called with the output
  // index, the time and the state there; may change the state and returns true if it did. The
  // solver continues from the changed state keeping its step size (ERKStepReset/ARKStepReset;
  // CVodeReInit), and the trajectory records the state after the jump. Integrators without
  // support (Integrator::Capabilities().output_jumps false) throw ConfigError when it is set.
  std::function<bool(std::size_t index, double t, VectorRef state)> at_output;
  // Leading components that enter the local error test; 0 = all. The rest are quadrature-like
  // components that feed back into nothing (an adjoint's parameter integral): leaving them out of
  // the norm is the "seminorm" of Kidger et al. (2021). Honoured by the SUNDIALS integrators;
  // not for GMRES linear solvers (SUNDIALS scales the Krylov problem by the error weights).
  Index error_test_size = 0;
  // Optional: called after every accepted step with its interval [t_prev, t_new] and the
  // solver's dense output over it, before any jump at t_new (backsolve's parameter quadrature).
  // Honoured in stop-time mode by integrators declaring Capabilities().step_hook; ConfigError
  // otherwise.
  std::function<void(double t_prev, double t_new, const DenseOutput& dense)> after_step;
  // false: Trajectory::states keeps only the state at the last output time (callers that see
  // the others through at_output, and do not want a copy of each).
  bool store_all_states = true;
  // Optional: the state is distributed over processes (core/state_distribution.hpp) and field,
  // z0 and the loss are this rank's parts. Only solvers that accept distributed states take such
  // a problem (cvodes_adjoint); the others fail at the field's first evaluation.
  std::shared_ptr<const StateDistribution> distribution;

  // Throws ConfigError naming the offending member (null field, sizes, times, NaN/Inf).
  void Validate() const;
};

}  // namespace snode
