// Background batch loading: one epoch's batches are decoded, augmented and batched on a worker
// thread (with its own OpenMP team) one batch ahead of the training step, so image loading
// overlaps with forward/backward instead of adding to it. Batches come out in order and are
// exactly what Dataset::load_batch gives (it is keyed by (seed, epoch, index), never by thread),
// so training is bitwise the same with or without prefetching and for any number of workers.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include "../kernels/cpu/denormals.hpp"
#include "dataset.hpp"

namespace moodnet {

class BatchPrefetcher {
 public:
  // Loads data[order[b*batch .. (b+1)*batch)] for b = 0, 1, ... with `workers` OpenMP threads
  // (0: as many as the caller's team). `data` and `order` must outlive the prefetcher. With
  // `flush_denormals` the worker runs as fit() runs the Cpu device (cpu::ScopedFlushDenormals),
  // so its arithmetic is the same as on the training thread.
  BatchPrefetcher(Dataset& data, std::span<const int64_t> order, int64_t batch_size, uint64_t epoch,
                  int workers = 0, bool flush_denormals = false)
      : data_(data),
        order_(order),
        batch_(batch_size),
        epoch_(epoch),
        workers_(workers > 0 ? workers : num_threads()),
        flush_denormals_(flush_denormals) {
    MOODNET_CHECK(batch_size > 0, "BatchPrefetcher: batch size must be positive, got ", batch_size);
    worker_ = std::thread([this] { run(); });
  }
  ~BatchPrefetcher() {
    {
      const std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();  // waits for a batch being loaded at most
  }
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, swapped into x and y (their old buffers are reused for later batches, so the
  // steady state allocates nothing). Blocks until it is ready; rethrows the loader's error.
  void next(Tensor<Cpu>& x, Tensor<Cpu>& y) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return ready_ || error_ || done_; });
    if (error_) std::rethrow_exception(error_);
    MOODNET_CHECK(ready_, "BatchPrefetcher: no batches left in this epoch");
    std::swap(x, x_);
    std::swap(y, y_);
    ready_ = false;
    lock.unlock();
    cv_.notify_all();
  }

 private:
  void run() {
    set_num_threads(workers_);  // this thread's OpenMP team only
    std::optional<cpu::ScopedFlushDenormals> ftz;
    if (flush_denormals_) ftz.emplace();
    Tensor<Cpu> x, y;
    const auto n = static_cast<int64_t>(order_.size());
    try {
      for (int64_t b0 = 0; b0 < n; b0 += batch_) {
        {
          const std::lock_guard<std::mutex> lock(m_);
          if (stop_) return;
        }
        const int64_t b1 = std::min(n, b0 + batch_);
        data_.load_batch(order_.subspan(static_cast<size_t>(b0), static_cast<size_t>(b1 - b0)),
                         epoch_, x, y);
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return !ready_ || stop_; });
        if (stop_) return;
        std::swap(x, x_);
        std::swap(y, y_);
        ready_ = true;
        lock.unlock();
        cv_.notify_all();
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(m_);
      error_ = std::current_exception();
    }
    {
      const std::lock_guard<std::mutex> lock(m_);
      done_ = true;
    }
    cv_.notify_all();
  }

  Dataset& data_;
  std::span<const int64_t> order_;
  int64_t batch_;
  uint64_t epoch_;
  int workers_;
  bool flush_denormals_;
  std::mutex m_;
  std::condition_variable cv_;
  Tensor<Cpu> x_, y_;  // the batch handed over next
  bool ready_ = false, stop_ = false, done_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: started after every other member exists
};

}  // namespace moodnet
