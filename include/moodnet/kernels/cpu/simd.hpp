// The few x86 SIMD operations moodnet's kernels use, as GCC vector types and builtins.
//
// <immintrin.h> is a quarter of everything <moodnet/moodnet.hpp> makes the compiler read (47,000
// lines, ~0.5 s per translation unit), for the two dozen intrinsics the kernels need. With GCC
// they are defined here straight on the builtins the intrinsics wrap, so every caller pays for
// these lines only; clang (used for fuzzing) gets the same names on top of <immintrin.h>.
// Each function carries the target it needs and is always inlined into the kernels, which are
// compiled per ISA with target attributes (no -march flag anywhere).
#pragma once

#include <cstdint>
#include <cstdlib>

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define MOODNET_SIMD_X86 1
#define MOODNET_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MOODNET_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#else
#define MOODNET_SIMD_X86 0
#endif

namespace moodnet::cpu {

// Starts fetching the cache line at p into L2 (_MM_HINT_T1); never faults. An asm statement on
// x86 because GCC 12 deletes some loops whose bodies are only __builtin_prefetch calls (it did
// so to conv.hpp's tile prefetch, leaving no instruction behind).
[[gnu::always_inline]] inline void prefetch_l2(const void* p) {
#if MOODNET_SIMD_X86
  asm volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 2);
#else
  (void)p;
#endif
}

// Whether the streaming kernels (stride-1 1x1 convs, depthwise) issue their own L2 prefetches.
// They paid on AMD Zen 4 (PERFORMANCE.md's host B: f_pw forward 0.80 -> 0.91 of oneDNN) and cost
// on Intel Emerald Rapids (host C: f_dw forward 50 -> 39 GF/s), whose hardware prefetchers keep
// up alone: on for AMD only. MOODNET_PREFETCH=1 or 0 (also on/off, true/false) overrides it,
// read once.
inline bool stream_prefetch() {
  static const bool on = [] {
    if (const char* e = std::getenv("MOODNET_PREFETCH"); e && *e)
      return !(e[0] == '0' || e[0] == 'f' || e[0] == 'F' || e[0] == 'n' || e[0] == 'N' ||
               ((e[0] == 'o' || e[0] == 'O') && (e[1] == 'f' || e[1] == 'F')));
#if MOODNET_SIMD_X86
    __builtin_cpu_init();
    return __builtin_cpu_is("amd") != 0;
#else
    return false;
#endif
  }();
  return on;
}

// Starts fetching every cache line of [p, p + floats) into L2.
inline void prefetch_l2_range(const float* p, int64_t floats) {
  constexpr int64_t line = 64 / sizeof(float);
  for (int64_t i = 0; i < floats; i += line) prefetch_l2(p + i);
}

}  // namespace moodnet::cpu

#if MOODNET_SIMD_X86

#if defined(__clang__)
#include <immintrin.h>
#endif

