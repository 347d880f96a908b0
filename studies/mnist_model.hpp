#pragma once
// The MNIST ODE-Net and its no-ODE ablation: the layout of the flat parameter vector, its
// initialisation, the architecture string that checkpoints are checked against, and the mapping
// between the flat vector and the named blocks of a checkpoint.
//
//   x ∈ R^P (pixels / 255) → z0 = W_in x + b_in ∈ R^H            (H = hidden, 64 by default)
//   dz/dt = f(z, t; θ) = W_2 tanh(W_1 [z; t] + b_1) + b_2   on t ∈ [0, 1]   (MLP H+1 → H → H)
//   logits = W_out z(1) + b_out ∈ R^10
// The ablation replaces the ODE block by one tanh: logits = W_out tanh(W_in x + b_in) + b_out.
//
// Flat parameter vector, blocks in this order (all matrices column-major):
//   input.weight (H × P), input.bias (H), [ode.theta (MlpField layout)], readout.weight (10 × H),
//   readout.bias (10).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "io/checkpoint.hpp"
#include "models/mlp.hpp"
#include "studies/mnist_data.hpp"

namespace snode::mnist {

inline constexpr Index kDefaultHidden = 64;  // the width of the digits benchmark
inline constexpr double kFinalTime = 1.0;    // the ODE block integrates over [0, kFinalTime]

class Model {
 public:
  // ode: with the ODE block (false: the ablation); pixels: P; hidden: H.
  Model(bool ode, Index pixels, Index hidden = kDefaultHidden);

  bool ode() const { return ode_; }
  Index pixels() const { return pixels_; }
  Index hidden() const { return hidden_; }
  Index num_params() const { return num_params_; }

  // "mnist_odenet v1: ..." or "mnist_ablation v1: ..."; for the default width and 784 pixels
  // the strings of the first files, so those keep loading.
  std::string Architecture() const;

  // The ODE block's vector field for a batch of `batch` samples.
  std::unique_ptr<MlpField> MakeField(Index batch) const;

  // Views of the blocks inside a flat vector.
  Eigen::Map<const Matrix> InputWeight(const Vector& p) const {
    return {p.data() + offsets_[0], hidden_, pixels_};
  }
  Eigen::Map<const Vector> InputBias(const Vector& p) const {
    return {p.data() + offsets_[1], hidden_};
  }
  Eigen::Map<const Vector> OdeTheta(const Vector& p) const {
    return {p.data() + offsets_[2], ode_params_};
  }
  Eigen::Map<const Vector> Readout(const Vector& p) const {  // φ = (W_out, b_out), flat
    return {p.data() + offsets_[3], kClasses * hidden_ + kClasses};
  }
  Eigen::Map<const Matrix> ReadoutWeight(const Vector& p) const {
    return {p.data() + offsets_[3], kClasses, hidden_};
  }
  Eigen::Map<const Vector> ReadoutBias(const Vector& p) const {
    return {p.data() + offsets_[4], kClasses};
  }
  Eigen::Map<Matrix> InputWeight(Vector& p) const {
    return {p.data() + offsets_[0], hidden_, pixels_};
  }
  Eigen::Map<Vector> InputBias(Vector& p) const { return {p.data() + offsets_[1], hidden_}; }
  Eigen::Map<Vector> OdeTheta(Vector& p) const { return {p.data() + offsets_[2], ode_params_}; }
  Eigen::Map<Vector> Readout(Vector& p) const {
    return {p.data() + offsets_[3], kClasses * hidden_ + kClasses};
  }
  Eigen::Map<Matrix> ReadoutWeight(Vector& p) const {
    return {p.data() + offsets_[3], kClasses, hidden_};
  }
  Eigen::Map<Vector> ReadoutBias(Vector& p) const { return {p.data() + offsets_[4], kClasses}; }

  // PyTorch's nn.Linear default, U(−1/√in, 1/√in), for the linear layers; MlpField's own
  // deterministic scheme for the ODE block. The same bit pattern on every platform.
  Vector InitialParams(std::uint64_t seed) const;

  // The non-empty blocks of p, named "input.weight", "input.bias", "ode.theta",
  // "readout.weight", "readout.bias", each name preceded by prefix.
  std::vector<NamedBlock> Blocks(const Vector& p, const std::string& prefix = "") const;

  // Reassembles a flat vector from named blocks (parameters, or one optimiser moment stored with
  // a prefix such as "m."); InputError naming `source` when a block is missing or has the wrong
  // length.
  Vector FromBlocks(const std::vector<NamedBlock>& blocks, const std::string& prefix,
                    const std::string& source) const;

  // (name, offset, size) of every non-empty block.
  struct BlockInfo {
    const char* name;
    Index offset;
    Index size;
  };
  std::vector<BlockInfo> BlockLayout() const;

 private:
  bool ode_;
  Index pixels_;
  Index hidden_;
  MlpOptions field_options_;
  Index ode_params_ = 0;
  std::vector<Index> sizes_, offsets_;
  Index num_params_ = 0;
};

}  // namespace snode::mnist
