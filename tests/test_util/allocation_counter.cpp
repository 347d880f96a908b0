// See allocation_counter.hpp.
#include "tests/test_util/allocation_counter.hpp"

#include <execinfo.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SNODE_TEST_COUNT_NEW 0
#else
#define SNODE_TEST_COUNT_NEW 1
#endif

// ------------------------------------------------------------------ counting operator new
namespace {
std::atomic<long> g_new_calls{0};
std::atomic<bool> g_counting{false};
using snode::test_util::CallStack;
using snode::test_util::kMaxFrames;
constexpr long kMaxRecorded = 4096;
CallStack g_stacks[kMaxRecorded];  // the call stacks of the first counted allocations
thread_local bool t_in_backtrace = false;

[[maybe_unused]] void RecordAllocation() {
  if (!g_counting.load(std::memory_order_relaxed) || t_in_backtrace) return;
  const long index = g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (index < kMaxRecorded) {
    t_in_backtrace = true;
    g_stacks[index].depth = backtrace(g_stacks[index].frames, kMaxFrames);
    t_in_backtrace = false;
  }
}

[[maybe_unused]] void* CountedNew(std::size_t size) {
  RecordAllocation();
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

[[maybe_unused]] void* CountedAlignedNew(std::size_t size, std::align_val_t align) {
  RecordAllocation();
  void* p = nullptr;
  const std::size_t alignment =
      std::max(static_cast<std::size_t>(align), sizeof(void*));  // posix_memalign's minimum
  if (posix_memalign(&p, alignment, size == 0 ? 1 : size) != 0) throw std::bad_alloc();
  return p;
}
}  // namespace

#if SNODE_TEST_COUNT_NEW
void* operator new(std::size_t size) { return CountedNew(size); }
void* operator new[](std::size_t size) { return CountedNew(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return CountedNew(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return CountedNew(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return CountedAlignedNew(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return CountedAlignedNew(size, align);
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return CountedAlignedNew(size, align);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return CountedAlignedNew(size, align);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif

namespace snode {
namespace test_util {
namespace {

bool SameStack(const CallStack& a, const CallStack& b) {
  return a.depth == b.depth && std::equal(a.frames, a.frames + a.depth, b.frames);
}

}  // namespace

const bool kCountsNew = SNODE_TEST_COUNT_NEW != 0;

NewCounter::NewCounter() {
  // backtrace() loads libgcc on its first call (which allocates): do that outside any count.
  static const int kPrimed = [] {
    void* frames[2];
    return backtrace(frames, 2);
  }();
  (void)kPrimed;
}

void NewCounter::Start() {
  g_new_calls = 0;
  g_counting = true;
}

long NewCounter::Stop() {
  g_counting = false;
  return g_new_calls.load();
}

std::vector<CallStack> NewCounter::Stacks() const {
  const long n = std::min(g_new_calls.load(), kMaxRecorded);
  return std::vector<CallStack>(g_stacks, g_stacks + n);
}

void PrintExtraAllocations(const std::string& what, const std::vector<CallStack>& stacks,
                           std::vector<CallStack> baseline) {
  std::vector<std::pair<CallStack, int>> extra;
  for (const CallStack& stack : stacks) {
    const auto match = std::find_if(baseline.begin(), baseline.end(),
                                    [&](const CallStack& b) { return SameStack(stack, b); });
    if (match != baseline.end()) {
      baseline.erase(match);
      continue;
    }
    const auto seen = std::find_if(extra.begin(), extra.end(),
                                   [&](const auto& e) { return SameStack(stack, e.first); });
    if (seen != extra.end()) {
      ++seen->second;
    } else {
      extra.emplace_back(stack, 1);
    }
  }
  for (const auto& [stack, count] : extra) {
    std::fprintf(stderr, "%d x operator new in %s at:\n", count, what.c_str());
    backtrace_symbols_fd(stack.frames, stack.depth, 2);
  }
}

}  // namespace test_util
}  // namespace snode