namespace moodnet::cpu {

#define MOODNET_SIMD_AVX2 [[gnu::always_inline]] inline __attribute__((target("avx2,fma")))
#define MOODNET_SIMD_AVX512 [[gnu::always_inline]] inline __attribute__((target("avx512f")))

// 16 floats (one zmm register), 8 floats / 8 ints (one ymm register), a 16-lane mask.
typedef float m512 __attribute__((vector_size(64), may_alias));
typedef float m256 __attribute__((vector_size(32), may_alias));
typedef float m512_unaligned __attribute__((vector_size(64), may_alias, aligned(1)));
typedef float m256_unaligned __attribute__((vector_size(32), may_alias, aligned(1)));
typedef long long m256i __attribute__((vector_size(32), may_alias));
typedef int int32x8 __attribute__((vector_size(32)));
typedef unsigned short mmask16;

// The mask of the first `lanes` of 16 (clamped to 0..16): a tile's columns that exist.
[[gnu::always_inline]] inline mmask16 first_lanes16(int64_t lanes) {
  lanes = lanes < 0 ? 0 : lanes > 16 ? 16 : lanes;
  return static_cast<mmask16>(lanes == 16 ? 0xFFFFu : (1u << lanes) - 1u);
}

// Prefetch a cache line for reading into all cache levels (_MM_HINT_T0).
[[gnu::always_inline]] inline void mm_prefetch_t0(const void* p) { __builtin_prefetch(p, 0, 3); }

// ---- AVX2 + FMA ----
MOODNET_SIMD_AVX2 m256 mm256_setzero_ps() { return m256{0, 0, 0, 0, 0, 0, 0, 0}; }
MOODNET_SIMD_AVX2 m256 mm256_set1_ps(float x) { return m256{x, x, x, x, x, x, x, x}; }
MOODNET_SIMD_AVX2 m256 mm256_broadcast_ss(const float* p) { return mm256_set1_ps(*p); }
MOODNET_SIMD_AVX2 m256 mm256_load_ps(const float* p) { return *reinterpret_cast<const m256*>(p); }
MOODNET_SIMD_AVX2 m256 mm256_loadu_ps(const float* p) {
  return *reinterpret_cast<const m256_unaligned*>(p);
}
MOODNET_SIMD_AVX2 void mm256_store_ps(float* p, m256 v) { *reinterpret_cast<m256*>(p) = v; }
MOODNET_SIMD_AVX2 void mm256_storeu_ps(float* p, m256 v) {
  *reinterpret_cast<m256_unaligned*>(p) = v;
}
MOODNET_SIMD_AVX2 m256i mm256_load_si256(const m256i* p) { return *p; }
MOODNET_SIMD_AVX2 m256 mm256_mul_ps(m256 a, m256 b) { return a * b; }
#if defined(__clang__)
MOODNET_SIMD_AVX2 m256 mm256_fmadd_ps(m256 a, m256 b, m256 c) { return _mm256_fmadd_ps(a, b, c); }
MOODNET_SIMD_AVX2 m256 mm256_maskload_ps(const float* p, m256i mask) {
  return _mm256_maskload_ps(p, mask);
}
#else
// a * b + c with one rounding (vfmadd).
MOODNET_SIMD_AVX2 m256 mm256_fmadd_ps(m256 a, m256 b, m256 c) {
  return __builtin_ia32_vfmaddps256(a, b, c);
}
// Lanes whose mask has the sign bit set are loaded, the others are 0 (vmaskmovps).
MOODNET_SIMD_AVX2 m256 mm256_maskload_ps(const float* p, m256i mask) {
  return __builtin_ia32_maskloadps256(reinterpret_cast<const m256*>(p),
                                      (int32x8)mask);  // same bits as 8 ints
}
#endif

// ---- AVX-512F ----
MOODNET_SIMD_AVX512 m512 mm512_setzero_ps() {
  return m512{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
}
MOODNET_SIMD_AVX512 m512 mm512_set1_ps(float x) {
  return m512{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}
MOODNET_SIMD_AVX512 m512 mm512_load_ps(const float* p) { return *reinterpret_cast<const m512*>(p); }
MOODNET_SIMD_AVX512 m512 mm512_loadu_ps(const float* p) {
  return *reinterpret_cast<const m512_unaligned*>(p);
}
MOODNET_SIMD_AVX512 m512 mm512_add_ps(m512 a, m512 b) { return a + b; }
MOODNET_SIMD_AVX512 m512 mm512_mul_ps(m512 a, m512 b) { return a * b; }
#if defined(__clang__)
MOODNET_SIMD_AVX512 m512 mm512_fmadd_ps(m512 a, m512 b, m512 c) { return _mm512_fmadd_ps(a, b, c); }
MOODNET_SIMD_AVX512 m512 mm512_maskz_loadu_ps(mmask16 m, const float* p) {
  return _mm512_maskz_loadu_ps(m, p);
}
MOODNET_SIMD_AVX512 void mm512_mask_storeu_ps(float* p, mmask16 m, m512 v) {
  _mm512_mask_storeu_ps(p, m, v);
}
MOODNET_SIMD_AVX512 m512 mm512_maskz_max_ps(mmask16 m, m512 a, m512 b) {
  return _mm512_maskz_max_ps(m, a, b);
}
MOODNET_SIMD_AVX512 m512 mm512_maskz_min_ps(mmask16 m, m512 a, m512 b) {
  return _mm512_maskz_min_ps(m, a, b);
}
#else
constexpr int simd_round_current = 4;  // _MM_FROUND_CUR_DIRECTION
// a * b + c with one rounding (vfmadd).
MOODNET_SIMD_AVX512 m512 mm512_fmadd_ps(m512 a, m512 b, m512 c) {
  return __builtin_ia32_vfmaddps512_mask(a, b, c, mmask16(0xffff), simd_round_current);
}
// Lanes of m are loaded (no fault on the others), the rest are 0.
MOODNET_SIMD_AVX512 m512 mm512_maskz_loadu_ps(mmask16 m, const float* p) {
  return __builtin_ia32_loadups512_mask(p, mm512_setzero_ps(), m);
}
// Only the lanes of m are written.
MOODNET_SIMD_AVX512 void mm512_mask_storeu_ps(float* p, mmask16 m, m512 v) {
  __builtin_ia32_storeups512_mask(p, v, m);
}
// vmaxps/vminps semantics: where either lane is NaN, or both are zero, the second operand wins.
MOODNET_SIMD_AVX512 m512 mm512_maskz_max_ps(mmask16 m, m512 a, m512 b) {
  return __builtin_ia32_maxps512_mask(a, b, mm512_setzero_ps(), m, simd_round_current);
}
MOODNET_SIMD_AVX512 m512 mm512_maskz_min_ps(mmask16 m, m512 a, m512 b) {
  return __builtin_ia32_minps512_mask(a, b, mm512_setzero_ps(), m, simd_round_current);
}
#endif

#undef MOODNET_SIMD_AVX2
#undef MOODNET_SIMD_AVX512

}  // namespace moodnet::cpu

#endif  // MOODNET_SIMD_X86
