// RunTraining: reaches the minimum of a quadratic, matches hand-written Adam steps bit for bit,
// calls back once per iteration, stops on request, skips updates on SkipUpdate, follows a
// learning-rate schedule, and handles a budget of 0.

#include "optim/training_loop.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/errors.hpp"

namespace snode {
namespace {

// f(θ) = Σ_i c_i (θ_i − m_i)², minimum 0 at m.
struct Quadratic {
  Vector center = Vector{{1.0, -2.0, 0.5}};
  Vector curvature = Vector{{1.0, 4.0, 0.25}};
  double operator()(const Vector& theta, Vector& gradient) const {
    const Vector d = theta - center;
    gradient = 2.0 * curvature.cwiseProduct(d);
    return curvature.dot(d.cwiseProduct(d));
  }
};

TEST(TrainingLoop, ReachesTheMinimumOfAQuadratic) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 3000;
  options.adam.lr = 0.05;
  const TrainingRecord record = RunTraining(f, theta, options);
  EXPECT_EQ(record.losses.size(), 3000u);
  EXPECT_EQ(record.updates, 3000);
  EXPECT_FALSE(record.stopped_early);
  EXPECT_LT((theta - f.center).lpNorm<Eigen::Infinity>(), 1e-3);
  EXPECT_LT(record.losses.back(), 1e-6);
  EXPECT_LT(record.losses.back(), record.losses.front());
}

TEST(TrainingLoop, MatchesHandWrittenAdamStepsBitForBit) {
  const Quadratic f;
  AdamOptions adam_options;
  adam_options.lr = 1e-2;
  Vector by_hand = Vector::Zero(3);
  Adam adam(3, adam_options);
  std::vector<double> hand_losses;
  Vector gradient(3);
  for (int it = 0; it < 50; ++it) {
    hand_losses.push_back(f(by_hand, gradient));
    adam.Step(by_hand, gradient);
  }
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 50;
  options.adam = adam_options;
  const TrainingRecord record = RunTraining(f, theta, options);
  EXPECT_EQ(record.losses, hand_losses);
  EXPECT_EQ(theta, by_hand);
}

TEST(TrainingLoop, CallbackSeesEveryIterationInOrder) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 7;
  std::vector<long> seen;
  std::vector<double> losses;
  const TrainingRecord record = RunTraining(f, theta, options, [&](const IterationInfo& info) {
    seen.push_back(info.iteration);
    losses.push_back(info.loss);
    EXPECT_FALSE(info.skipped);
    EXPECT_EQ(info.learning_rate, options.adam.lr);
    EXPECT_EQ(&info.theta, &theta);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<long>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(losses, record.losses);
}

TEST(TrainingLoop, StopsWhenTheCallbackAsks) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 100;
  const TrainingRecord record =
      RunTraining(f, theta, options, [](const IterationInfo& info) { return info.iteration < 4; });
  EXPECT_TRUE(record.stopped_early);
  EXPECT_EQ(record.losses.size(), 5u);
  EXPECT_EQ(record.updates, 5);
}

TEST(TrainingLoop, BudgetZeroLeavesThetaUnchanged) {
  const Quadratic f;
  Vector theta = Vector{{0.3, 0.2, 0.1}};
  const Vector start = theta;
  TrainingOptions options;
  int calls = 0;
  long callbacks = 0;
  const auto counted = [&](const Vector& x, Vector& g) {
    ++calls;
    return f(x, g);
  };
  TrainingRecord record = RunTraining(counted, theta, options, [&](const IterationInfo&) {
    ++callbacks;
    return true;
  });
  EXPECT_TRUE(record.losses.empty());
  EXPECT_EQ(record.updates, 0);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(callbacks, 0);
  EXPECT_TRUE(std::isnan(record.final_loss));
  EXPECT_EQ(theta, start);
  // With evaluate_final the objective is still evaluated once, at the unchanged θ.
  options.evaluate_final = true;
  record = RunTraining(counted, theta, options);
  EXPECT_EQ(calls, 1);
  Vector gradient;
  EXPECT_EQ(record.final_loss, f(start, gradient));
}

TEST(TrainingLoop, NegativeBudgetIsAConfigError) {
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = -1;
  EXPECT_THROW(RunTraining(Quadratic(), theta, options), ConfigError);
}

TEST(TrainingLoop, EvaluateFinalGivesOneMoreLossThanUpdates) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 10;
  options.evaluate_final = true;
  const TrainingRecord record = RunTraining(f, theta, options);
  Vector gradient;
  EXPECT_EQ(record.losses.size(), 10u);
  EXPECT_EQ(record.final_loss, f(theta, gradient));
}

TEST(TrainingLoop, SkipUpdateKeepsThetaAndRecordsThePreviousLoss) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 4;
  Vector after_first;
  std::vector<bool> skipped;
  const TrainingRecord record = RunTraining(
      [&](const Vector& x, Vector& g) {
        if (skipped.size() == 1 || skipped.size() == 2) throw SkipUpdate("no usable gradient");
        return f(x, g);
      },
      theta, options,
      [&](const IterationInfo& info) {
        if (info.iteration == 0) after_first = info.theta;
        if (info.skipped) {
          EXPECT_EQ(info.theta, after_first);
        }
        skipped.push_back(info.skipped);
        return true;
      });
  EXPECT_EQ(skipped, (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(record.skipped, 2);
  EXPECT_EQ(record.updates, 2);
  ASSERT_EQ(record.losses.size(), 4u);
  EXPECT_EQ(record.losses[1], record.losses[0]);
  EXPECT_EQ(record.losses[2], record.losses[0]);
}

TEST(TrainingLoop, OtherObjectiveErrorsPropagate) {
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 3;
  EXPECT_THROW(RunTraining([](const Vector&, Vector&) -> double { throw NumericalError("bad"); },
                           theta, options),
               NumericalError);
}

TEST(TrainingLoop, FollowsTheLearningRateSchedule) {
  const Quadratic f;
  Vector theta = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 5;
  options.learning_rate = [](long k) { return 0.1 / static_cast<double>(k + 1); };
  std::vector<double> rates;
  RunTraining(f, theta, options, [&](const IterationInfo& info) {
    rates.push_back(info.learning_rate);
    return true;
  });
  EXPECT_EQ(rates, (std::vector<double>{0.1, 0.1 / 2, 0.1 / 3, 0.1 / 4, 0.1 / 5}));
}

TEST(TrainingLoop, CallersAdamKeepsItsStateAcrossRuns) {
  const Quadratic f;
  Vector split = Vector::Zero(3), whole = Vector::Zero(3);
  TrainingOptions options;
  options.iterations = 10;
  Adam adam(3, options.adam);
  RunTraining(f, split, adam, options);
  RunTraining(f, split, adam, options);
  EXPECT_EQ(adam.step(), 20u);
  options.iterations = 20;
  RunTraining(f, whole, options);
  EXPECT_EQ(split, whole);
  Adam wrong_size(2, options.adam);
  EXPECT_THROW(RunTraining(f, split, wrong_size, options), ConfigError);
}

}  // namespace
}  // namespace snode
