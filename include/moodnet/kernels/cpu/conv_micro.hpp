// Register-tile microkernels for convolutions that read A straight from the image (no im2col
// buffer, no A packing: packing an im2col panel costs more than the FMAs when F is small).
//
// One contract covers forward, backward-data (as a forward conv) and backward-weights:
//   acc(i, j) = sum_{q < nq} sum_{k < nk} A(q, i, k) * B(q, k, j),   i < MR, j < NR
//   A(q, i, k) = a[q*a_q + i*a_i + k]        (kUnitK: k contiguous; forward, rows = pixels)
//   A(q, i, k) = a[q*a_q + k*a_k + i]        (!kUnitK: i contiguous; backward-weights, rows = taps)
//   B(q, k, j) = b[q*b_q + k*b_k + j]        (packed weights, or dy rows)
//   c(i, j) = (accumulate ? c(i, j) : 0) + acc(i, j) [+ bias(j)] [relu/relu6], i < m, j < n.
// All MR rows of A must be readable (callers pad); columns j >= n of B are never read.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "../contract.hpp"
#include "sgemm.hpp"

namespace moodnet::cpu {

struct ConvMicroArgs {
  int64_t nq = 1, nk = 0;
  const float* a = nullptr;
  int64_t a_q = 0, a_i = 0, a_k = 0;
  int64_t a_r = 0;  // tiles that cover several kernel rows (ConvTile::kernel_rows): their stride
  const float* b = nullptr;
  int64_t b_q = 0, b_k = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  int m = 0, n = 0;
  bool accumulate = false;
  // c is a tensor written in order, tile after tile (not a small buffer written over again): a
  // forward tile may fetch the output ahead.
  bool streamed_output = false;
  // Backward-weights: how many k steps ahead the B rows (dy, streamed from memory) are fetched
  // into L2; 0: not at all. Only the narrow-input 3x3 tiles (conv_weights_micro_avx512_3xr).
  int64_t b_prefetch_l2 = 0;
  // The cache lines [l2_ahead[r], + l2_ahead_lines[r] lines) fetched into L2, one of each range
  // per k step, the rest after the loop: forward tiles (kUnitK; conv_forward_direct_row's 1x1
  // tile four ahead) and the narrow-input 3x3 weight-gradient tiles (the next rows of
  // conv_backward_params_max_pool, over all nq * nk steps).
  static constexpr int kAheadRanges = 2;
  const float* l2_ahead[kAheadRanges] = {nullptr, nullptr};
  int64_t l2_ahead_lines[kAheadRanges] = {0, 0};
  const float* bias = nullptr;          // bias of column 0 of this tile, or null
  Activation act = Activation::linear;  // linear, relu or relu6
};

namespace detail {

// Step k of a forward tile's k loop fetches line k of each ConvMicroArgs::l2_ahead range, so a
// tile's prefetches run beside its FMAs; prefetch_ahead_rest issues what the loop did not reach.
[[gnu::always_inline]] inline void prefetch_ahead_step(const ConvMicroArgs& p, int64_t k) {
  for (int r = 0; r < ConvMicroArgs::kAheadRanges; ++r)
    if (k < p.l2_ahead_lines[r]) prefetch_l2(p.l2_ahead[r] + 16 * k);
}
inline void prefetch_ahead_rest(const ConvMicroArgs& p, int64_t from) {
  for (int r = 0; r < ConvMicroArgs::kAheadRanges; ++r)
    for (int64_t k = from; k < p.l2_ahead_lines[r]; ++k) prefetch_l2(p.l2_ahead[r] + 16 * k);
}

inline float epilogue_scalar(float v, const ConvMicroArgs& p, int j) {
  if (p.bias) v += p.bias[j];
  if (p.act == Activation::relu) v = std::max(v, 0.0f);
  if (p.act == Activation::relu6) v = std::min(std::max(v, 0.0f), 6.0f);
  return v;
}

}  // namespace detail

// Portable kernel: 4 x 8 tile.
template <bool kUnitK>
inline void conv_micro_generic_4x8(const ConvMicroArgs& p) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (int64_t q = 0; q < p.nq; ++q) {
    const float* a = p.a + q * p.a_q;
    const float* b = p.b + q * p.b_q;
    for (int64_t k = 0; k < p.nk; ++k) {
      if (kUnitK && q == 0) detail::prefetch_ahead_step(p, k);
      float bv[NR] = {};
      for (int j = 0; j < p.n; ++j) bv[j] = b[k * p.b_k + j];
      for (int i = 0; i < MR; ++i) {
        const float av = kUnitK ? a[i * p.a_i + k] : a[k * p.a_k + i];
        for (int j = 0; j < NR; ++j) acc[i][j] += av * bv[j];
      }
    }
  }
  if (kUnitK) detail::prefetch_ahead_rest(p, p.nq > 0 ? p.nk : 0);
  for (int i = 0; i < p.m; ++i)
    for (int j = 0; j < p.n; ++j) {
      float& dst = p.c[i * p.ldc + j];
      dst = detail::epilogue_scalar((p.accumulate ? dst : 0.0f) + acc[i][j], p, j);
    }
}

