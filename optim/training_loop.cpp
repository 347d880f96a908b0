#include "optim/training_loop.hpp"

#include <string>

namespace snode {

TrainingRecord RunTraining(const Objective& objective, Vector& theta,
                           const TrainingOptions& options, const TrainingCallback& callback) {
  Adam adam(theta.size(), options.adam);
  return RunTraining(objective, theta, adam, options, callback);
}

TrainingRecord RunTraining(const Objective& objective, Vector& theta, Adam& adam,
                           const TrainingOptions& options, const TrainingCallback& callback) {
  Require(options.iterations >= 0,
          "training: the iteration budget must be >= 0, got " + std::to_string(options.iterations));
  Require(adam.size() == theta.size(), "training: Adam has " + std::to_string(adam.size()) +
                                           " parameters, theta " + std::to_string(theta.size()));
  TrainingRecord record;
  record.losses.reserve(static_cast<std::size_t>(options.iterations));
  Vector gradient(theta.size());
  for (long k = 0; k < options.iterations; ++k) {
    double loss = std::numeric_limits<double>::quiet_NaN();
    bool skipped = false;
    try {
      loss = objective(theta, gradient);
    } catch (const SkipUpdate&) {
      skipped = true;
      if (!record.losses.empty()) loss = record.losses.back();
      ++record.skipped;
    }
    if (!skipped) {
      if (options.learning_rate) adam.set_lr(options.learning_rate(k));
      adam.Step(theta, gradient);
      ++record.updates;
    }
    record.losses.push_back(loss);
    if (callback && !callback({k, loss, adam.options().lr, skipped, theta, gradient})) {
      record.stopped_early = true;
      break;
    }
  }
  if (options.evaluate_final) record.final_loss = objective(theta, gradient);
  return record;
}

}  // namespace snode
