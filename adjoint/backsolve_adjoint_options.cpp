#include "adjoint/backsolve_adjoint_options.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode {

void BacksolveOptions::Validate() const {
  Require(std::isfinite(reconstruction_tolerance) && reconstruction_tolerance > 0.0,
          "gradient 'backsolve_adjoint' option reconstruction_tolerance must be positive");
}

BacksolveOptions BacksolveOptions::FromSettings(const Settings& settings) {
  BacksolveOptions options;
  SettingsReader reader(settings, "gradient 'backsolve_adjoint'");
  reader.Read("reconstruction_tolerance", options.reconstruction_tolerance);
  reader.Read("seminorm", options.seminorm);
  reader.Read("quadrature", options.quadrature);
  reader.Read("checkpoints", options.checkpoints);
  reader.Finish();
  options.Validate();
  return options;
}

bool UseQuadratureAdjoint(const BacksolveOptions& options, const std::string& backward_integrator,
                          bool supports_output_jumps) {
  const bool explicit_with_dense_output = backward_integrator == "dopri5" ||
                                          backward_integrator == "rk4" ||
                                          backward_integrator == "euler";
  return options.quadrature && supports_output_jumps && explicit_with_dense_output;
}

bool UseSeminorm(const BacksolveOptions& options, bool quadrature_adjoint,
                 const std::string& backward_linear_solver) {
  return options.seminorm && !quadrature_adjoint && backward_linear_solver != "gmres";
}

}  // namespace snode
