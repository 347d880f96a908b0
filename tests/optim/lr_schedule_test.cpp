#include "optim/lr_schedule.hpp"

#include <gtest/gtest.h>

namespace snode {
namespace {

TEST(CosineLearningRate, StartsAtLrHalvesAtMidpointAndEndsAtZero) {
  EXPECT_DOUBLE_EQ(CosineLearningRate(3e-3, 0, 100), 3e-3);
  EXPECT_NEAR(CosineLearningRate(3e-3, 50, 100), 1.5e-3, 1e-18);
  EXPECT_NEAR(CosineLearningRate(3e-3, 100, 100), 0.0, 1e-18);
}

TEST(CosineLearningRate, DecreasesStrictlyOverTheUpdates) {
  double previous = CosineLearningRate(1.0, 0, 37);
  for (long k = 1; k < 37; ++k) {
    const double rate = CosineLearningRate(1.0, k, 37);
    EXPECT_LT(rate, previous) << "update " << k;
    EXPECT_GT(rate, 0.0);
    previous = rate;
  }
}

TEST(CosineLearningRate, IsSymmetricAboutTheMidpoint) {
  // (1 + cos(πk/K))/2 + (1 + cos(π(K−k)/K))/2 = 1.
  for (long k = 0; k <= 20; ++k) {
    EXPECT_NEAR(CosineLearningRate(2.0, k, 20) + CosineLearningRate(2.0, 20 - k, 20), 2.0, 1e-15);
  }
}

}  // namespace
}  // namespace snode
