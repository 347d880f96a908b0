#pragma once
// OdeProblem: z' = f(t, z; θ), z(t0) = z0, observed at strictly increasing output_times > t0
// (the first may equal t0). The field is shared: several problems (and a problem and its
// finite-difference copies) may point at one field.

#include <memory>
#include <vector>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

struct OdeProblem {
  std::shared_ptr<VectorField> field;  // f; must not be null
  Vector z0;                           // initial state, length field->state_size()
  Vector theta;                        // parameters, length field->num_params()
  double t0 = 0.0;                     // initial time
  std::vector<double> output_times;    // strictly increasing, first ≥ t0, all finite

  // Throws ConfigError naming the offending member (null field, sizes, times, NaN/Inf).
  void Validate() const;
};

}  // namespace snode
