// Packed row-major SGEMM for the Cpu device, BLIS style:
//   jc (NC columns of C) -> pc (KC of K) -> pack B panel (KC x NC, L3)
//     -> ic (MC rows) -> pack A block (MC x KC, L2) -> jr (NR) x ir (MR) register microkernel.
// Microkernels exist per ISA (AVX-512, AVX2+FMA, portable C++); the ISA is picked at run time
// with target attributes + cpuid, so no -march flag is needed by the library or its users.
// Threads split the (jr, ir) tiles of each block; K is never split, so every C element is reduced
// in the same order whatever the thread count (bitwise-identical results with 1 or N threads).
// Built with MOODNET_WITH_EIGEN (CMake option, on by default off x86), the generic ISA hands
// plain GEMMs to Eigen: its SSE2 kernels beat the portable one (1.2-1.3x, bench/
// bench_gemm_generic.cpp), and it has NEON kernels for ARM, where the portable one is all we have.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <utility>

#include "../../config.hpp"
#include "simd.hpp"

#if defined(MOODNET_WITH_EIGEN) && MOODNET_WITH_EIGEN
#include <Eigen/Core>
#define MOODNET_SGEMM_EIGEN 1
#else
#define MOODNET_SGEMM_EIGEN 0
#endif

#define MOODNET_SGEMM_X86 MOODNET_SIMD_X86

#if defined(__GNUC__) || defined(__clang__)
// Microkernel accumulators must stay in registers: fully unroll the loops over them.
#define MOODNET_UNROLL _Pragma("GCC unroll 16")
#else
#define MOODNET_UNROLL
#endif

namespace moodnet::cpu {

enum class Isa { generic, avx2, avx512 };

inline const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "generic";
  }
}

namespace detail {

inline bool isa_supported(Isa isa) {
#if MOODNET_SGEMM_X86
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default:
      return true;
  }
#else
  return isa == Isa::generic;
#endif
}

inline Isa best_isa() {
  static const Isa best = isa_supported(Isa::avx512) ? Isa::avx512
                          : isa_supported(Isa::avx2) ? Isa::avx2
                                                     : Isa::generic;
  return best;
}

// -1: no override; otherwise the forced Isa's value.
inline std::atomic<int>& forced_isa() {
  static std::atomic<int> forced{-1};
  return forced;
}

// 64-byte aligned scratch that only grows: no allocation in the steady state.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  float* get(size_t n) {
    if (n > size_) {
      release();
      data_ = static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64)));
      size_ = n;
    }
    return data_;
  }

 private:
  void release() {
    if (data_) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    size_ = 0;
  }
  float* data_ = nullptr;
  size_t size_ = 0;
};

// Both panels belong to the calling thread; a parallel call shares them with its team.
inline PackBuffer& pack_a_buffer() {
  static thread_local PackBuffer buf;
  return buf;
}
inline PackBuffer& pack_b_buffer() {
  static thread_local PackBuffer buf;
  return buf;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Below ~64^3 multiply-adds a parallel region costs more than it saves.
constexpr int64_t kMinParallelGemmWork = 64 * 64 * 64;

}  // namespace detail

// The ISA sgemm uses now: the forced one if any, else the best this CPU supports.
inline Isa active_isa() {
  const int f = detail::forced_isa().load(std::memory_order_relaxed);
  return f >= 0 ? static_cast<Isa>(f) : detail::best_isa();
}

// What runs a plain sgemm now: the active ISA's microkernels, or "eigen" when the generic ISA
// hands GEMMs to Eigen (MOODNET_WITH_EIGEN). Convolutions keep their own tiles either way,
// except strided backward-data, which is a GEMM.
inline const char* gemm_backend() {
  return MOODNET_SGEMM_EIGEN && active_isa() == Isa::generic ? "eigen" : to_string(active_isa());
}

// Forces a microkernel ISA (tests run every variant); std::nullopt restores auto-detection.
inline void force_isa(std::optional<Isa> isa) {
  if (isa && !detail::isa_supported(*isa))
    MOODNET_FAIL("force_isa: this CPU does not support ", to_string(*isa));
  detail::forced_isa().store(isa ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Microkernels. All share one contract:
//   a: packed A strip, kc x MR (a[k*MR + i]); b: packed B strip, kc x NR (b[k*NR + j]), 64-byte
//   aligned; both zero-padded. c: the (m <= MR) x (n <= NR) tile of C, row stride ldc.
//   c = alpha * a*b + beta * c, as fma(beta, c, alpha*acc); beta == 0 never reads c.
// Only the valid m x n part of c is touched.
// ---------------------------------------------------------------------------------------------

// Portable kernel: small enough for 16 SSE registers, vectorised by the compiler.
inline void gemm_micro_generic_4x8(int64_t kc, const float* __restrict a, const float* __restrict b,
                                   float* c, int64_t ldc, int m, int n, float alpha, float beta) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const float t = alpha * acc[i][j];
      float& dst = c[i * ldc + j];
      dst = beta == 0.0f ? t : std::fma(beta, dst, t);
    }
}