#if MOODNET_SGEMM_X86

// AVX2: MR x (8*NV), NV in {1, 2}.
template <int MR, int NV, bool kUnitK, int kAI = 0>
MOODNET_TARGET_AVX2 inline void conv_micro_avx2(const ConvMicroArgs& p) {
  const int64_t a_i = kAI > 0 ? kAI : p.a_i;
  m256 acc[MR][NV];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    MOODNET_UNROLL
    for (int v = 0; v < NV; ++v) acc[i][v] = mm256_setzero_ps();
  }
  // Lanes of B at or beyond n are masked off (never read).
  alignas(32) int mask_bits[8 * NV];
  for (int j = 0; j < 8 * NV; ++j) mask_bits[j] = j < p.n ? -1 : 0;
  m256i mask[NV];
  MOODNET_UNROLL
  for (int v = 0; v < NV; ++v)
    mask[v] = mm256_load_si256(reinterpret_cast<const m256i*>(mask_bits + 8 * v));
  const bool full = p.n == 8 * NV;
  for (int64_t q = 0; q < p.nq; ++q) {
    const float* a = p.a + q * p.a_q;
    const float* b = p.b + q * p.b_q;
    for (int64_t k = 0; k < p.nk; ++k, b += p.b_k) {
      if (kUnitK && q == 0) detail::prefetch_ahead_step(p, k);
      m256 bv[NV];
      MOODNET_UNROLL
      for (int v = 0; v < NV; ++v)
        bv[v] = full ? mm256_loadu_ps(b + 8 * v) : mm256_maskload_ps(b + 8 * v, mask[v]);
      MOODNET_UNROLL
      for (int i = 0; i < MR; ++i) {
        const m256 ai = mm256_broadcast_ss(kUnitK ? a + i * a_i + k : a + k * p.a_k + i);
        MOODNET_UNROLL
        for (int v = 0; v < NV; ++v) acc[i][v] = mm256_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
  }
  if (kUnitK) detail::prefetch_ahead_rest(p, p.nq > 0 ? p.nk : 0);
  alignas(32) float t[MR * 8 * NV];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    MOODNET_UNROLL
    for (int v = 0; v < NV; ++v) mm256_store_ps(t + i * 8 * NV + 8 * v, acc[i][v]);
  }
  for (int i = 0; i < p.m; ++i)
    for (int j = 0; j < p.n; ++j) {
      float& dst = p.c[i * p.ldc + j];
      dst = detail::epilogue_scalar((p.accumulate ? dst : 0.0f) + t[i * 8 * NV + j], p, j);
    }
}

