#include "studies/mnist_worker.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "adjoint/cross_entropy_loss.hpp"
#include "core/dense_kernels.hpp"
#include "core/errors.hpp"
#include "studies/bench_util.hpp"
#include "studies/report.hpp"

namespace snode::mnist {

PartResult Worker::Train(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                         double normaliser) {
  return model_.ode() ? TrainOde(p, x, labels, normaliser)
                      : TrainAblation(p, x, labels, normaliser);
}

PartResult Worker::Evaluate(const Vector& p, const Matrix& x, const std::vector<int>& labels) {
  PartResult result;
  Matrix logits;
  if (model_.ode()) {
    Slot& slot = SlotFor(x.cols());
    if (!slot.integrator) {
      slot.integrator = IntegratorRegistry().Create(solver_.integrator, solver_.integrator_options);
    }
    const OdeProblem problem = Problem(slot, p, x);
    const Trajectory trajectory = slot.integrator->Solve(problem);
    result.nfe_forward = trajectory.stats.rhs_evals;
    const Eigen::Map<const Matrix> z1(trajectory.states.back().data(), model_.hidden(), x.cols());
    logits.resize(kClasses, x.cols());
    DenseProduct(model_.ReadoutWeight(p), DenseOp::kNone, z1, DenseOp::kNone, logits);
  } else {
    const Matrix a = Hidden(p, x).array().tanh().matrix();
    logits.resize(kClasses, x.cols());
    DenseProduct(model_.ReadoutWeight(p), DenseOp::kNone, a, DenseOp::kNone, logits);
  }
  logits.colwise() += model_.ReadoutBias(p);
  result.loss = SoftmaxCrossEntropy(logits, labels, static_cast<double>(labels.size()), nullptr);
  if (!std::isfinite(result.loss)) {
    // Whether an overflow shows up as a failed solve or only here depends on the order of the
    // sums (the vector width of the products): either way the evaluation has failed.
    throw NumericalError("the cross-entropy loss of a test batch is " + FormatNumber(result.loss) +
                         " (the parameters or the ODE block's state overflowed)");
  }
  for (Index j = 0; j < logits.cols(); ++j) {
    Index best = 0;
    logits.col(j).maxCoeff(&best);
    if (best == labels[static_cast<std::size_t>(j)]) ++result.correct;
  }
  return result;
}

Worker::Slot& Worker::SlotFor(Index batch) {
  Slot& slot = slots_[batch];
  if (!slot.field) slot.field = model_.MakeField(batch);
  return slot;
}

Matrix Worker::Hidden(const Vector& p, const Matrix& x) const {
  Matrix h(model_.hidden(), x.cols());
  DenseProduct(model_.InputWeight(p), DenseOp::kNone, x, DenseOp::kNone, h);
  h.colwise() += model_.InputBias(p);
  return h;
}

OdeProblem Worker::Problem(const Slot& slot, const Vector& p, const Matrix& x) const {
  OdeProblem problem;
  problem.field = slot.field;
  const Matrix z0 = Hidden(p, x);
  problem.z0 = Eigen::Map<const Vector>(z0.data(), z0.size());
  problem.theta = model_.OdeTheta(p);
  problem.t0 = 0.0;
  problem.output_times = {kFinalTime};
  return problem;
}

PartResult Worker::TrainOde(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                            double normaliser) {
  Slot& slot = SlotFor(x.cols());
  if (!slot.gradient) {
    slot.gradient = GradientRegistry().Create(solver_.gradient, solver_.gradient_options);
  }
  const OdeProblem problem = Problem(slot, p, x);
  const CrossEntropyReadoutLoss loss(model_.hidden(), kClasses, labels, model_.Readout(p), 1,
                                     normaliser);
  const LossAndGradient r = slot.gradient->Compute(problem, loss);
  if (solver_.guard) solver_.guard(r, solver_.gradient, "a training batch");
  PartResult result;
  result.loss = r.loss;
  result.nfe_forward = r.stats.forward_rhs_evals;
  result.nfe_backward = r.stats.backward_rhs_evals;
  result.vjp = r.stats.vjp_evals;
  result.grad = Vector::Zero(model_.num_params());
  model_.OdeTheta(result.grad) = r.dtheta;
  model_.Readout(result.grad) = r.dreadout;
  const Eigen::Map<const Matrix> dz0(r.dz0.data(), model_.hidden(), x.cols());
  DenseProduct(dz0, DenseOp::kNone, x, DenseOp::kTranspose, model_.InputWeight(result.grad));
  model_.InputBias(result.grad) = dz0.rowwise().sum();
  return result;
}

PartResult Worker::TrainAblation(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                                 double normaliser) {
  const Matrix a = Hidden(p, x).array().tanh().matrix();
  Matrix logits(kClasses, x.cols());
  DenseProduct(model_.ReadoutWeight(p), DenseOp::kNone, a, DenseOp::kNone, logits);
  logits.colwise() += model_.ReadoutBias(p);
  Matrix dlogits;
  PartResult result;
  result.loss = SoftmaxCrossEntropy(logits, labels, normaliser, &dlogits);
  result.grad = Vector::Zero(model_.num_params());
  DenseProduct(dlogits, DenseOp::kNone, a, DenseOp::kTranspose, model_.ReadoutWeight(result.grad));
  model_.ReadoutBias(result.grad) = dlogits.rowwise().sum();
  Matrix dh(model_.hidden(), x.cols());
  DenseProduct(model_.ReadoutWeight(p), DenseOp::kTranspose, dlogits, DenseOp::kNone, dh);
  dh.array() *= 1.0 - a.array().square();
  DenseProduct(dh, DenseOp::kNone, x, DenseOp::kTranspose, model_.InputWeight(result.grad));
  model_.InputBias(result.grad) = dh.rowwise().sum();
  return result;
}

std::vector<Worker> MakeWorkers(const Model& model, const SolverOptions& solver, long threads) {
  std::vector<Worker> workers;
  for (long k = 0; k < std::max<long>(threads, 1); ++k) workers.emplace_back(model, solver);
  return workers;
}

std::size_t PartsFor(long threads, Index batch) {
  return (threads >= 2 && batch >= kMinSplitBatch) ? static_cast<std::size_t>(threads) : 1;
}

std::size_t PartsUsed(std::size_t parts, Index count) {
  return count >= kMinSplitBatch ? std::min(parts, static_cast<std::size_t>(count)) : 1;
}

std::pair<std::size_t, std::size_t> RankParts(std::size_t parts, int rank, int ranks) {
  const auto r = static_cast<std::size_t>(rank), p = static_cast<std::size_t>(ranks);
  return {parts * r / p, parts * (r + 1) / p};
}

namespace {

// This rank's parts [first, last) of a batch cut into `used` parts, on the pool (worker w takes
// parts first + w, first + w + W, ...), packed for the sum over ranks: the gradient, then the
// loss and the NFE/VJP sums, each added in part order.
Vector TrainRankParts(PartPool& pool, std::vector<Worker>& workers, std::size_t used,
                      std::size_t first, std::size_t last, const Vector& p, const Matrix& x,
                      const std::vector<int>& labels, Index num_params) {
  const Index count = x.cols();
  const std::size_t mine = last - first;
  const std::size_t threads = std::min(mine, workers.size());
  std::vector<PartResult> results(mine);
  pool.Run(threads, [&](std::size_t w) {
    for (std::size_t k = first + w; k < last; k += threads) {
      const Index part_begin = count * static_cast<Index>(k) / static_cast<Index>(used);
      const Index part_end = count * static_cast<Index>(k + 1) / static_cast<Index>(used);
      const std::vector<int> part_labels(labels.begin() + part_begin, labels.begin() + part_end);
      results[k - first] = workers[w].Train(p, x.middleCols(part_begin, part_end - part_begin),
                                            part_labels, static_cast<double>(count));
    }
  });
  Vector packed = Vector::Zero(num_params + 4);
  if (mine > 0) packed.head(num_params) = results[0].grad;
  for (std::size_t k = 1; k < mine; ++k) packed.head(num_params) += results[k].grad;
  for (const PartResult& r : results) {
    packed[num_params] += r.loss;
    packed[num_params + 1] += static_cast<double>(r.nfe_forward);
    packed[num_params + 2] += static_cast<double>(r.nfe_backward);
    packed[num_params + 3] += static_cast<double>(r.vjp);
  }
  return packed;
}

}  // namespace

BatchResult TrainBatch(PartPool& pool, std::vector<Worker>& workers, std::size_t parts,
                       const Vector& p, const Matrix& x, const std::vector<int>& labels,
                       GradientReducer& ranks) {
  const std::size_t used = PartsUsed(parts, x.cols());
  const std::pair<std::size_t, std::size_t> mine = RankParts(used, ranks.rank(), ranks.size());
  const Index n = p.size();
  const Vector sums = SumOverRanks(ranks, n + 4, [&] {
    return TrainRankParts(pool, workers, used, mine.first, mine.second, p, x, labels, n);
  });
  const double parts_used = static_cast<double>(used);
  BatchResult batch;
  batch.grad = sums.head(n);
  batch.loss = sums[n];
  batch.nfe_forward = sums[n + 1] / parts_used;
  batch.nfe_backward = sums[n + 2] / parts_used;
  batch.vjp = sums[n + 3] / parts_used;
  return batch;
}

Evaluation Evaluate(PartPool& pool, std::vector<Worker>& workers, const Vector& p,
                    const IdxDataset& test, Index batch, GradientReducer& ranks) {
  const auto start = std::chrono::steady_clock::now();
  const bench::CpuStopwatch cpu;
  const Index n = test.size();
  const Index num_batches = (n + batch - 1) / batch;
  const std::vector<Index> order = Identity(n);
  const std::pair<std::size_t, std::size_t> mine =
      RankParts(static_cast<std::size_t>(num_batches), ranks.rank(), ranks.size());
  // Per batch its loss × count and its correct count (zero for the other ranks' batches, so the
  // sum over ranks is exact), added in batch order below.
  const Vector sums = SumOverRanks(ranks, 2 * num_batches, [&] {
    const std::size_t first = mine.first, last = mine.second;
    Vector values = Vector::Zero(2 * num_batches);
    const std::size_t threads = std::min(last - first, workers.size());
    // Whole batches per thread (round-robin), so the result does not depend on the thread count.
    pool.Run(threads, [&](std::size_t w) {
      for (std::size_t b = first + w; b < last; b += threads) {
        const Index begin = static_cast<Index>(b) * batch;
        const Index count = std::min(batch, n - begin);
        const PartResult r =
            workers[w].Evaluate(p, GatherColumns(test.images.pixels, order, begin, count),
                                GatherLabels(test.labels, order, begin, count));
        values[static_cast<Index>(b)] = r.loss * static_cast<double>(count);
        values[num_batches + static_cast<Index>(b)] = static_cast<double>(r.correct);
      }
    });
    return values;
  });
  Evaluation e;
  for (Index b = 0; b < num_batches; ++b) {
    e.loss += sums[b];
    e.correct += static_cast<Index>(sums[num_batches + b]);
  }
  e.total = n;
  e.loss /= static_cast<double>(n);
  e.accuracy = static_cast<double>(e.correct) / static_cast<double>(n);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.cpu_seconds = cpu.Seconds();
  return e;
}

}  // namespace snode::mnist
