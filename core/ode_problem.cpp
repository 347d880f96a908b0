#include "core/ode_problem.hpp"

#include <cmath>
#include <string>

#include "core/errors.hpp"
#include "core/state_distribution.hpp"

namespace snode {

void OdeProblem::Validate() const {
  Require(field != nullptr, "OdeProblem: field is null");
  // Validate() runs on every solve: messages are built (lambdas) only when a check fails.
  Require(z0.size() == field->state_size(), [&] {
    return "OdeProblem: z0 has length " + std::to_string(z0.size()) + ", field '" + field->name() +
           "' has state size " + std::to_string(field->state_size());
  });
  Require(theta.size() == field->num_params(), [&] {
    return "OdeProblem: theta has length " + std::to_string(theta.size()) + ", field '" +
           field->name() + "' has " + std::to_string(field->num_params()) + " parameters";
  });
  Require(distribution == nullptr || distribution->local_size() == z0.size(), [&] {
    return "OdeProblem: z0 has length " + std::to_string(z0.size()) +
           ", the distribution's local part " + std::to_string(distribution->local_size());
  });
  Require(AllFinite(z0), "OdeProblem: z0 contains NaN or Inf");
  Require(AllFinite(theta), "OdeProblem: theta contains NaN or Inf");
  Require(std::isfinite(t0), "OdeProblem: t0 is not finite");
  Require(!output_times.empty(), "OdeProblem: output_times is empty");
  Require(std::isfinite(output_times.front()), "OdeProblem: output time 0 is not finite");
  Require(output_times.front() >= t0, [&] {
    return "OdeProblem: t0 = " + std::to_string(t0) + " is after the first output time " +
           std::to_string(output_times.front());
  });
  Require(error_test_size >= 0 && error_test_size <= z0.size(), [&] {
    return "OdeProblem: error_test_size = " + std::to_string(error_test_size) +
           " must lie in [0, state size " + std::to_string(z0.size()) + "]";
  });
  for (std::size_t i = 1; i < output_times.size(); ++i) {
    Require(std::isfinite(output_times[i]),
            [&] { return "OdeProblem: output time " + std::to_string(i) + " is not finite"; });
    Require(output_times[i] > output_times[i - 1], [&] {
      return "OdeProblem: output times must be strictly increasing (time " + std::to_string(i) +
             " = " + std::to_string(output_times[i]) + " follows " +
             std::to_string(output_times[i - 1]) + ")";
    });
  }
}

}  // namespace snode
