#pragma once
// Learning-rate schedules: the rate of update k out of K, as a pure function of (k, K).

#include <cmath>

namespace snode {

// Cosine decay lr · (1 + cos(π k / K)) / 2 for update k of K (k = 0..K−1): lr at the first
// update, falling smoothly towards 0 at the end of the last one. K must be positive.
inline double CosineLearningRate(double lr, long k, long total) {
  return 0.5 * lr *
         (1.0 + std::cos(std::acos(-1.0) * static_cast<double>(k) / static_cast<double>(total)));
}

}  // namespace snode
