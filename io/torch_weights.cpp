#include "io/torch_weights.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "core/input_file.hpp"

namespace snode {
namespace {

using Json = nlohmann::json;

struct LayerKeys {
  const Json* weight = nullptr;
  const Json* bias = nullptr;
};

// Parses "<digits>.weight" / "<digits>.bias"; false for anything else.
bool SplitKey(const std::string& key, long* index, bool* is_weight) {
  const size_t dot = key.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 9) return false;
  for (size_t i = 0; i < dot; ++i) {
    if (key[i] < '0' || key[i] > '9') return false;
  }
  const std::string suffix = key.substr(dot + 1);
  if (suffix != "weight" && suffix != "bias") return false;
  *index = std::stol(key.substr(0, dot));
  *is_weight = (suffix == "weight");
  return true;
}

double ReadNumber(const Json& value, const std::string& where) {
  if (!value.is_number()) throw InputError(where + " is not a number: " + value.dump());
  const double x = value.get<double>();
  if (!std::isfinite(x)) throw InputError(where + " is not finite");
  return x;
}

}  // namespace

Vector LoadTorchMlpParams(const std::string& json_path, const MlpField& field) {
  const std::string file = "torch weights '" + json_path + "'";
  switch (KindOfInputFile(json_path)) {
    case InputFileKind::kMissing:
      throw InputError("cannot open " + file + ": no such file; check the path");
    case InputFileKind::kDirectory:
      throw InputError(file + " is a directory, not a JSON file");
    case InputFileKind::kNotRegular:
      throw InputError(file + " is not a regular file (a device or a pipe)");
    case InputFileKind::kRegular:
      break;
  }
  const std::string text = ReadInputFilePrefix(json_path, kMaxTorchWeightsBytes, file);
  if (text.size() > kMaxTorchWeightsBytes) {
    throw InputError(file + " is larger than the " + std::to_string(kMaxTorchWeightsBytes) +
                     " bytes a weights file may have");
  }
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {
    throw InputError(file + " is not valid JSON: " + e.what());
  }
  if (!root.is_object() || !root.contains("params") || !root["params"].is_object()) {
    throw InputError(file + " has no \"params\" object");
  }

  std::map<long, LayerKeys> layers;  // ordered by nn.Sequential index
  for (const auto& [key, value] : root["params"].items()) {
    long index = 0;
    bool is_weight = false;
    if (!SplitKey(key, &index, &is_weight)) {
      throw InputError(file + ": unexpected key \"params." + key +
                       "\"; expected \"<index>.weight\" or \"<index>.bias\"");
    }
    (is_weight ? layers[index].weight : layers[index].bias) = &value;
  }
  if (static_cast<Index>(layers.size()) != field.num_layers()) {
    throw InputError(file + " holds " + std::to_string(layers.size()) + " linear layers, but " +
                     field.name() + " has " + std::to_string(field.num_layers()));
  }

  Vector theta(field.num_params());
  Index l = 0;
  for (const auto& [index, keys] : layers) {
    const std::string prefix = file + ": \"params." + std::to_string(index);
    if (keys.weight == nullptr) throw InputError(prefix + ".weight\" is missing");
    if (keys.bias == nullptr) throw InputError(prefix + ".bias\" is missing");
    const Index rows = field.layer_outputs(l);
    const Index cols = field.layer_inputs(l);
    const std::string expected = "expected " + std::to_string(rows) + "x" + std::to_string(cols) +
                                 " (out x in) for layer " + std::to_string(l) + " of " +
                                 field.name();
    const Json& weight = *keys.weight;
    if (!weight.is_array() || static_cast<Index>(weight.size()) != rows) {
      throw InputError(prefix + ".weight\" has " +
                       (weight.is_array() ? std::to_string(weight.size()) + " rows" : "no rows") +
                       "; " + expected);
    }
    auto w = field.MutableWeight(theta, l);
    for (Index i = 0; i < rows; ++i) {
      const Json& row = weight[static_cast<size_t>(i)];
      if (!row.is_array() || static_cast<Index>(row.size()) != cols) {
        throw InputError(prefix + ".weight\" row " + std::to_string(i) + " has " +
                         (row.is_array() ? std::to_string(row.size()) : std::string("no")) +
                         " entries; " + expected);
      }
      for (Index j = 0; j < cols; ++j) {
        w(i, j) =
            ReadNumber(row[static_cast<size_t>(j)],
                       prefix + ".weight\"[" + std::to_string(i) + "][" + std::to_string(j) + "]");
      }
    }
    const Json& bias = *keys.bias;
    if (!bias.is_array() || static_cast<Index>(bias.size()) != rows) {
      throw InputError(prefix + ".bias\" has " +
                       (bias.is_array() ? std::to_string(bias.size()) : std::string("no")) +
                       " entries; expected " + std::to_string(rows));
    }
    auto b = field.MutableBias(theta, l);
    for (Index i = 0; i < rows; ++i) {
      b[i] =
          ReadNumber(bias[static_cast<size_t>(i)], prefix + ".bias\"[" + std::to_string(i) + "]");
    }
    ++l;
  }
  return theta;
}

}  // namespace snode