namespace detail {
// c rows i < m, columns under mask: (accumulate ? c : 0) + acc [+ bias] [relu/relu6].
template <int MR, int NV>
[[gnu::always_inline]] MOODNET_TARGET_AVX512 inline void conv_micro_avx512_store(
    const m512 (&acc)[MR][NV], const mmask16 (&mask)[NV], const ConvMicroArgs& p) {
  const m512 zero = mm512_setzero_ps(), six = mm512_set1_ps(6.0f);
  m512 bias[NV];
  MOODNET_UNROLL
  for (int v = 0; v < NV; ++v)
    bias[v] = p.bias ? mm512_maskz_loadu_ps(mask[v], p.bias + 16 * v) : zero;
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    if (i >= p.m) break;
    float* ci = p.c + i * p.ldc;
    MOODNET_UNROLL
    for (int v = 0; v < NV; ++v) {
      m512 r = acc[i][v];
      if (p.accumulate) r = mm512_add_ps(mm512_maskz_loadu_ps(mask[v], ci + 16 * v), r);
      r = mm512_add_ps(r, bias[v]);
      if (p.act == Activation::relu)
        r = mm512_maskz_max_ps(0xFFFF, r, zero);  // maskz: GCC 12 warns on the unmasked max
      if (p.act == Activation::relu6)
        r = mm512_maskz_min_ps(0xFFFF, mm512_maskz_max_ps(0xFFFF, r, zero), six);
      mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
    }
  }
}

// The AVX-512 tile below; kFullN: p.n == 16 * NV, so B rows load unmasked (a zero-masked load
// cost the 6 x 64 tile 13 % in L1 on host C, Intel: 141 -> 161 GF/s at k = 64).
template <int MR, int NV, bool kUnitK, int kAI, bool kFullN>
MOODNET_TARGET_AVX512 inline void conv_micro_avx512_impl(const ConvMicroArgs& p) {
  // kAI > 0: the row stride a_i known at compile time (C = 16 ... 128 at stride 1), so the MR
  // broadcasts of a k step are fixed offsets from one pointer.
  const int64_t a_i = kAI > 0 ? kAI : p.a_i;
  m512 acc[MR][NV];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) {
    MOODNET_UNROLL
    for (int v = 0; v < NV; ++v) acc[i][v] = mm512_setzero_ps();
  }
  // Start fetching the output tile for writing while the k loop runs.
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i)
    if (i < p.m) __builtin_prefetch(p.c + i * p.ldc, 1, 3);
  mmask16 mask[NV];
  MOODNET_UNROLL
  for (int v = 0; v < NV; ++v) mask[v] = first_lanes16(p.n - 16 * v);
  for (int64_t q = 0; q < p.nq; ++q) {
    const float* a = p.a + q * p.a_q;
    const float* b = p.b + q * p.b_q;
    for (int64_t k = 0; k < p.nk; ++k, b += p.b_k) {
      m512 bv[NV];
      MOODNET_UNROLL
      for (int v = 0; v < NV; ++v)
        bv[v] = kFullN ? mm512_loadu_ps(b + 16 * v) : mm512_maskz_loadu_ps(mask[v], b + 16 * v);
      // Backward-weights streams dy rows from memory: fetch a few steps ahead.
      if (!kUnitK) mm_prefetch_t0(b + 8 * p.b_k);
      if (kUnitK && q == 0) prefetch_ahead_step(p, k);
      MOODNET_UNROLL
      for (int i = 0; i < MR; ++i) {
        const m512 ai = mm512_set1_ps(kUnitK ? a[i * a_i + k] : a[k * p.a_k + i]);
        MOODNET_UNROLL
        for (int v = 0; v < NV; ++v) acc[i][v] = mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
  }
  if (kUnitK) prefetch_ahead_rest(p, p.nq > 0 ? p.nk : 0);
  conv_micro_avx512_store<MR, NV>(acc, mask, p);
}

}  // namespace detail

// AVX-512: MR x (16*NV), NV in {1, 2, 4}; 14 x 32 uses 28 of the 32 zmm registers.
template <int MR, int NV, bool kUnitK, int kAI = 0>
MOODNET_TARGET_AVX512 inline void conv_micro_avx512(const ConvMicroArgs& p) {
  if (p.n == 16 * NV)
    detail::conv_micro_avx512_impl<MR, NV, kUnitK, kAI, true>(p);
  else
    detail::conv_micro_avx512_impl<MR, NV, kUnitK, kAI, false>(p);
}

