#pragma once
// QuadratureBatch: the points of a parameter quadrature dL/dθ += Σ_k (∂f/∂θ)ᵀ(t_k, z_k) w_k a_k,
// collected and handed to VectorField::VjpParamsSum in batches of up to kCapacity points. For an
// MLP a batch is one pass of matrix–matrix products instead of one matrix–vector pass per point
// (MLP 2-32-32-2: ≈ 270 instead of ≈ 800 ns per point at 32 points). The sum is the same up to
// the order of the additions.

#include <vector>

#include "core/types.hpp"
#include "core/vector_field.hpp"

namespace snode {

class QuadratureBatch {
 public:
  static constexpr Index kCapacity = 32;

  // Empties the batch for states of length n (allocates only when n changes).
  void Reset(Index n) {
    if (z_.rows() != n) {
      z_.resize(n, kCapacity);
      a_.resize(n, kCapacity);
      times_.resize(kCapacity);
    }
    count_ = 0;
  }
  // The slots of the next point: write z(t) and the weighted adjoint, then Commit.
  VectorRef NextState() { return z_.col(count_); }
  VectorRef NextAdjoint() { return a_.col(count_); }
  // Records the point at time t; a full batch goes to the field at once.
  void Commit(double t, VectorField& field, ConstVectorRef theta, VectorRef grad) {
    times_[static_cast<std::size_t>(count_)] = t;
    if (++count_ == kCapacity) Flush(field, theta, grad);
  }
  // Adds the pending points' products to grad.
  void Flush(VectorField& field, ConstVectorRef theta, VectorRef grad) {
    if (count_ == 0) return;
    field.VjpParamsSum(times_.data(), z_.leftCols(count_), theta, a_.leftCols(count_), grad);
    count_ = 0;
  }
  Index pending() const { return count_; }

 private:
  Matrix z_, a_;
  std::vector<double> times_;
  Index count_ = 0;
};

}  // namespace snode
