#pragma once
// The MNIST model's forward and backward passes, one Worker per thread, and the batch split
// over a PartPool.
//
// Threads: a training batch of at least kMinSplitBatch samples is cut into `parts` contiguous
// parts, solved by the Workers (MlpField, integrator, gradient method) on the threads of the
// pool (worker w takes parts w, w + W, ...); the parts' losses are normalised by the full batch
// size, so their gradients add up to the batch gradient. With a fixed-step integrator (rk4) every
// sample's ODE is independent, so this is the same computation as one thread (up to summation
// order). With an adaptive integrator (dopri5) the samples of a part share one step sequence, so
// splitting changes the steps (each part takes the steps its own samples need): a different,
// equally valid, deterministic run. So the number of parts, not the number of threads or ranks,
// decides the computation.
//
// Ranks (data-parallel runs, docs/distributed.md): rank r of P takes the contiguous block of
// parts [K·r/P, K·(r+1)/P) of the K parts and runs it on its own threads; one SumOverRanks
// (core/gradient_reducer.hpp) adds the gradients, losses and NFE counts of all ranks. With the
// same K, every rank count gives the serial result up to the order of the sums. Evaluation splits
// whole batches over the threads, so the test accuracy does not depend on the thread count.
//
// The ODE block's gradients come from the selected gradient method (bptt, backsolve_adjoint,
// cvodes_adjoint); the input layer's from dL/dz0: dL/dW_in = Σ_j (dL/dz0_j) x_jᵀ.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "adjoint/gradient_method.hpp"
#include "core/gradient_reducer.hpp"
#include "core/types.hpp"
#include "integrators/integrator.hpp"
#include "io/idx_reader.hpp"
#include "studies/mnist_model.hpp"
#include "studies/part_pool.hpp"

namespace snode::mnist {

// Batches smaller than this are not split over threads.
inline constexpr Index kMinSplitBatch = 64;

// Called on every training gradient before it is used, with the method's name and a description
// of the step; throws (NumericalError) to refuse a gradient, e.g. when backsolve's reconstruction
// failed (adjoint/usable_gradient.hpp's RequireUsableGradient, which the app passes); empty: every
// gradient is used.
using GradientGuard = std::function<void(const LossAndGradient& result, const std::string& method,
                                         const std::string& what)>;

// How the ODE block is solved and differentiated. mnist_classifier's defaults: dopri5 with
// rtol = atol = 1e-3 (the options' own defaults are the integrators'), bptt.
struct SolverOptions {
  std::string integrator = "dopri5";  // IntegratorRegistry() name (evaluation)
  IntegratorOptions integrator_options;
  std::string gradient = "bptt";  // GradientRegistry() name (training)
  GradientOptions gradient_options;
  GradientGuard guard;
};

struct PartResult {
  double loss = 0;  // normalised as asked (training) or by the part's size (evaluation)
  Vector grad;      // full-length gradient (training only)
  long nfe_forward = 0;
  long nfe_backward = 0;
  long vjp = 0;
  Index correct = 0;  // evaluation only
};

// Everything one thread needs: per batch size a field, a gradient method and an integrator
// (the last, partial batch has its own size; SUNDIALS memory is sized per state length).
// model must outlive the worker.
class Worker {
 public:
  Worker(const Model& model, SolverOptions solver) : model_(model), solver_(std::move(solver)) {}

  // Loss normalised by `normaliser` and its gradient in all parameters p, for images x (one per
  // column) with their labels. Throws what the solver, gradient method or guard throws.
  PartResult Train(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                   double normaliser);

  // Loss (normalised by the part's size) and the number of correct predictions.
  PartResult Evaluate(const Vector& p, const Matrix& x, const std::vector<int>& labels);

 private:
  struct Slot {
    std::shared_ptr<MlpField> field;
    std::unique_ptr<GradientMethod> gradient;
    std::unique_ptr<Integrator> integrator;
  };

  Slot& SlotFor(Index batch);
  Matrix Hidden(const Vector& p, const Matrix& x) const;
  OdeProblem Problem(const Slot& slot, const Vector& p, const Matrix& x) const;
  PartResult TrainOde(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                      double normaliser);
  PartResult TrainAblation(const Vector& p, const Matrix& x, const std::vector<int>& labels,
                           double normaliser);

  const Model& model_;
  SolverOptions solver_;
  std::map<Index, Slot> slots_;
};

// `threads` workers of the model.
std::vector<Worker> MakeWorkers(const Model& model, const SolverOptions& solver, long threads);

// The number of parts a batch of `batch` samples is split into with `threads` threads (the
// default of --batch-parts is this times the number of ranks).
std::size_t PartsFor(long threads, Index batch);

// The parts a batch of `count` samples is cut into when `parts` are asked for: min(parts, count)
// for a batch of at least kMinSplitBatch samples, else 1.
std::size_t PartsUsed(std::size_t parts, Index count);

// The parts [first, last) of rank `rank` of `ranks` when a batch is cut into `parts` parts.
std::pair<std::size_t, std::size_t> RankParts(std::size_t parts, int rank, int ranks);

// One training batch: the loss averaged over the batch, its gradient, and the NFE/VJP counts
// averaged over the parts it was split into (PartsUsed(parts, x.cols())), with this rank's block
// of the parts (RankParts) on the pool's threads and one SumOverRanks over the ranks (serial: all
// parts here). workers.size() ≤ pool.size(). Rethrows the first part's error (on every rank).
struct BatchResult {
  double loss = 0;
  Vector grad;
  double nfe_forward = 0, nfe_backward = 0, vjp = 0;
};
BatchResult TrainBatch(PartPool& pool, std::vector<Worker>& workers, std::size_t parts,
                       const Vector& p, const Matrix& x, const std::vector<int>& labels,
                       GradientReducer& ranks = SerialReduction());

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  Index correct = 0;
  Index total = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // of the process, all threads
};

// Loss and accuracy of p on the test set, in batches of `batch`: rank r of P takes the contiguous
// block of batches [B·r/P, B·(r+1)/P) and deals it round-robin to its workers; one SumOverRanks
// of the per-batch losses and counts, added in batch order, so the result is the same bit for bit
// for every thread and rank count. seconds and cpu_seconds are this rank's.
Evaluation Evaluate(PartPool& pool, std::vector<Worker>& workers, const Vector& p,
                    const IdxDataset& test, Index batch,
                    GradientReducer& ranks = SerialReduction());

}  // namespace snode::mnist
