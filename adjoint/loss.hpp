#pragma once
// Loss over observation times: L = Σ_i ℓ_i(z(t_i)) + ∫_{t0}^{T} g(t, z) dt, where t_i are the
// problem's output times and T is the last one. A loss may own read-out parameters φ (e.g. the
// linear classifier after an ODE block); gradient methods return dL/dφ next to dL/dθ and dL/dz0.
//
// Term() and RunningCost*() must be deterministic functions of their arguments (they are called
// from several gradient methods and from finite differences).

#include <memory>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace snode {

class StateDistribution;

class Loss {
 public:
  virtual ~Loss() = default;

  // ℓ_i at output index i (time t, state z). Writes ∂ℓ_i/∂z into dl_dz (overwritten, length of
  // z) and adds ∂ℓ_i/∂φ into readout_grad (length num_readout_params(), may be empty).
  virtual double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
                      VectorRef readout_grad) const = 0;

  // Read-out parameters φ owned by the loss (0 by default).
  virtual Index num_readout_params() const { return 0; }

  // Running cost g(t, z); HasRunningCost() false means g ≡ 0.
  virtual bool HasRunningCost() const { return false; }
  virtual double RunningCost(double /*t*/, ConstVectorRef /*z*/) const { return 0.0; }
  // out = ∂g/∂z (overwritten).
  virtual void RunningCostGradient(double /*t*/, ConstVectorRef /*z*/, VectorRef out) const {
    out.setZero();
  }
};

// ℓ_i = scale · ||z(t_i) − target_i||², with scale = 1/(number of observed values) by default,
// i.e. the mean squared error over the whole trajectory (the Lotka–Volterra neural fit).
class MseLoss final : public Loss {
 public:
  // targets[i] is the data at output time i; scale ≤ 0 selects the mean (1 / Σ sizes).
  explicit MseLoss(std::vector<Vector> targets, double scale = 0.0);
  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override;

 private:
  std::vector<Vector> targets_;
  double scale_;
};

// The loss of a state distributed over ranks (core/state_distribution.hpp): `local` is this rank's
// part of a loss that sums over the state (e.g. MseLoss of this rank's data with the scale of the
// whole state), and each Term is added over the ranks, so every rank has the same L; ∂ℓ_i/∂z is
// this rank's part. Every Term call is collective. ConfigError for a null argument, read-out
// parameters or a running cost (their sums over ranks are not defined here).
class RankSummedLoss final : public Loss {
 public:
  RankSummedLoss(std::shared_ptr<const Loss> local,
                 std::shared_ptr<const StateDistribution> distribution);
  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override;

 private:
  std::shared_ptr<const Loss> local_;
  std::shared_ptr<const StateDistribution> distribution_;
};

// ℓ_i = w_iᵀ z(t_i), optionally with running cost g = cᵀ z. Covers L = y(1) (decay), L = Σ_t
// (z1 + z2) (the two-rate decay), L = y1 + 1e4·y2 (Robertson), G = ∫ y3 dt (cvsRoberts_ASAi_dns).
class LinearFunctionalLoss final : public Loss {
 public:
  // weights[i] for output time i (an empty vector means ℓ_i ≡ 0). running_weights empty: no g.
  explicit LinearFunctionalLoss(std::vector<Vector> weights, Vector running_weights = Vector());
  // The same weight vector at every one of num_times output times.
  static LinearFunctionalLoss SameAtEveryTime(const Vector& weights, std::size_t num_times);
  // Weight only on the last of num_times output times.
  static LinearFunctionalLoss FinalTimeOnly(const Vector& weights, std::size_t num_times);

  double Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
              VectorRef readout_grad) const override;
  bool HasRunningCost() const override { return running_weights_.size() > 0; }
  double RunningCost(double t, ConstVectorRef z) const override;
  void RunningCostGradient(double t, ConstVectorRef z, VectorRef out) const override;

 private:
  std::vector<Vector> weights_;
  Vector running_weights_;
};

}  // namespace snode