#if MOODNET_SGEMM_X86

// 6x16: 12 ymm accumulators + 2 for B + 1 broadcast fit in 16 ymm registers.
MOODNET_TARGET_AVX2 inline void gemm_micro_avx2_6x16(int64_t kc, const float* __restrict a,
                                                     const float* __restrict b, float* c,
                                                     int64_t ldc, int m, int n, float alpha,
                                                     float beta) {
  constexpr int MR = 6, NR = 16;
  m256 acc0[MR], acc1[MR];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    acc0[i] = acc1[i] = mm256_setzero_ps();
    mm_prefetch_t0(c + i * ldc);
    mm_prefetch_t0(c + i * ldc + NR - 1);
  }
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const m256 b0 = mm256_load_ps(b), b1 = mm256_load_ps(b + 8);
    MOODNET_UNROLL
    for (int i = 0; i < MR; ++i) {
      const m256 ai = mm256_broadcast_ss(a + i);
      acc0[i] = mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = mm256_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  const m256 va = mm256_set1_ps(alpha), vb = mm256_set1_ps(beta);
  if (m == MR && n == NR) {
    MOODNET_UNROLL
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * ldc;
      m256 t0 = mm256_mul_ps(va, acc0[i]), t1 = mm256_mul_ps(va, acc1[i]);
      if (beta != 0.0f) {
        t0 = mm256_fmadd_ps(vb, mm256_loadu_ps(ci), t0);
        t1 = mm256_fmadd_ps(vb, mm256_loadu_ps(ci + 8), t1);
      }
      mm256_storeu_ps(ci, t0);
      mm256_storeu_ps(ci + 8, t1);
    }
    return;
  }
  // Edge tile: same arithmetic as above, through a local tile, touching only the valid part.
  alignas(32) float t[MR * NR];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    mm256_store_ps(t + i * NR, mm256_mul_ps(va, acc0[i]));
    mm256_store_ps(t + i * NR + 8, mm256_mul_ps(va, acc1[i]));
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float& dst = c[i * ldc + j];
      dst = beta == 0.0f ? t[i * NR + j] : std::fma(beta, dst, t[i * NR + j]);
    }
}

// 14x32: 28 zmm accumulators + 2 for B + 1 broadcast of the 32 zmm registers; per k, 28 FMAs
// against 2 vector loads and 14 broadcasts keeps both FMA pipes busy.
MOODNET_TARGET_AVX512 inline void gemm_micro_avx512_14x32(int64_t kc, const float* __restrict a,
                                                          const float* __restrict b, float* c,
                                                          int64_t ldc, int m, int n, float alpha,
                                                          float beta) {
  constexpr int MR = 14, NR = 32;
  m512 acc0[MR], acc1[MR];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    acc0[i] = acc1[i] = mm512_setzero_ps();
    // Fetch the C tile while the k loop runs (prefetches never fault, even past the edge).
    mm_prefetch_t0(c + i * ldc);
    mm_prefetch_t0(c + i * ldc + NR - 1);
  }
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const m512 b0 = mm512_load_ps(b), b1 = mm512_load_ps(b + 16);
    MOODNET_UNROLL
    for (int i = 0; i < MR; ++i) {
      const m512 ai = mm512_set1_ps(a[i]);
      acc0[i] = mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  // Masked loads/stores cover the column edge (masked-off lanes are never accessed).
  const mmask16 k0 = n >= 16 ? mmask16(0xFFFF) : mmask16((1u << n) - 1u);
  const mmask16 k1 = n >= 32 ? mmask16(0xFFFF) : n > 16 ? mmask16((1u << (n - 16)) - 1u) : 0;
  const m512 va = mm512_set1_ps(alpha), vb = mm512_set1_ps(beta);
  const int rows = m < MR ? m : MR;
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
    m512 t0 = mm512_mul_ps(va, acc0[i]), t1 = mm512_mul_ps(va, acc1[i]);
    if (beta != 0.0f) {
      t0 = mm512_fmadd_ps(vb, mm512_maskz_loadu_ps(k0, ci), t0);
      t1 = mm512_fmadd_ps(vb, mm512_maskz_loadu_ps(k1, ci + 16), t1);
    }
    mm512_mask_storeu_ps(ci, k0, t0);
    mm512_mask_storeu_ps(ci + 16, k1, t1);
  }
}

