#pragma once
// A pool of threads that run the parts of one piece of work (the parts of a batch) together:
// Run(count, fn) calls fn(k) for k = 0..count−1, part 0 on the calling thread and part k on the
// pool's thread k, and returns when all have finished.
//
// The threads live as long as the pool: creating threads per batch cost more than the second
// core gave back (glibc returns an exited thread's stack pages with madvise, so every new thread
// faulted in Eigen's on-stack GEMM blocks again, plus a TLB shootdown per batch).
//
// Errors: every part runs to its end; then the first exception in part order is rethrown, so the
// error does not depend on timing. Run() is not reentrant and is called from one thread.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace snode {

class PartPool {
 public:
  // threads ≥ 1 parts can run at once (threads − 1 threads are started).
  explicit PartPool(std::size_t threads);
  PartPool(const PartPool&) = delete;
  PartPool& operator=(const PartPool&) = delete;
  ~PartPool();

  std::size_t size() const { return threads_.size() + 1; }

  // Runs fn(0..count−1) as described above. Throws ConfigError when count > size().
  void Run(std::size_t count, const std::function<void(std::size_t)>& fn);

 private:
  void RunPart(std::size_t k);
  void Serve(std::size_t k);

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  std::uint64_t generation_ = 0;
  std::size_t count_ = 0;
  std::size_t pending_ = 0;
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace snode