// Forward of a 3x3 stride-1 conv over CH input channels (CH = 3: the RGB first layers, CH = 1:
// grayscale ones), MR pixels x 16 filters. There A(q, i, k) = a[q * a_q + CH * i + k] for
// k < 3 * CH: input column j (CH floats) is tap kx = j - i of pixel i, so one broadcast of it feeds
// the FMAs of pixels j, j - 1 and j - 2 with the weights of taps 0, 1, 2 held in registers: MR + 5
// loads per 3 * MR FMAs, where the generic tile loads once per FMA (with 14 broadcasts per 14 FMAs
// the load ports, not the FMA units, bound it). Each accumulator sums its taps in (kernel row,
// channel, kx) order.
namespace detail {
template <int MR, int CH, bool kFullN>
MOODNET_TARGET_AVX512 inline void conv_micro_avx512_3x3_impl(const ConvMicroArgs& p) {
  m512 acc[MR][1];
  MOODNET_UNROLL
  for (int i = 0; i < MR; ++i) acc[i][0] = mm512_setzero_ps();
  if (p.streamed_output) {
    // The output rows four tiles ahead (further along the image row, or the next one) into
    // L2, so their ownership requests are under way before the stores; not this tile's into L1,
    // which stalled on the fill buffers. Shapes a and d against oneDNN on host C, 3 alternated
    // runs: 1 thread a 0.87-0.90 -> 0.91-0.96, d 0.83-0.87 -> 0.94-0.97; 2 threads a 0.91-0.94
    // -> 0.97-0.98, d 0.80-0.86 -> 0.86-0.88. (fer1, one channel, did worse: 0.82-0.91 ->
    // 0.77-0.89; predict's fused conv + pool, which writes a two-row buffer over again, lost
    // 5-15 % with it.) On AMD Zen 5 (host D) fer1 gained: 1 thread 1.02-1.06 -> 1.22-1.32, 2
    // threads 0.77-0.85 -> 0.88-1.18; so one-channel layers fetch ahead on AMD only (the caller
    // sets streamed_output). The address may lie past the output; a prefetch never faults.
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(p.c) + 4 * MR * p.ldc * sizeof(float);
    MOODNET_UNROLL
    for (int i = 0; i < MR; ++i)
      __builtin_prefetch(reinterpret_cast<const void*>(ahead + i * p.ldc * sizeof(float)), 0, 2);
  } else {
    MOODNET_UNROLL
    for (int i = 0; i < MR; ++i)
      if (i < p.m) __builtin_prefetch(p.c + i * p.ldc, 1, 3);
  }
  const mmask16 mask[1] = {first_lanes16(p.n)};
  for (int64_t q = 0; q < p.nq; ++q) {
    const float* a = p.a + q * p.a_q;
    const float* b = p.b + q * p.b_q;
    MOODNET_UNROLL
    for (int c = 0; c < CH; ++c) {
      m512 w[3];
      MOODNET_UNROLL
      for (int kx = 0; kx < 3; ++kx) {
        const float* bk = b + (kx * CH + c) * p.b_k;
        w[kx] = kFullN ? mm512_loadu_ps(bk) : mm512_maskz_loadu_ps(mask[0], bk);
      }
      MOODNET_UNROLL
      for (int j = 0; j < MR + 2; ++j) {
        const m512 x = mm512_set1_ps(a[CH * j + c]);
        MOODNET_UNROLL
        for (int kx = 0; kx < 3; ++kx)
          if (j - kx >= 0 && j - kx < MR) acc[j - kx][0] = mm512_fmadd_ps(x, w[kx], acc[j - kx][0]);
      }
    }
  }
  conv_micro_avx512_store<MR, 1>(acc, mask, p);
}
}  // namespace detail