// ---------------------------------------------------------------------------------------------
// Packing by 16 x 16 in-register transposes. Packing the rows of A (or the columns of a
// transposed B) into k-major strips is a transpose; element by element it cost 15 % of a 1024^3
// GEMM on host C (1.3 ms of 15), this way a fifth of that.
// ---------------------------------------------------------------------------------------------

#if MOODNET_SGEMM_X86 && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)  // GCC >= 12, clang
#define MOODNET_SGEMM_TRANSPOSE_PACK 1
#endif
#endif
#ifndef MOODNET_SGEMM_TRANSPOSE_PACK
#define MOODNET_SGEMM_TRANSPOSE_PACK 0
#endif

#if MOODNET_SGEMM_TRANSPOSE_PACK

namespace detail {

// One butterfly of the 16 x 16 transpose: rows r and r + D swap their off-diagonal D-lane blocks
// (lanes j with bit D set in row r <-> lanes j - D of row r + D). Constant shuffles: vpermt2ps.
template <int D, bool Upper, size_t... J>
[[gnu::always_inline]] inline MOODNET_TARGET_AVX512 m512
transpose_butterfly(m512 lo, m512 hi, std::index_sequence<J...>) {
  if constexpr (Upper)
    return __builtin_shufflevector(lo, hi, ((J & D) ? 16 + J : J + D)...);
  else
    return __builtin_shufflevector(lo, hi, ((J & D) ? 16 + J - D : J)...);
}

template <int D>
[[gnu::always_inline]] inline MOODNET_TARGET_AVX512 void transpose_stage(m512* r) {
  MOODNET_UNROLL
  for (int i = 0; i < 16; ++i)
    if (!(i & D)) {
      const m512 a = r[i], b = r[i + D];
      r[i] = transpose_butterfly<D, false>(a, b, std::make_index_sequence<16>{});
      r[i + D] = transpose_butterfly<D, true>(a, b, std::make_index_sequence<16>{});
    }
}

// src: rows 0 .. rows (<= 16) of kc floats, row stride ld -> dst[k*dst_ld + i] for the lanes
// i of `lanes`; rows .. 16 are packed as zeros. Reads only the rows x kc floats, writes only
// the lanes of `lanes`.
MOODNET_TARGET_AVX512 inline void pack_transposed_avx512(const float* src, int64_t ld, int64_t rows,
                                                         int64_t kc, float* dst, int64_t dst_ld,
                                                         mmask16 lanes) {
  for (int64_t k0 = 0; k0 < kc; k0 += 16) {
    const int64_t kn = std::min<int64_t>(16, kc - k0);
    const mmask16 in = first_lanes16(kn);
    m512 r[16];
    MOODNET_UNROLL
    for (int i = 0; i < 16; ++i)
      r[i] = i < rows ? mm512_maskz_loadu_ps(in, src + i * ld + k0) : mm512_setzero_ps();
    transpose_stage<1>(r);
    transpose_stage<2>(r);
    transpose_stage<4>(r);
    transpose_stage<8>(r);
    float* d = dst + k0 * dst_ld;
    MOODNET_UNROLL
    for (int k = 0; k < 16; ++k)
      if (k < kn) mm512_mask_storeu_ps(d + k * dst_ld, lanes, r[k]);
  }
}

}  // namespace detail

#endif  // MOODNET_SGEMM_TRANSPOSE_PACK

#endif  // MOODNET_SGEMM_X86

namespace detail {

using MicroKernel = void (*)(int64_t, const float*, const float*, float*, int64_t, int, int, float,
                             float);

// Tile and cache-block sizes per ISA. The MC x KC A block and the current KC x NR B strip stay
// in L2 (1 MB on the target Zen); the KC x NC B panel lives in L3. A long KC means each C tile is
// loaded and stored once per KC block only (measured on Zen 5: KC 1024 beats 384 by ~10 %).
struct Blocking {
  int64_t MR, NR, KC, MC, NC;
  MicroKernel micro;
  bool transpose_pack = false;  // pack transposes with pack_transposed_avx512
};

inline Blocking blocking_for(Isa isa) {
  switch (isa) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      return {
          14, 32, 1024, 14 * 10, 2048, &gemm_micro_avx512_14x32, MOODNET_SGEMM_TRANSPOSE_PACK != 0};
    case Isa::avx2:
      return {6, 16, 512, 6 * 40, 2048, &gemm_micro_avx2_6x16};
#endif
    default:
      return {4, 8, 256, 4 * 32, 2048, &gemm_micro_generic_4x8};
  }
}

