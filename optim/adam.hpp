#pragma once
// Adam (Kingma & Ba 2015) with PyTorch's exact update order (torch.optim.Adam, weight_decay 0,
// amsgrad off), so loss curves can be compared with torchdiffeq runs step by step:
//
//   t ← t + 1
//   m ← β₁ m + (1 − β₁) g
//   v ← β₂ v + (1 − β₂) g ⊙ g
//   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//
// Inputs: θ and g of the length given at construction. State (m, v, t) can be read and restored
// for checkpoints. Step() throws ConfigError on a length mismatch and NumericalError when g has
// a NaN/Inf (the state and θ are then left unchanged, so a bad batch cannot poison the model).

#include <cstdint>

#include "core/types.hpp"

namespace snode {

struct AdamOptions {
  double lr = 1e-3;      // learning rate
  double beta1 = 0.9;    // first-moment decay, in [0, 1)
  double beta2 = 0.999;  // second-moment decay, in [0, 1)
  double eps = 1e-8;     // added to the denominator, > 0

  // Throws ConfigError naming the offending field.
  void Validate() const;
};

class Adam {
 public:
  // size: number of parameters. Throws ConfigError for bad options or a negative size.
  Adam(Index size, const AdamOptions& options = AdamOptions());

  // One update of params with gradient grad (see file comment).
  void Step(VectorRef params, ConstVectorRef grad);

  const AdamOptions& options() const { return options_; }
  void set_lr(double lr);
  Index size() const { return m_.size(); }
  const Vector& m() const { return m_; }
  const Vector& v() const { return v_; }
  std::uint64_t step() const { return step_; }

  // Restores a saved state. Throws ConfigError on a length mismatch, InputError on a negative
  // or non-finite entry of v or a non-finite entry of m.
  void SetState(const Vector& m, const Vector& v, std::uint64_t step);

 private:
  AdamOptions options_;
  Vector m_;
  Vector v_;
  std::uint64_t step_ = 0;
};

}  // namespace snode
