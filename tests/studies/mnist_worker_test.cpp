#include "studies/mnist_worker.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "core/errors.hpp"

namespace snode::mnist {
namespace {

SolverOptions Rk4(double step = 0.25) {
  SolverOptions solver;
  solver.integrator = "rk4";
  solver.integrator_options.fixed_step = step;
  solver.gradient = "bptt";
  solver.gradient_options.integrator = "rk4";
  solver.gradient_options.integrator_options = solver.integrator_options;
  return solver;
}

struct Batch {
  Matrix x;
  std::vector<int> labels;
};

Batch RandomBatch(Index pixels, Index count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> pixel(0.0, 1.0);
  Batch batch{Matrix(pixels, count), std::vector<int>(count)};
  for (Index j = 0; j < count; ++j) {
    for (Index i = 0; i < pixels; ++i) batch.x(i, j) = pixel(rng);
    batch.labels[j] = static_cast<int>(rng() % 10);
  }
  return batch;
}

TEST(MnistWorker, SplittingABatchOverThreadsGivesTheOneThreadGradientWithRk4) {
  const Model model(true, 12, 6);
  const Vector p = model.InitialParams(4);
  const Batch batch = RandomBatch(12, 70, 1);
  std::vector<Worker> workers = MakeWorkers(model, Rk4(), 3);
  PartPool pool(workers.size());
  const BatchResult one = TrainBatch(pool, workers, 1, p, batch.x, batch.labels);
  const BatchResult three = TrainBatch(pool, workers, 3, p, batch.x, batch.labels);
  EXPECT_NEAR(three.loss, one.loss, 1e-14 * one.loss);
  EXPECT_LE((three.grad - one.grad).cwiseAbs().maxCoeff(), 1e-13 * one.grad.cwiseAbs().maxCoeff());
  EXPECT_GT(one.grad.cwiseAbs().maxCoeff(), 0.0);
  // rk4 with step 0.25: 4 steps of 4 evaluations per part, whatever the part's size.
  EXPECT_EQ(one.nfe_forward, 16);
  EXPECT_EQ(three.nfe_forward, 16);
  EXPECT_EQ(PartsFor(3, 70), 3u);
  EXPECT_EQ(PartsFor(3, 63), 1u);
  EXPECT_EQ(PartsFor(1, 128), 1u);
}

// dopri5: the samples of a part share its steps, so the parts decide the computation; how many
// threads run them (here 1, 2 and 4 workers for 4 parts) does not change a bit.
TEST(MnistWorker, ThePartsNotTheThreadsDecideTheResult) {
  const Model model(true, 12, 6);
  const Vector p = model.InitialParams(5);
  const Batch batch = RandomBatch(12, 128, 4);
  SolverOptions dopri5;
  dopri5.integrator_options.rtol = dopri5.integrator_options.atol = 1e-3;
  dopri5.gradient_options.integrator_options = dopri5.integrator_options;
  std::vector<BatchResult> results;
  for (const long threads : {1, 2, 4}) {
    std::vector<Worker> workers = MakeWorkers(model, dopri5, threads);
    PartPool pool(workers.size());
    results.push_back(TrainBatch(pool, workers, 4, p, batch.x, batch.labels));
  }
  for (std::size_t k = 1; k < results.size(); ++k) {
    EXPECT_EQ(results[k].loss, results[0].loss);
    EXPECT_EQ(results[k].grad, results[0].grad);
    EXPECT_EQ(results[k].nfe_forward, results[0].nfe_forward);
  }
  EXPECT_EQ(PartsUsed(4, 128), 4u);
  EXPECT_EQ(PartsUsed(4, kMinSplitBatch - 1), 1u);
  EXPECT_EQ(PartsUsed(100, 70), 70u);
  // Contiguous blocks of parts per rank; a rank may have none when there are fewer parts.
  EXPECT_EQ(RankParts(4, 0, 2), std::make_pair(std::size_t{0}, std::size_t{2}));
  EXPECT_EQ(RankParts(4, 1, 2), std::make_pair(std::size_t{2}, std::size_t{4}));
  EXPECT_EQ(RankParts(5, 2, 4), std::make_pair(std::size_t{2}, std::size_t{3}));
  EXPECT_EQ(RankParts(2, 2, 4), std::make_pair(std::size_t{1}, std::size_t{1}));
}

TEST(MnistWorker, BatchesBelowTheSplitSizeStayOnOneThread) {
  const Model model(false, 12, 6);
  const Vector p = model.InitialParams(4);
  const Batch batch = RandomBatch(12, kMinSplitBatch - 1, 2);
  std::vector<Worker> workers = MakeWorkers(model, Rk4(), 2);
  PartPool pool(workers.size());
  const BatchResult two = TrainBatch(pool, workers, 2, p, batch.x, batch.labels);
  const BatchResult one = TrainBatch(pool, workers, 1, p, batch.x, batch.labels);
  EXPECT_EQ(two.loss, one.loss);
  EXPECT_EQ(two.grad, one.grad);
}

TEST(MnistWorker, GradientMatchesCentralDifferences) {
  for (const bool ode : {true, false}) {
    const Model model(ode, 5, 3);
    const Vector p = model.InitialParams(9);
    const Batch batch = RandomBatch(5, 7, 3);
    Worker worker(model, Rk4(0.5));
    const Vector grad = worker.Train(p, batch.x, batch.labels, 7.0).grad;
    for (Index i = 0; i < model.num_params(); i += 3) {
      Vector q = p;
      const double h = 1e-6;
      q[i] = p[i] + h;
      const double plus = worker.Train(q, batch.x, batch.labels, 7.0).loss;
      q[i] = p[i] - h;
      const double minus = worker.Train(q, batch.x, batch.labels, 7.0).loss;
      EXPECT_NEAR(grad[i], (plus - minus) / (2 * h), 1e-7)
          << (ode ? "ode" : "ablation") << " " << i;
    }
  }
}

TEST(MnistWorker, GuardSeesEveryOdeGradientAndMayRefuseIt) {
  const Model model(true, 5, 3);
  SolverOptions solver = Rk4();
  int calls = 0;
  solver.guard = [&calls](const LossAndGradient&, const std::string& method,
                          const std::string& what) {
    ++calls;
    EXPECT_EQ(method, "bptt");
    EXPECT_EQ(what, "a training batch");
    if (calls == 2) throw NumericalError("refused");
  };
  Worker worker(model, solver);
  const Batch batch = RandomBatch(5, 4, 5);
  const Vector p = model.InitialParams(1);
  worker.Train(p, batch.x, batch.labels, 4.0);
  EXPECT_THROW(worker.Train(p, batch.x, batch.labels, 4.0), NumericalError);
  EXPECT_EQ(calls, 2);
}

TEST(MnistWorker, EvaluationDoesNotDependOnTheThreadCount) {
  const Model model(true, 8, 4);
  const Vector p = model.InitialParams(2);
  const Batch batch = RandomBatch(8, 45, 6);
  IdxDataset test;
  test.images.rows = 2;
  test.images.cols = 4;
  test.images.pixels = batch.x;
  test.labels = batch.labels;
  std::vector<Worker> one_worker = MakeWorkers(model, Rk4(), 1);
  std::vector<Worker> three_workers = MakeWorkers(model, Rk4(), 3);
  PartPool one_pool(1), three_pool(3);
  const Evaluation a = Evaluate(one_pool, one_worker, p, test, 10);
  const Evaluation b = Evaluate(three_pool, three_workers, p, test, 10);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.total, 45);
  EXPECT_DOUBLE_EQ(a.accuracy, static_cast<double>(a.correct) / 45.0);
  // The mean loss of the whole set, whatever the batching.
  const Evaluation whole = Evaluate(one_pool, one_worker, p, test, 45);
  EXPECT_NEAR(whole.loss, a.loss, 1e-12);
}

}  // namespace
}  // namespace snode::mnist