// op(A)(i0 .. i0+m, p0 .. p0+kc) -> dst[k*MR + i], rows m .. MR zero.
inline void pack_a_strip(bool ta, const float* A, int64_t lda, int64_t i0, int64_t m, int64_t p0,
                         int64_t kc, int64_t MR, float* __restrict dst,
                         bool transpose_pack = false) {
  if (ta) {  // op(A)(i, k) = A[k*lda + i]: each k is a contiguous run of m values
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (p0 + k) * lda + i0;
      float* d = dst + k * MR;
      for (int64_t i = 0; i < m; ++i) d[i] = src[i];
      for (int64_t i = m; i < MR; ++i) d[i] = 0.0f;
    }
    return;
  }
#if MOODNET_SGEMM_TRANSPOSE_PACK
  if (transpose_pack && MR <= 16)
    return pack_transposed_avx512(A + i0 * lda + p0, lda, m, kc, dst, MR, first_lanes16(MR));
#else
  (void)transpose_pack;
#endif
  for (int64_t i = 0; i < m; ++i) {
    const float* src = A + (i0 + i) * lda + p0;
    for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
  }
  for (int64_t i = m; i < MR; ++i)
    for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = 0.0f;
}

// op(B)(p0 .. p0+kc, j0 .. j0+n) -> dst[k*NR + j], columns n .. NR zero.
inline void pack_b_strip(bool tb, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                         int64_t n, int64_t NR, float* __restrict dst,
                         bool transpose_pack = false) {
  if (!tb) {  // rows of B are contiguous
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + (p0 + k) * ldb + j0;
      float* d = dst + k * NR;
      for (int64_t j = 0; j < n; ++j) d[j] = src[j];
      for (int64_t j = n; j < NR; ++j) d[j] = 0.0f;
    }
    return;
  }
#if MOODNET_SGEMM_TRANSPOSE_PACK
  if (transpose_pack && NR % 16 == 0) {  // 16 columns of op(B) (rows of B) at a time
    for (int64_t j = 0; j < NR; j += 16) {
      const int64_t rows = std::clamp<int64_t>(n - j, 0, 16);
      pack_transposed_avx512(rows > 0 ? B + (j0 + j) * ldb + p0 : B, ldb, rows, kc, dst + j, NR,
                             mmask16(0xFFFF));
    }
    return;
  }
#else
  (void)transpose_pack;
#endif
  for (int64_t j = 0; j < n; ++j) {  // op(B)(k, j) = B[j*ldb + k]
    const float* src = B + (j0 + j) * ldb + p0;
    for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k];
  }
  for (int64_t j = n; j < NR; ++j)
    for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.0f;
}

// C = beta * C (K == 0 or alpha == 0); beta == 0 writes zeros without reading C.
inline void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f)
      std::fill(c, c + N, 0.0f);
    else if (beta != 1.0f)
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

#if MOODNET_SGEMM_EIGEN
// The generic ISA's GEMM through Eigen. C is cut into fixed 128 x 256 blocks, each one
// single-threaded Eigen product over the whole K (never Eigen::setNbThreads: it is global): the
// blocks (and so Eigen's own K blocking, which depends on the block's size) never depend on the
// thread count, which keeps results bitwise identical with 1 or N threads. Eigen allocates its
// packing buffers per call.
inline void sgemm_eigen(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                        float* C, int64_t ldc, bool parallel) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  constexpr int64_t kBlockM = 128, kBlockN = 256;  // 128 rows: two threads share a 256^2 C
  const int64_t mblocks = ceil_div(M, kBlockM), nblocks = ceil_div(N, kBlockN);
  const bool par = parallel && M * N * K >= kMinParallelGemmWork;
  (void)par;  // only read by the OpenMP pragma
  MOODNET_OMP(omp parallel if (par)) {
#if MOODNET_OMP_ENABLED
    // Eigen forks its own threads when it runs in a region of one thread and may use more: that
    // would change its K blocking with the thread count. This task's thread count is private to
    // it (an OpenMP data-environment ICV), so setting it here leaves the caller's unchanged.
    omp_set_num_threads(1);
#endif
    MOODNET_OMP(omp for collapse(2) schedule(static))
    for (int64_t bi = 0; bi < mblocks; ++bi)
      for (int64_t bj = 0; bj < nblocks; ++bj) {
        const int64_t i0 = bi * kBlockM, j0 = bj * kBlockN;
        const int64_t m = std::min(kBlockM, M - i0), n = std::min(kBlockN, N - j0);
        Map c(C + i0 * ldc + j0, m, n, Eigen::OuterStride<>(ldc));
        // op(A) rows i0.. and op(B) columns j0.. as Eigen expressions (transposed maps when
        // stored transposed).
        auto product = [&](const auto& a, const auto& b) {
          if (beta == 0.0f) {
            c.noalias() = alpha * (a * b);  // beta == 0 never reads C (it may hold NaN)
          } else {
            if (beta != 1.0f) c *= beta;
            c.noalias() += alpha * (a * b);
          }
        };
        auto with_b = [&](const auto& a) {
          if (tb)  // B stored N x K
            product(a, ConstMap(B + j0 * ldb, n, K, Eigen::OuterStride<>(ldb)).transpose());
          else  // B stored K x N
            product(a, ConstMap(B + j0, K, n, Eigen::OuterStride<>(ldb)));
        };
        if (ta)  // A stored K x M
          with_b(ConstMap(A + i0, K, m, Eigen::OuterStride<>(lda)).transpose());
        else  // A stored M x K
          with_b(ConstMap(A + i0 * lda, m, K, Eigen::OuterStride<>(lda)));
      }
  }
}
#endif

