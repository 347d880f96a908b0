// studies/thread_pool: every job runs once, results do not depend on the thread count, progress
// counts every job, and a job's exception reaches the caller.
#include "studies/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace snode {
namespace {

std::vector<double> Squares(std::size_t count, int threads, std::size_t* reported) {
  std::vector<double> slots(count, -1.0);
  ParallelFor(
      count, threads, [&](std::size_t i) { slots[i] = std::sqrt(static_cast<double>(i)) * i; },
      [&](std::size_t done) { *reported = done; });
  return slots;
}

TEST(ThreadPool, SameResultsWhateverTheThreadCount) {
  std::size_t reported_serial = 0, reported_four = 0;
  const std::vector<double> serial = Squares(1000, 1, &reported_serial);
  const std::vector<double> four = Squares(1000, 4, &reported_four);
  EXPECT_EQ(serial, four);
  EXPECT_EQ(reported_serial, 1000u);
  EXPECT_EQ(reported_four, 1000u);
}

TEST(ThreadPool, EveryJobRunsOnce) {
  std::vector<std::atomic<int>> runs(257);
  ParallelFor(runs.size(), 3, [&](std::size_t i) { ++runs[i]; });
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  ParallelFor(0, 2, [](std::size_t) { FAIL() << "no job to run"; });
}

TEST(ThreadPool, AJobsExceptionReachesTheCaller) {
  for (const int threads : {1, 2}) {
    EXPECT_THROW(ParallelFor(100, threads,
                             [](std::size_t i) {
                               if (i == 7) throw std::runtime_error("job 7");
                             }),
                 std::runtime_error)
        << threads;
  }
  EXPECT_GE(HardwareThreads(), 1);
}

}  // namespace
}  // namespace snode
