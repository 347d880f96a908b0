#pragma once
// Loading PyTorch nn.Sequential MLP weights (exported as JSON) into an MlpField's flat θ.
//
// File format (e.g. the initial weights of the Lotka–Volterra neural fit):
//   {"params": {"0.weight": [[...in values...], ...out rows...], "0.bias": [...out values...],
//               "2.weight": ..., "2.bias": ..., "4.weight": ..., "4.bias": ...}, ...}
// Keys are "<index>.weight" / "<index>.bias" with the nn.Sequential index of each nn.Linear
// (activations occupy the indices in between, so any increasing indices are accepted). Layers are
// matched to the field's layers in increasing index order. weight is PyTorch's (out, in) matrix,
// y = W x + b, which is exactly MlpField's row-major layout. Other top-level keys are ignored.

#include <cstddef>
#include <string>

#include "core/types.hpp"
#include "models/mlp.hpp"

namespace snode {

// The largest weights file read (64 MiB, about 3 million numbers as JSON text); a larger one, a
// device or a pipe is refused before it is parsed.
inline constexpr std::size_t kMaxTorchWeightsBytes = std::size_t{64} << 20;

// Returns θ (length field.num_params()) read from json_path.
// Throws InputError naming the file (and the key) when the file is missing, not a regular file,
// over kMaxTorchWeightsBytes or unreadable, is not
// valid JSON, has no "params" object, lacks a layer's weight or bias, has keys that are not
// "<index>.weight|bias", a number of layers or a shape that differs from field's architecture,
// or a non-numeric, NaN or infinite entry.
Vector LoadTorchMlpParams(const std::string& json_path, const MlpField& field);

}  // namespace snode