// sgemm's own packed path with the active ISA's microkernels (the benchmarks time it against
// the Eigen fallback); the caller has handled empty shapes and alpha == 0.
inline void sgemm_packed(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                         float* C, int64_t ldc, bool parallel) {
  const Blocking bk = blocking_for(active_isa());
  const int64_t MR = bk.MR, NR = bk.NR;
  const int64_t KC = std::min(bk.KC, K);
  const int64_t MC = std::min(bk.MC, ceil_div(M, MR) * MR);
  const int64_t NC = std::min(bk.NC, ceil_div(N, NR) * NR);
  float* const bpack = pack_b_buffer().get(static_cast<size_t>(KC * NC));
  float* const apack = pack_a_buffer().get(static_cast<size_t>(MC * KC));
  const MicroKernel micro = bk.micro;
  const bool par = parallel && M * N * K >= kMinParallelGemmWork;
  (void)par;  // only read by the OpenMP pragma

  MOODNET_OMP(omp parallel if (par)) {
    for (int64_t jc = 0; jc < N; jc += NC) {
      const int64_t nc = std::min(NC, N - jc);
      const int64_t nstrips = ceil_div(nc, NR);
      for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        // Later K blocks accumulate onto the earlier ones.
        const float beta_pc = pc == 0 ? beta : 1.0f;
        MOODNET_OMP(omp for schedule(static))
        for (int64_t s = 0; s < nstrips; ++s)
          pack_b_strip(tb, B, ldb, pc, kc, jc + s * NR, std::min(NR, nc - s * NR), NR,
                       bpack + s * NR * kc, bk.transpose_pack);
        for (int64_t ic = 0; ic < M; ic += MC) {
          const int64_t mc = std::min(MC, M - ic);
          const int64_t mstrips = ceil_div(mc, MR);
          MOODNET_OMP(omp for schedule(static))
          for (int64_t s = 0; s < mstrips; ++s)
            pack_a_strip(ta, A, lda, ic + s * MR, std::min(MR, mc - s * MR), pc, kc, MR,
                         apack + s * MR * kc, bk.transpose_pack);
          // jr-major order: consecutive tiles of a thread reuse the same B strip from L1.
          MOODNET_OMP(omp for collapse(2) schedule(static))
          for (int64_t jr = 0; jr < nstrips; ++jr)
            for (int64_t ir = 0; ir < mstrips; ++ir) {
              const int m = static_cast<int>(std::min(MR, mc - ir * MR));
              const int n = static_cast<int>(std::min(NR, nc - jr * NR));
              micro(kc, apack + ir * MR * kc, bpack + jr * NR * kc,
                    C + (ic + ir * MR) * ldc + jc + jr * NR, ldc, m, n, alpha, beta_pc);
            }
        }
      }
    }
  }
}

}  // namespace detail

// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major; beta == 0 ignores C's contents.
// op(A) is A (lda >= K) or A^T stored K x M (lda >= M); likewise op(B) with ldb.
// parallel = false runs on the calling thread (used inside outer parallel loops).
inline void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                  bool parallel = true) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    detail::scale_c(M, N, beta, C, ldc);
    return;
  }
#if MOODNET_SGEMM_EIGEN
  if (active_isa() == Isa::generic)
    return detail::sgemm_eigen(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
#endif
  detail::sgemm_packed(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
}

}  // namespace moodnet::cpu
