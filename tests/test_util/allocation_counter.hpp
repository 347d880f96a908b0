#pragma once
// Counting replacement of the global operator new for the steady-state allocation tests
// (tests/integrators/allocation_test.cpp, tests/adjoint/gradient_allocation_test.cpp). A test
// binary that links allocation_counter.cpp counts every C++ operator new / new[] call (plain,
// nothrow, aligned) made between NewCounter::Start() and Stop(), with its call stack. Not
// counted: malloc (SUNDIALS, Eigen). Under sanitizers the replacement is compiled out
// (kCountsNew is false): they supply their own operator new.
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace snode {
namespace test_util {

constexpr int kMaxFrames = 40;
struct CallStack {
  int depth = 0;
  void* frames[kMaxFrames];
};

// True when operator new is replaced in this build (not under a sanitizer).
extern const bool kCountsNew;

// Counts operator-new calls between Start() and Stop() and keeps their call stacks.
class NewCounter {
 public:
  NewCounter();
  void Start();
  long Stop();
  // The call stacks of the allocations counted since the last Start() (the first 4 096).
  std::vector<CallStack> Stacks() const;
};

// Prints to stderr the call stacks in `stacks` that have no identical stack in `baseline`
// (multiset difference: the allocations the second run made and the first did not), each
// distinct stack once with its number of occurrences.
void PrintExtraAllocations(const std::string& what, const std::vector<CallStack>& stacks,
                           std::vector<CallStack> baseline = {});

}  // namespace test_util
}  // namespace snode

#define SKIP_WITHOUT_COUNTER()                                                              \
  do {                                                                                      \
    if (!::snode::test_util::kCountsNew) GTEST_SKIP() << "operator new is the sanitizer's"; \
  } while (0)
