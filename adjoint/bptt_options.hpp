#pragma once
// BpttOptions: the options of the "bptt" gradient method (adjoint/bptt.hpp) beyond the shared
// GradientOptions. Setting names (GradientOptions::method_settings, `--gradient-option`):
//   max_trajectory_bytes   a positive number of bytes

#include "core/settings.hpp"

namespace snode {

struct BpttOptions {
  // Upper bound on the trajectory bptt stores for its reverse pass (states and stage states,
  // estimated before anything is stored: ConfigError with the estimate when it is larger), and,
  // separately, on the recorded f calls of an adaptive explicit replay (past it the remaining
  // stages are evaluated again).
  double max_trajectory_bytes = 4.0e9;

  // Throws ConfigError naming the offending option.
  void Validate() const;
  // The defaults overridden by settings; ConfigError for an unknown name or a bad value.
  static BpttOptions FromSettings(const Settings& settings);
};

}  // namespace snode