// The 3x3 forward tiles over CH = 3 or 1 channels: MR x (16 * NV). Other kernel widths at the
// same row stride (a_i = CH: 1x1 or 5x5, rare) take the tile without a compiled-in stride rather
// than one more instance; 32 filters run as two 16-filter halves (14 x 32 accumulators and six
// weight registers would not fit the register file).
template <int MR, int CH, int NV>
MOODNET_TARGET_AVX512 inline void conv_micro_avx512_3x3(const ConvMicroArgs& p) {
  if (p.nk != 3 * CH) return conv_micro_avx512<MR, NV, true>(p);
  ConvMicroArgs h = p;
  MOODNET_UNROLL
  for (int v = 0; v < NV; ++v) {
    h.n = std::min(16, p.n - 16 * v);
    if (h.n <= 0) break;
    h.b = p.b + 16 * v, h.c = p.c + 16 * v, h.bias = p.bias ? p.bias + 16 * v : nullptr;
    if (h.n == 16)
      detail::conv_micro_avx512_3x3_impl<MR, CH, true>(h);
    else
      detail::conv_micro_avx512_3x3_impl<MR, CH, false>(h);
  }
}

// Backward-weights of a 3x3 conv over C = 3 (the RGB first layers, R = 9 taps per kernel row)
// or C = 1 (grayscale, R = 3) input channels: the R taps of each of the 3 kernel rows x 16 * NV
// filters in one tile (3 * R * NV accumulators: 27, 18 or 9), so a block of dy is read once
// instead of once per kernel row, and 3 * R * NV independent FMA chains per pixel instead of
// R * NV (which barely cover the FMA latency). Row r + R * ky of the tile is A(q, r, k) at a + ky *
// a_r; each accumulator sums the same products in the same order as the R-row tile does, so the
// gradients are bitwise the same. acc(ky * R + r, j) is written to c[(ky * R + r) * ldc + j].
namespace detail {
template <int R, int NV, bool kFullN, bool kAhead>
MOODNET_TARGET_AVX512 inline void conv_weights_micro_avx512_3xr_impl(const ConvMicroArgs& p) {
  constexpr int KY = 3;
  m512 acc[KY][R][NV];
  MOODNET_UNROLL
  for (int y = 0; y < KY; ++y) {
    MOODNET_UNROLL
    for (int r = 0; r < R; ++r) {
      MOODNET_UNROLL
      for (int v = 0; v < NV; ++v) acc[y][r][v] = mm512_setzero_ps();
    }
  }
  mmask16 mask[NV];
  MOODNET_UNROLL
  for (int v = 0; v < NV; ++v) mask[v] = first_lanes16(p.n - 16 * v);
  for (int64_t q = 0; q < p.nq; ++q) {
    const float* a0 = p.a + q * p.a_q;
    const float* a1 = a0 + p.a_r;
    const float* a2 = a1 + p.a_r;
    const float* b = p.b + q * p.b_q;
    for (int64_t k = 0; k < p.nk; ++k, b += p.b_k, a0 += p.a_k, a1 += p.a_k, a2 += p.a_k) {
      if (kAhead) prefetch_ahead_step(p, q * p.nk + k);
      m512 bv[NV];
      MOODNET_UNROLL
      for (int v = 0; v < NV; ++v)
        bv[v] = kFullN ? mm512_loadu_ps(b + 16 * v) : mm512_maskz_loadu_ps(mask[v], b + 16 * v);
      mm_prefetch_t0(b + 8 * p.b_k);
      if (p.b_prefetch_l2) {
        MOODNET_UNROLL
        for (int v = 0; v < NV; ++v) prefetch_l2(b + p.b_prefetch_l2 * p.b_k + 16 * v);
      }
      const float* rows[KY] = {a0, a1, a2};
      MOODNET_UNROLL
      for (int y = 0; y < KY; ++y) {
        MOODNET_UNROLL
        for (int r = 0; r < R; ++r) {
          const m512 x = mm512_set1_ps(rows[y][r]);
          MOODNET_UNROLL
          for (int v = 0; v < NV; ++v) acc[y][r][v] = mm512_fmadd_ps(x, bv[v], acc[y][r][v]);
        }
      }
    }
  }
  MOODNET_UNROLL
  for (int y = 0; y < KY; ++y) {
    MOODNET_UNROLL
    for (int r = 0; r < R; ++r) {
      float* ci = p.c + (y * R + r) * p.ldc;
      MOODNET_UNROLL
      for (int v = 0; v < NV; ++v) {
        const m512 old =
            p.accumulate ? mm512_maskz_loadu_ps(mask[v], ci + 16 * v) : mm512_setzero_ps();
        mm512_mask_storeu_ps(ci + 16 * v, mask[v], mm512_add_ps(old, acc[y][r][v]));
      }
    }
  }
  if (kAhead) prefetch_ahead_rest(p, p.nq * p.nk);
}
}  // namespace detail

