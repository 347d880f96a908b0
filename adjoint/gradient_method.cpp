#include "adjoint/gradient_method.hpp"

#include "core/errors.hpp"

namespace snode {

void GradientOptions::Validate() const {
  Require(!integrator.empty(), "gradient option integrator must name an integrator");
  integrator_options.Validate();
  if (backward_options) backward_options->Validate();
  // TRANSITIONAL: cvodes_adjoint's options until they move to CvodesAdjointOptions.
  Require(checkpoint_interval > 0, "gradient option checkpoint_interval must be positive, got " +
                                       std::to_string(checkpoint_interval));
  Require(interpolation == "hermite" || interpolation == "polynomial",
          "gradient option interpolation must be 'hermite' or 'polynomial', got '" + interpolation +
              "'");
  Require(cvodes_jump_layer == "auto" || cvodes_jump_layer == "on" || cvodes_jump_layer == "off",
          "gradient option cvodes_jump_layer must be 'auto', 'on' or 'off', got '" +
              cvodes_jump_layer + "'");
  Require(cvodes_observations == "auto" || cvodes_observations == "restart" ||
              cvodes_observations == "fundamental",
          "gradient option cvodes_observations must be 'auto', 'restart' or 'fundamental', got '" +
              cvodes_observations + "'");
}

}  // namespace snode
