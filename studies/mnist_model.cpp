#include "studies/mnist_model.hpp"

#include <cmath>
#include <random>

#include "core/errors.hpp"

namespace snode::mnist {
namespace {

constexpr const char* kBlockNames[5] = {"input.weight", "input.bias", "ode.theta", "readout.weight",
                                        "readout.bias"};

}  // namespace

Model::Model(bool ode, Index pixels, Index hidden) : ode_(ode), pixels_(pixels), hidden_(hidden) {
  if (ode_) {
    field_options_.widths = {hidden_, hidden_, hidden_};
    // tanh after the hidden layer, identity on the output layer (torchdiffeq's
    // nn.Sequential(Linear(65, 64), Tanh(), Linear(64, 64))).
    field_options_.activations = {"tanh", "identity"};
    field_options_.time_input = true;
    field_options_.batch = 1;
    ode_params_ = MlpField(field_options_).num_params();
  }
  sizes_ = {hidden_ * pixels_, hidden_, ode_params_, kClasses * hidden_, kClasses};
  Index offset = 0;
  for (const Index size : sizes_) {
    offsets_.push_back(offset);
    offset += size;
  }
  num_params_ = offset;
}

std::string Model::Architecture() const {
  const std::string p = std::to_string(pixels_);
  const std::string h = std::to_string(hidden_);
  const std::string h1 = std::to_string(hidden_ + 1);
  if (ode_) {
    return "mnist_odenet v1: linear " + p + "->" + h + "; ode mlp [z,t] " + h1 + "->" + h + "->" +
           h + " tanh,identity on t in [0,1]; linear " + h + "->10; column-major";
  }
  return "mnist_ablation v1: linear " + p + "->" + h + "; tanh; linear " + h + "->10; column-major";
}

std::unique_ptr<MlpField> Model::MakeField(Index batch) const {
  MlpOptions options = field_options_;
  options.batch = batch;
  return std::make_unique<MlpField>(options);
}

Vector Model::InitialParams(std::uint64_t seed) const {
  Vector p = Vector::Zero(num_params_);
  std::mt19937_64 rng(seed);
  auto fill = [&rng](double* data, Index count, Index fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    for (Index k = 0; k < count; ++k) {
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      data[k] = (2.0 * u - 1.0) * bound;
    }
  };
  fill(p.data() + offsets_[0], sizes_[0], pixels_);
  fill(p.data() + offsets_[1], sizes_[1], pixels_);
  fill(p.data() + offsets_[3], sizes_[3], hidden_);
  fill(p.data() + offsets_[4], sizes_[4], hidden_);
  if (ode_) OdeTheta(p) = MlpField(field_options_).InitialParams(static_cast<unsigned>(seed + 1));
  return p;
}

std::vector<NamedBlock> Model::Blocks(const Vector& p, const std::string& prefix) const {
  std::vector<NamedBlock> blocks;
  for (const BlockInfo& block : BlockLayout()) {
    blocks.push_back({prefix + block.name, p.segment(block.offset, block.size)});
  }
  return blocks;
}

Vector Model::FromBlocks(const std::vector<NamedBlock>& blocks, const std::string& prefix,
                         const std::string& source) const {
  Vector p(num_params_);
  for (const BlockInfo& block : BlockLayout()) {
    const std::string name = prefix + block.name;
    const NamedBlock* found = nullptr;
    for (const NamedBlock& candidate : blocks) {
      if (candidate.name == name) found = &candidate;
    }
    if (found == nullptr) {
      throw InputError("checkpoint '" + source + "' has no block '" + name + "'");
    }
    if (found->values.size() != block.size) {
      throw InputError("checkpoint '" + source + "': block '" + name + "' has " +
                       std::to_string(found->values.size()) + " values, the model needs " +
                       std::to_string(block.size));
    }
    p.segment(block.offset, block.size) = found->values;
  }
  return p;
}

std::vector<Model::BlockInfo> Model::BlockLayout() const {
  std::vector<BlockInfo> layout;
  for (std::size_t k = 0; k < sizes_.size(); ++k) {
    if (sizes_[k] > 0) layout.push_back({kBlockNames[k], offsets_[k], sizes_[k]});
  }
  return layout;
}

}  // namespace snode::mnist
