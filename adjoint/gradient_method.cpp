#include "adjoint/gradient_method.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode {

void GradientOptions::Validate() const {
  Require(!integrator.empty(), "gradient option integrator must name an integrator");
  integrator_options.Validate();
  if (backward_options_set) backward_options.Validate();
  Require(checkpoint_interval > 0, "gradient option checkpoint_interval must be positive, got " +
                                       std::to_string(checkpoint_interval));
  Require(interpolation == "hermite" || interpolation == "polynomial",
          "gradient option interpolation must be 'hermite' or 'polynomial', got '" + interpolation +
              "'");
  Require(std::isfinite(reconstruction_tolerance) && reconstruction_tolerance > 0.0,
          "gradient option reconstruction_tolerance must be positive");
  Require(std::isfinite(max_trajectory_bytes) && max_trajectory_bytes > 0.0,
          "gradient option max_trajectory_bytes must be positive");
  Require(cvodes_jump_layer == "auto" || cvodes_jump_layer == "on" || cvodes_jump_layer == "off",
          "gradient option cvodes_jump_layer must be 'auto', 'on' or 'off', got '" +
              cvodes_jump_layer + "'");
  Require(cvodes_observations == "auto" || cvodes_observations == "restart" ||
              cvodes_observations == "fundamental",
          "gradient option cvodes_observations must be 'auto', 'restart' or 'fundamental', got '" +
              cvodes_observations + "'");
}

}  // namespace snode
