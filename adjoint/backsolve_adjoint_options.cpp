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

bool UseQuadratureAdjoint(const BacksolveOptions& options, const IntegratorCapabilities& backward) {
  return options.quadrature && backward.kind == IntegratorKind::kExplicit &&
         backward.dense_output_order > 0 && backward.step_hook && backward.output_jumps;
}

bool UseSeminorm(const BacksolveOptions& options, bool quadrature_adjoint,
                 const IntegratorOptions& backward_options) {
  return options.seminorm && !quadrature_adjoint && backward_options.DenseLinearSolver();
}

}  // namespace snode
