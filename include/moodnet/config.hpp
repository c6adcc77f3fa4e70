// moodnet: version, feature macros and the error type every check throws.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#define MOODNET_VERSION_MAJOR 0
#define MOODNET_VERSION_MINOR 1
#define MOODNET_VERSION_PATCH 0

#if defined(_OPENMP)
#include <omp.h>
#define MOODNET_OMP_ENABLED 1
// MOODNET_OMP(omp parallel for ...) is the pragma with OpenMP and nothing without it, so builds
// without OpenMP see no unknown-pragma warnings.
#define MOODNET_OMP(...) _Pragma(#__VA_ARGS__)
#else
#define MOODNET_OMP_ENABLED 0
#define MOODNET_OMP(...)
#endif

namespace moodnet {

inline const char* version_string() { return "0.1.0"; }

// Every user-facing failure (bad shape, bad option, bad file) is a moodnet::Error whose message
// names the problem.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
[[noreturn]] inline void fail(const char* file, int line, Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  (void)file;
  (void)line;
  throw Error(os.str());
}
}  // namespace detail

inline int num_threads() {
#if MOODNET_OMP_ENABLED
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline void set_num_threads(int n) {
#if MOODNET_OMP_ENABLED
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace moodnet

// MOODNET_CHECK(cond, "message parts", ...) throws moodnet::Error with the streamed message.
#define MOODNET_CHECK(cond, ...)                                           \
  do {                                                                     \
    if (!(cond)) ::moodnet::detail::fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define MOODNET_FAIL(...) ::moodnet::detail::fail(__FILE__, __LINE__, __VA_ARGS__)
