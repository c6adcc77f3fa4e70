// Row-major SGEMM for the Cpu device. A cache-friendly loop nest the compiler vectorises, with
// OpenMP over rows of C; every C element is reduced in a fixed order, so results do not depend on
// the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "../../config.hpp"

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
  (void)parallel;  // only read by the OpenMP pragma
  if (tb) {
    // Make B row-major (K,N) so the inner loop streams contiguous rows of B and C.
    static thread_local std::vector<float> bt_buf;
    float* bt = detail::scratch(bt_buf, static_cast<size_t>(K * N));
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) bt[k * N + j] = B[j * ldb + k];
    B = bt;
    ldb = N;
  }
MOODNET_OMP(omp parallel for schedule(static) if (parallel && M * N * K > 32768))
for (int64_t i = 0; i < M; ++i) {
  float* __restrict c = C + i * ldc;
  if (beta == 0.0f)
    for (int64_t j = 0; j < N; ++j) c[j] = 0.0f;
  else if (beta != 1.0f)
    for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  for (int64_t k = 0; k < K; ++k) {
    const float a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
    const float* __restrict b = B + k * ldb;
    for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
  }
}
}

}  // namespace moodnet::cpu
