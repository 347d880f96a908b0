#include "studies/part_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/errors.hpp"

namespace snode {
namespace {

TEST(PartPool, RunsEveryPartOnceEachOnItsOwnThread) {
  PartPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  for (int repeat = 0; repeat < 200; ++repeat) {
    std::vector<int> calls(3, 0);
    std::vector<std::thread::id> ids(3);
    pool.Run(3, [&](std::size_t k) {
      ++calls[k];
      ids[k] = std::this_thread::get_id();
    });
    EXPECT_EQ(calls, std::vector<int>({1, 1, 1}));
    EXPECT_EQ(ids[0], std::this_thread::get_id()) << "part 0 runs on the calling thread";
    EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), 3u);
  }
}

TEST(PartPool, FewerPartsThanThreadsLeavesTheOthersIdle) {
  PartPool pool(4);
  std::atomic<int> calls{0};
  pool.Run(2, [&](std::size_t k) {
    EXPECT_LT(k, 2u);
    ++calls;
  });
  EXPECT_EQ(calls.load(), 2);
  pool.Run(1, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls.load(), 3);
  pool.Run(0, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls.load(), 3);
}

TEST(PartPool, RethrowsTheFirstErrorInPartOrderAfterAllPartsFinished) {
  PartPool pool(3);
  std::atomic<int> finished{0};
  try {
    pool.Run(3, [&](std::size_t k) {
      ++finished;
      if (k >= 1) throw std::runtime_error("part " + std::to_string(k));
    });
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "part 1");
  }
  EXPECT_EQ(finished.load(), 3);
  // The pool is still usable.
  int calls = 0;
  pool.Run(1, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(PartPool, MorePartsThanThreadsIsAConfigError) {
  PartPool pool(2);
  EXPECT_THROW(pool.Run(3, [](std::size_t) {}), ConfigError);
  PartPool single(1);
  EXPECT_EQ(single.size(), 1u);
  EXPECT_THROW(single.Run(2, [](std::size_t) {}), ConfigError);
}

}  // namespace
}  // namespace snode
