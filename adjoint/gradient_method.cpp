#include "adjoint/gradient_method.hpp"

#include "core/errors.hpp"

namespace snode {

void GradientOptions::Validate() const {
  Require(!integrator.empty(), "gradient option integrator must name an integrator");
  integrator_options.Validate();
  if (backward_options) backward_options->Validate();
}

}  // namespace snode