template <int R, int NV>
MOODNET_TARGET_AVX512 inline void conv_weights_micro_avx512_3xr(const ConvMicroArgs& p) {
  // Lines to fetch ahead: a second instance, so the tiles without them test nothing per k step.
  if (p.l2_ahead_lines[0] > 0 || p.l2_ahead_lines[1] > 0)
    return p.n == 16 * NV ? detail::conv_weights_micro_avx512_3xr_impl<R, NV, true, true>(p)
                          : detail::conv_weights_micro_avx512_3xr_impl<R, NV, false, true>(p);
  if (p.n == 16 * NV)
    detail::conv_weights_micro_avx512_3xr_impl<R, NV, true, false>(p);
  else
    detail::conv_weights_micro_avx512_3xr_impl<R, NV, false, false>(p);
}

#endif  // MOODNET_SGEMM_X86

// A tile shape and its kernel. Narrow F gets a narrow tile, so no FMA is wasted on padding
// columns; the row count is picked so that tiles fill the rows they cover.
struct ConvTile {
  int MR = 0, NR = 0;
  void (*micro)(const ConvMicroArgs&) = nullptr;
  int kernel_rows = 1;  // backward-weights: kernel rows one call covers (a_r apart)
};

namespace detail {
// The candidate with the fewest idle rows over `rows` (ties: the first, larger candidate).
inline int best_mr(int64_t rows, std::initializer_list<int> candidates) {
  int best = *candidates.begin();
  int64_t best_slots = INT64_MAX;
  for (int mr : candidates) {
    const int64_t slots = (rows + mr - 1) / mr * mr;
    if (slots < best_slots) best = mr, best_slots = slots;
  }
  return best;
}

#if MOODNET_SGEMM_X86
template <int kAI>
ConvTile avx512_tile14(int64_t f) {
  if constexpr (kAI == 3)  // else: no stride-3 instance of the generic tile is compiled
    return f <= 16 ? ConvTile{14, 16, &conv_micro_avx512_3x3<14, 3, 1>}
                   : ConvTile{14, 32, &conv_micro_avx512_3x3<14, 3, 2>};
  else
    return f <= 16 ? ConvTile{14, 16, &conv_micro_avx512<14, 1, true, kAI>}
                   : ConvTile{14, 32, &conv_micro_avx512<14, 2, true, kAI>};
}

// 14-row AVX-512 tiles with the row stride a_i compiled in for the usual channel counts, so the
// 14 broadcasts of a k step are fixed offsets from one pointer (a pointer per row runs out of
// registers and spills in the inner loop); stride 3 (RGB) gets the RGB 3x3 tile. No micro kernel
// for other strides.
inline ConvTile avx512_tile14_fixed_stride(int64_t f, int64_t stride) {
  switch (stride) {
    case 3:
      return avx512_tile14<3>(f);
    case 16:
      return avx512_tile14<16>(f);
    case 32:
      return avx512_tile14<32>(f);
    case 64:
      return avx512_tile14<64>(f);
    case 128:
      return avx512_tile14<128>(f);
    default:
      return {};
  }
}
#endif
}  // namespace detail

