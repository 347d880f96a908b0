#include "adjoint/cvodes_adjoint_options.hpp"

#include <string>

#include "core/errors.hpp"

namespace snode {

void CvodesAdjointOptions::Validate() const {
  Require(checkpoint_interval > 0,
          "gradient 'cvodes_adjoint' option checkpoint_interval must be positive, got " +
              std::to_string(checkpoint_interval));
  Require(fundamental_condition > 1.0,
          "gradient 'cvodes_adjoint' option fundamental_condition must be greater than 1, got " +
              std::to_string(fundamental_condition));
  Require(fundamental_growth >= 1.0,
          "gradient 'cvodes_adjoint' option fundamental_growth must be at least 1, got " +
              std::to_string(fundamental_growth));
}

CvodesAdjointOptions CvodesAdjointOptions::FromSettings(const Settings& settings) {
  using O = CvodesAdjointOptions;
  O options;
  SettingsReader reader(settings, "gradient 'cvodes_adjoint'");
  reader.Read("checkpoint_interval", options.checkpoint_interval);
  reader.ReadChoice(
      "interpolation", options.interpolation,
      {{"hermite", O::Interpolation::kHermite}, {"polynomial", O::Interpolation::kPolynomial}});
  reader.ReadChoice("quadrature", options.quadrature,
                    {{"auto", O::Quadrature::kAuto},
                     {"gauss", O::Quadrature::kGauss},
                     {"cvodes", O::Quadrature::kCvodes}});
  reader.ReadChoice(
      "jump_layer", options.jump_layer,
      {{"auto", O::JumpLayer::kAuto}, {"on", O::JumpLayer::kOn}, {"off", O::JumpLayer::kOff}});
  reader.ReadChoice("observations", options.observations,
                    {{"auto", O::Observations::kAuto},
                     {"restart", O::Observations::kRestart},
                     {"fundamental", O::Observations::kFundamental}});
  reader.Read("fundamental_condition", options.fundamental_condition);
  reader.Read("fundamental_growth", options.fundamental_growth);
  reader.Finish();
  options.Validate();
  return options;
}

}  // namespace snode
