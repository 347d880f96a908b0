#pragma once
// One first-order training loop: Adam (optim/adam.hpp) on an objective that returns a loss and
// its gradient, for a budget of iterations, with an optional learning-rate schedule, a callback
// after every iteration (progress, logging, early stop) and a record of the losses.
//
// Iteration k (0-based) of RunTraining:
//   loss_k = objective(θ, g)                       (θ before the update)
//   lr_k   = learning_rate(k) when a schedule is given (Adam::set_lr), else Adam's lr
//   θ      ← Adam step with g
//   record.losses.push_back(loss_k); callback({k, loss_k, lr_k, …, θ after the update, g})
// so the loss recorded at k is the loss at the θ the k-th update started from, the order of
// torch training loops. With evaluate_final, the objective is evaluated once more at the final
// θ (record.final_loss): a budget of N gives N + 1 losses for N updates.
//
// An objective that has no usable gradient at θ (a failed solve, NaN) may throw SkipUpdate: θ
// and Adam's state are left unchanged, the iteration is recorded with the previous loss and
// skipped = true. Any other exception propagates out of RunTraining.

#include <functional>
#include <limits>
#include <vector>

#include "core/errors.hpp"
#include "core/types.hpp"
#include "optim/adam.hpp"

namespace snode {

// objective(θ, g) returns the loss at θ and writes its gradient into g (resized by the callee
// if needed). The same type as in optim/lbfgs_minimizer.hpp, so one objective serves both.
using Objective = std::function<double(const Vector& x, Vector& grad)>;

// Thrown by an objective to skip this iteration's update (see the file comment).
class SkipUpdate : public NumericalError {
 public:
  using NumericalError::NumericalError;
};

struct TrainingOptions {
  long iterations = 0;  // budget of objective evaluations + updates, >= 0
  AdamOptions adam;     // Adam's settings; adam.lr is the learning rate without a schedule
  // Learning rate of iteration k; empty: the constant adam.lr.
  std::function<double(long iteration)> learning_rate;
  bool evaluate_final = false;  // evaluate the objective at the final θ (record.final_loss)
};

// What the callback sees after iteration `iteration`.
struct IterationInfo {
  long iteration;          // 0-based
  double loss;             // at θ before this update (the previous loss when skipped)
  double learning_rate;    // the rate of this update
  bool skipped;            // the objective threw SkipUpdate: no update
  const Vector& theta;     // after the update
  const Vector& gradient;  // the gradient of this iteration
};

// Returns false to stop after this iteration.
using TrainingCallback = std::function<bool(const IterationInfo& info)>;

struct TrainingRecord {
  std::vector<double> losses;  // one per iteration run (see the file comment)
  long updates = 0;            // Adam steps taken
  long skipped = 0;            // iterations skipped by SkipUpdate
  bool stopped_early = false;  // the callback returned false
  double final_loss = std::numeric_limits<double>::quiet_NaN();  // with evaluate_final
};

// Runs the loop on θ (updated in place) with an Adam of options.adam. Throws ConfigError for a
// negative budget or bad Adam options; exceptions of the objective and callback propagate.
TrainingRecord RunTraining(const Objective& objective, Vector& theta,
                           const TrainingOptions& options,
                           const TrainingCallback& callback = nullptr);

// The same with a caller's Adam (e.g. restored from a checkpoint); options.adam is not used.
// Throws ConfigError when adam.size() differs from θ's length.
TrainingRecord RunTraining(const Objective& objective, Vector& theta, Adam& adam,
                           const TrainingOptions& options,
                           const TrainingCallback& callback = nullptr);

}  // namespace snode
