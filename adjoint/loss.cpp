#include "adjoint/loss.hpp"

#include <utility>

#include "core/errors.hpp"
#include "core/state_distribution.hpp"

namespace snode {

MseLoss::MseLoss(std::vector<Vector> targets, double scale)
    : targets_(std::move(targets)), scale_(scale) {
  Require(!targets_.empty(), "MseLoss: no targets");
  if (scale_ <= 0.0) {
    Index count = 0;
    for (const Vector& target : targets_) count += target.size();
    Require(count > 0, "MseLoss: targets are empty");
    scale_ = 1.0 / static_cast<double>(count);
  }
}

double MseLoss::Term(std::size_t i, double /*t*/, ConstVectorRef z, VectorRef dl_dz,
                     VectorRef /*readout_grad*/) const {
  Require(i < targets_.size(), "MseLoss: output index " + std::to_string(i) + " out of range (" +
                                   std::to_string(targets_.size()) + " targets)");
  const Vector& target = targets_[i];
  Require(z.size() == target.size() && dl_dz.size() == z.size(),
          "MseLoss: state length " + std::to_string(z.size()) + " does not match target length " +
              std::to_string(target.size()));
  dl_dz = (2.0 * scale_) * (z - target);
  return scale_ * (z - target).squaredNorm();
}

LinearFunctionalLoss::LinearFunctionalLoss(std::vector<Vector> weights, Vector running_weights)
    : weights_(std::move(weights)), running_weights_(std::move(running_weights)) {
  Require(!weights_.empty(), "LinearFunctionalLoss: no output times");
}

LinearFunctionalLoss LinearFunctionalLoss::SameAtEveryTime(const Vector& weights,
                                                           std::size_t num_times) {
  return LinearFunctionalLoss(std::vector<Vector>(num_times, weights));
}

LinearFunctionalLoss LinearFunctionalLoss::FinalTimeOnly(const Vector& weights,
                                                         std::size_t num_times) {
  std::vector<Vector> all(num_times);
  Require(num_times > 0, "LinearFunctionalLoss: no output times");
  all.back() = weights;
  return LinearFunctionalLoss(std::move(all));
}

double LinearFunctionalLoss::Term(std::size_t i, double /*t*/, ConstVectorRef z, VectorRef dl_dz,
                                  VectorRef /*readout_grad*/) const {
  Require(i < weights_.size(), "LinearFunctionalLoss: output index " + std::to_string(i) +
                                   " out of range (" + std::to_string(weights_.size()) + ")");
  const Vector& w = weights_[i];
  if (w.size() == 0) {
    dl_dz.setZero();
    return 0.0;
  }
  Require(w.size() == z.size(), "LinearFunctionalLoss: weight length " + std::to_string(w.size()) +
                                    " does not match state length " + std::to_string(z.size()));
  dl_dz = w;
  return w.dot(z);
}

double LinearFunctionalLoss::RunningCost(double /*t*/, ConstVectorRef z) const {
  Require(running_weights_.size() == z.size(),
          "LinearFunctionalLoss: running weight length does not match state length");
  return running_weights_.dot(z);
}

void LinearFunctionalLoss::RunningCostGradient(double /*t*/, ConstVectorRef z,
                                               VectorRef out) const {
  Require(running_weights_.size() == z.size(),
          "LinearFunctionalLoss: running weight length does not match state length");
  out = running_weights_;
}

RankSummedLoss::RankSummedLoss(std::shared_ptr<const Loss> local,
                               std::shared_ptr<const StateDistribution> distribution)
    : local_(std::move(local)), distribution_(std::move(distribution)) {
  Require(local_ != nullptr && distribution_ != nullptr,
          "RankSummedLoss: the local loss and the distribution must not be null");
  Require(local_->num_readout_params() == 0 && !local_->HasRunningCost(),
          "RankSummedLoss: a loss with read-out parameters or a running cost cannot be summed "
          "over ranks");
}

double RankSummedLoss::Term(std::size_t i, double t, ConstVectorRef z, VectorRef dl_dz,
                            VectorRef readout_grad) const {
  return distribution_->Sum(local_->Term(i, t, z, dl_dz, readout_grad));
}

}  // namespace snode
