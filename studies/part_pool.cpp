#include "studies/part_pool.hpp"

#include "core/errors.hpp"

namespace snode {

PartPool::PartPool(std::size_t threads) {
  for (std::size_t k = 1; k < threads; ++k) threads_.emplace_back([this, k] { Serve(k); });
}

PartPool::~PartPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void PartPool::Run(std::size_t count, const std::function<void(std::size_t)>& fn) {
  if (count > size()) throw ConfigError("PartPool: more parts than threads");
  if (count == 0) return;
  errors_.assign(count, nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &fn;
    count_ = count;
    pending_ = count - 1;
    ++generation_;
  }
  if (count > 1) wake_.notify_all();
  RunPart(0);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }
  for (const std::exception_ptr& error : errors_) {
    if (error) std::rethrow_exception(error);
  }
}

void PartPool::RunPart(std::size_t k) {
  try {
    (*task_)(k);
  } catch (...) {
    errors_[k] = std::current_exception();
  }
}

void PartPool::Serve(std::size_t k) {
  std::uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (k >= count_) continue;
    }
    RunPart(k);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --pending_;
    }
    done_.notify_one();
  }
}

}  // namespace snode