// Forward tiles: rows are `ow`-long output rows of pixels, row_stride the a_i (stride * C); an
// RGB or one-channel input at stride 1 (row_stride 3 or 1) gets the 3x3 tile over its channels on
// AVX-512 (other kernel widths fall back inside it), the stride compiled in on AVX2 (RGB).
inline ConvTile conv_forward_tile(Isa isa, int64_t f, int64_t row_stride, int64_t ow) {
  switch (isa) {
#if MOODNET_SGEMM_X86
    case Isa::avx512: {
      if (row_stride == 3) return detail::avx512_tile14_fixed_stride(f, 3);
      // 13 rows measured slower than 14 with two idle rows; only 12 earns its place.
      const int mr = detail::best_mr(ow, {14, 12});
      // One channel at stride 1 (grayscale first layers): the 3x3 tile over one channel.
      // 12 rows only, for cpu_conv.cpp's compile time (fer-cnn's 48-pixel rows fill them).
      if (row_stride == 1)
        return f <= 16 ? ConvTile{12, 16, &conv_micro_avx512_3x3<12, 1, 1>}
                       : ConvTile{12, 32, &conv_micro_avx512_3x3<12, 1, 2>};
      // 6 x 64 tiles wherever F is a multiple of 64 and they fill the rows about as well as 12
      // or 14 do: with the input and output streaming from L3 or memory, six A rows and four
      // cache lines per output row keep the loads flowing better (1x1 conv 64 -> 128 over
      // 25,088 pixels, 1 thread, host B: 0.85-0.9 of peak against 0.7 for 14 x 32).
      const auto fill = [ow](int64_t rows) {
        return double(ow) / double((ow + rows - 1) / rows * rows);
      };
      if (f % 64 == 0 && fill(6) + 0.01 >= fill(mr)) return {6, 64, &conv_micro_avx512<6, 4, true>};
      // 1x1 convs and other direct convs over 16-128 channels at stride 1.
      if (mr == 14)
        if (const ConvTile t = detail::avx512_tile14_fixed_stride(f, row_stride); t.micro) return t;
      if (f <= 16)
        return {mr, 16,
                mr == 14 ? &conv_micro_avx512<14, 1, true> : &conv_micro_avx512<12, 1, true>};
      return {mr, 32, mr == 14 ? &conv_micro_avx512<14, 2, true> : &conv_micro_avx512<12, 2, true>};
    }
    case Isa::avx2:
      if (f <= 8)
        return {6, 8,
                row_stride == 3 ? &conv_micro_avx2<6, 1, true, 3> : &conv_micro_avx2<6, 1, true>};
      return {6, 16,
              row_stride == 3 ? &conv_micro_avx2<6, 2, true, 3> : &conv_micro_avx2<6, 2, true>};
#endif
    default:
      (void)row_stride, (void)ow;
      return {4, 8, &conv_micro_generic_4x8<true>};
  }
}

// Winograd GEMM-stage tiles (rows = tiles, k = channels, a_i = C): 14 rows, with the row stride
// compiled in for the usual channel counts.
inline ConvTile winograd_gemm_tile(Isa isa, int64_t f, int64_t c) {
#if MOODNET_SGEMM_X86
  if (isa == Isa::avx512)
    if (const ConvTile t = detail::avx512_tile14_fixed_stride(f, c); t.micro) return t;
#endif
  // 84 output rows fill 12- and 14-row tiles alike: the widest tile wins.
  return conv_forward_tile(isa, f, c, 84);
}

