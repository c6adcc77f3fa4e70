// Row-major SGEMM entry point for the Cpu device: the packed, ISA-dispatched sgemm (sgemm.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "../../config.hpp"
#include "sgemm.hpp"

namespace moodnet::cpu {

namespace detail {
// Thread-local scratch that only grows: no allocation in the steady state.
inline float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
}  // namespace detail

// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C. beta == 0 ignores C's contents.
// parallel = false runs on the calling thread (used inside outer parallel loops).
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                 bool parallel = true) {
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
}

}  // namespace moodnet::cpu
