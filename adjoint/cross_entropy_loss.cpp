#include "adjoint/cross_entropy_loss.hpp"

#include <cmath>
#include <string>

#include "core/dense_kernels.hpp"
#include "core/errors.hpp"

namespace snode {

double SoftmaxCrossEntropy(const Matrix& logits, const std::vector<int>& labels, double normaliser,
                           Matrix* dlogits) {
  const Index classes = logits.rows();
  const Index batch = logits.cols();
  Require(static_cast<Index>(labels.size()) == batch,
          "SoftmaxCrossEntropy: " + std::to_string(labels.size()) + " labels for " +
              std::to_string(batch) + " samples");
  Require(normaliser > 0, "SoftmaxCrossEntropy: normaliser must be positive");
  if (dlogits != nullptr) dlogits->resize(classes, batch);
  double total = 0.0;
  for (Index j = 0; j < batch; ++j) {
    const int label = labels[static_cast<std::size_t>(j)];
    Require(label >= 0 && label < classes, "SoftmaxCrossEntropy: label " + std::to_string(label) +
                                               " outside 0.." + std::to_string(classes - 1));
    // Shift by the maximum so exp never overflows (log-sum-exp trick).
    const double shift = logits.col(j).maxCoeff();
    double sum = 0.0;
    for (Index c = 0; c < classes; ++c) sum += std::exp(logits(c, j) - shift);
    const double log_sum = std::log(sum) + shift;
    total += log_sum - logits(label, j);
    if (dlogits != nullptr) {
      for (Index c = 0; c < classes; ++c) {
        (*dlogits)(c, j) = std::exp(logits(c, j) - log_sum) / normaliser;
      }
      (*dlogits)(label, j) -= 1.0 / normaliser;
    }
  }
  return total / normaliser;
}

CrossEntropyReadoutLoss::CrossEntropyReadoutLoss(Index width, Index classes,
                                                 std::vector<int> labels, const Vector& phi,
                                                 std::size_t num_times, double normaliser)
    : width_(width),
      classes_(classes),
      labels_(std::move(labels)),
      phi_(phi),
      num_times_(num_times),
      normaliser_(normaliser > 0 ? normaliser : static_cast<double>(labels_.size())) {
  Require(width_ > 0 && classes_ > 1, "CrossEntropyReadoutLoss: need width > 0 and ≥ 2 classes");
  Require(!labels_.empty(), "CrossEntropyReadoutLoss: no labels");
  Require(num_times_ >= 1, "CrossEntropyReadoutLoss: num_times must be ≥ 1");
  Require(phi_.size() == num_readout_params(),
          "CrossEntropyReadoutLoss: read-out has " + std::to_string(phi_.size()) +
              " parameters, expected " + std::to_string(num_readout_params()));
  for (const int label : labels_) {
    Require(label >= 0 && label < classes_, "CrossEntropyReadoutLoss: label " +
                                                std::to_string(label) + " outside 0.." +
                                                std::to_string(classes_ - 1));
  }
}

Matrix CrossEntropyReadoutLoss::Logits(ConstVectorRef z) const {
  Require(z.size() == width_ * batch(), "CrossEntropyReadoutLoss: state length " +
                                            std::to_string(z.size()) + ", expected " +
                                            std::to_string(width_ * batch()));
  const Eigen::Map<const Matrix> w(phi_.data(), classes_, width_);
  const Eigen::Map<const Vector> b(phi_.data() + classes_ * width_, classes_);
  const Eigen::Map<const Matrix> states(z.data(), width_, batch());
  Matrix logits(classes_, batch());
  DenseProduct(w, DenseOp::kNone, states, DenseOp::kNone, logits);
  logits.colwise() += b;
  return logits;
}

Index CrossEntropyReadoutLoss::CountCorrect(ConstVectorRef z) const {
  const Matrix logits = Logits(z);
  Index correct = 0;
  for (Index j = 0; j < batch(); ++j) {
    Index best = 0;
    logits.col(j).maxCoeff(&best);
    if (best == labels_[static_cast<std::size_t>(j)]) ++correct;
  }
  return correct;
}

double CrossEntropyReadoutLoss::Term(std::size_t i, double /*t*/, ConstVectorRef z, VectorRef dl_dz,
                                     VectorRef readout_grad) const {
  Require(i < num_times_, "CrossEntropyReadoutLoss: output index " + std::to_string(i) +
                              " out of range (" + std::to_string(num_times_) + " times)");
  Require(dl_dz.size() == z.size(), "CrossEntropyReadoutLoss: dl_dz has the wrong length");
  if (i + 1 != num_times_) {
    dl_dz.setZero();
    return 0.0;
  }
  Require(readout_grad.size() == num_readout_params(),
          "CrossEntropyReadoutLoss: readout_grad has length " +
              std::to_string(readout_grad.size()) + ", expected " +
              std::to_string(num_readout_params()));
  const Matrix logits = Logits(z);
  Matrix delta;
  const double loss = SoftmaxCrossEntropy(logits, labels_, normaliser_, &delta);
  const Eigen::Map<const Matrix> w(phi_.data(), classes_, width_);
  const Eigen::Map<const Matrix> states(z.data(), width_, batch());
  DenseProduct(w, DenseOp::kTranspose, delta, DenseOp::kNone,
               Eigen::Map<Matrix>(dl_dz.data(), width_, batch()));
  DenseProduct(delta, DenseOp::kNone, states, DenseOp::kTranspose,
               Eigen::Map<Matrix>(readout_grad.data(), classes_, width_), 1.0);
  readout_grad.tail(classes_) += delta.rowwise().sum();
  return loss;
}

}  // namespace snode
