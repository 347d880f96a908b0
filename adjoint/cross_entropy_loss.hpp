#pragma once
// Softmax cross-entropy of a linear read-out applied to the final state of a batched ODE block
// (the classifier head of the MNIST ODE-Net).
//
// The state at the last output time is z = [z_1; …; z_B] (B samples of width n, back to back,
// as a batched MlpField holds them). With read-out parameters φ = (W, b), W ∈ R^{C×n}, b ∈ R^C:
//
//   logits_j = W z_j + b,   ℓ = (1/N) Σ_j [ logsumexp(logits_j) − logits_j[y_j] ]
//
// N is the normaliser, B by default; when one batch is split over threads each part passes the
// full batch size, so the parts' losses and gradients add up to the batch's. Gradients:
//   δ_j = (softmax(logits_j) − e_{y_j}) / N,   ∂ℓ/∂z_j = Wᵀ δ_j,
//   ∂ℓ/∂W = Σ_j δ_j z_jᵀ,   ∂ℓ/∂b = Σ_j δ_j.
//
// Flat φ layout (length C·n + C): W column-major (W(c, i) at c + C·i, the Eigen default), then b.
// Only the last of num_times output times carries a term; the others return 0 with ∂ℓ/∂z = 0.
//
// Throws ConfigError on wrong sizes, labels outside 0..C−1 or an output index out of range.

#include <vector>

#include "adjoint/loss.hpp"
#include "core/types.hpp"

namespace snode {

class CrossEntropyReadoutLoss final : public Loss {
 public:
  // width n, classes C, labels y_1..y_B (B = labels.size()), read-out φ (length C·n + C),
  // num_times: number of output times of the problem; normaliser N ≤ 0 means B.
  CrossEntropyReadoutLoss(Index width, Index classes, std::vector<int> labels, const Vector& phi,
                          std::size_t num_times = 1, double normaliser = 0.0);

  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override;
  Index num_readout_params() const override { return classes_ * width_ + classes_; }

  // logits (C × B) for a final state z of length B·n, with this loss's φ.
  Matrix Logits(ConstVectorRef z) const;
  // Number of samples whose largest logit is their label.
  Index CountCorrect(ConstVectorRef z) const;

  Index batch() const { return static_cast<Index>(labels_.size()); }
  const Vector& phi() const { return phi_; }

 private:
  Index width_;
  Index classes_;
  std::vector<int> labels_;
  Vector phi_;
  std::size_t num_times_;
  double normaliser_;
};

// The same loss on logits directly (C × B, labels of length B): returns (1/N) Σ_j CE_j and writes
// dlogits = (softmax − onehot) / N. Shared with non-ODE models (the no-ODE ablation of the MNIST
// classifier).
double SoftmaxCrossEntropy(const Matrix& logits, const std::vector<int>& labels, double normaliser,
                           Matrix* dlogits);

}  // namespace snode
