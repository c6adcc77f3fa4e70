// Restores the OpenMP thread count when a test (or helper) ends, even on failure, so a
// set_num_threads inside one test never changes the tests that run after it in one process.
#pragma once

#include <moodnet/config.hpp>

namespace moodnet::test {

class ThreadCountGuard {
 public:
  ThreadCountGuard() = default;
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_ = num_threads();
};

}  // namespace moodnet::test