// Backward-weights tiles: rows are runs of `taps_per_row` kernel taps (KW * C); 3x3 RGB kernel
// rows (9 taps) get a 9-row tile, 3x3 one-channel rows (3 taps) a 3-row one.
inline ConvTile conv_weights_tile(Isa isa, int64_t f, int64_t taps_per_row,
                                  int64_t kernel_rows = 1) {
  switch (isa) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      // 3x3 over RGB, up to 16 filters: all three kernel rows in one tile (see the kernel).
      // Shapes a and d against oneDNN on PERFORMANCE.md's host C (Intel), 3 alternated runs:
      // 1 thread 0.79-0.82 -> 0.93-1.00, 2 threads 0.63-0.81 -> 0.93-1.00.
      if (taps_per_row == 9 && kernel_rows == 3 && f <= 16)
        return ConvTile{9, 16, &conv_weights_micro_avx512_3xr<9, 1>, 3};
      // 3x3 over one channel (fer-cnn's first layer): 3 kernel rows x 3 taps x 16 or 32 filters
      // (fer1 against oneDNN on host C, 3 alternated runs: 0.57-0.59 -> 0.83-1.06).
      if (taps_per_row == 3 && kernel_rows == 3)
        return f <= 16 ? ConvTile{3, 16, &conv_weights_micro_avx512_3xr<3, 1>, 3}
                       : ConvTile{3, 32, &conv_weights_micro_avx512_3xr<3, 2>, 3};
      if (taps_per_row == 9)
        return f <= 16 ? ConvTile{9, 16, &conv_micro_avx512<9, 1, false>}
                       : ConvTile{9, 32, &conv_micro_avx512<9, 2, false>};
      // One-channel input, kernels other than 3 rows high: 3 taps per kernel row; a 14-row tile
      // would leave 11 of its rows idle.
      if (taps_per_row == 3)
        return f <= 16 ? ConvTile{3, 16, &conv_micro_avx512<3, 1, false>}
                       : ConvTile{3, 32, &conv_micro_avx512<3, 2, false>};
      // 12 rows where they waste fewer than 14 (48 taps per kernel row at C = 16: four tiles
      // either way, 8 idle rows in the last 14-row one). Shapes b and e (C = 16) against oneDNN
      // on host C, 3 alternated runs: 1 thread b 0.84-0.89 -> 0.94-1.08, e 0.78-0.80 ->
      // 0.82-0.95; 2 threads b 0.92-0.97 -> 1.05-1.09, e 0.87-0.96 -> 0.93-0.97.
      if (detail::best_mr(taps_per_row, {14, 12}) == 12)
        return f <= 16 ? ConvTile{12, 16, &conv_micro_avx512<12, 1, false>}
                       : ConvTile{12, 32, &conv_micro_avx512<12, 2, false>};
      return f <= 16 ? ConvTile{14, 16, &conv_micro_avx512<14, 1, false>}
                     : ConvTile{14, 32, &conv_micro_avx512<14, 2, false>};
    case Isa::avx2:
      return f <= 8 ? ConvTile{6, 8, &conv_micro_avx2<6, 1, false>}
                    : ConvTile{6, 16, &conv_micro_avx2<6, 2, false>};
#endif
    default:
      (void)taps_per_row, (void)kernel_rows;
      return {4, 8, &conv_micro_generic_4x8<false>};
  }
}

// Winograd weight-gradient GEMM tiles (winograd_grad.hpp): dU(C, F) += V^T dM, so the rows are
// the C input channels and the row count is picked to fill them: 16 or 32 channels on a 14-row
// tile left 43 % or 24 % of its FMAs on padding rows. Shapes e (C = 16) and c (C = 32) against
// oneDNN on PERFORMANCE.md's host C, 2 alternated runs: 1 thread e 0.80-0.82 -> 0.91, c
// 1.22-1.42 -> 1.30-1.31; 2 threads e 0.84-0.85 -> 0.97-1.05, c 1.25 -> 1.33-1.34.
// Only where F fills whole strips, so every call has p.n == NR: the unmasked instance alone
// (cpu_conv.cpp's compile time).
inline ConvTile winograd_weights_tile(Isa isa, int64_t f, int64_t c) {
#if MOODNET_SGEMM_X86
  if (isa == Isa::avx512 && detail::best_mr(c, {14, 12, 8}) == 8) {
    if (f == 16) return {8, 16, &detail::conv_micro_avx512_impl<8, 1, false, 0, true>};
    if (f % 32 == 0) return {8, 32, &detail::conv_micro_avx512_impl<8, 2, false, 0, true>};
  }
#endif
  return conv_weights_tile(isa, f, 0);  // 14 rows, as before this tile choice
}

}  // namespace moodnet::cpu
