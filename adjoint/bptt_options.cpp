#include "adjoint/bptt_options.hpp"

#include <cmath>

#include "core/errors.hpp"

namespace snode {

void BpttOptions::Validate() const {
  Require(std::isfinite(max_trajectory_bytes) && max_trajectory_bytes > 0.0,
          "gradient 'bptt' option max_trajectory_bytes must be positive");
}

BpttOptions BpttOptions::FromSettings(const Settings& settings) {
  BpttOptions options;
  SettingsReader reader(settings, "gradient 'bptt'");
  reader.Read("max_trajectory_bytes", options.max_trajectory_bytes);
  reader.Finish();
  options.Validate();
  return options;
}

}  // namespace snode
