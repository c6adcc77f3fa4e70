// DepthwiseConv2D kernels for the Cpu device: direct loops vectorised over channels (NHWC keeps
// a pixel's channels contiguous). Each pass is one portable body compiled three times, for
// AVX-512, AVX2+FMA and the baseline, and picked at run time like the GEMM kernels; the channel
// loops are `omp simd`. Depth multipliers other than 1 use the naive kernels.
#pragma once

#include <algorithm>
#include <atomic>
#include <optional>
#include <type_traits>
#include <vector>

#include "../naive.hpp"
#include "gemm.hpp"
#include "sgemm.hpp"

namespace moodnet::cpu {

namespace detail {

#define MOODNET_ALWAYS_INLINE [[gnu::always_inline]] inline

// y[0..c) += a[0..c) * b[0..c)
MOODNET_ALWAYS_INLINE void fma_channels(int64_t c, const float* __restrict a,
                                        const float* __restrict b, float* __restrict y) {
  MOODNET_OMP(omp simd)
  for (int64_t i = 0; i < c; ++i) y[i] += a[i] * b[i];
}

constexpr int64_t dw_block = 16;  // channels per register block (one zmm, two ymm)

// Taps of output (oy, ox) that fall inside the image: ky in [ky0, ky1), kx in [kx0, kx1).
struct TapRange {
  int64_t ky0, ky1, kx0, kx1;
};
MOODNET_ALWAYS_INLINE TapRange taps_inside(const ConvGeometry& g, int64_t oy, int64_t ox) {
  const int64_t iy = oy * g.sh - g.pad_top, ix = ox * g.sw - g.pad_left;
  return {std::max<int64_t>(0, -iy), std::min(g.kh, g.h - iy), std::max<int64_t>(0, -ix),
          std::min(g.kw, g.w - ix)};
}

// Outputs [lo, hi) of one axis whose whole window lies inside the input (no padding read).
struct Interior {
  int64_t lo, hi;
};
MOODNET_ALWAYS_INLINE Interior interior_outputs(int64_t out, int64_t in, int64_t k, int64_t s,
                                                int64_t pad_before) {
  const int64_t lo = std::min(out, (pad_before + s - 1) / s);
  const int64_t last = in - k + pad_before;  // the last window start, in padded coordinates
  return {lo, last < 0 ? lo : std::max(lo, std::min(out, last / s + 1))};
}

// Starts fetching image row `row` of `rows` (each `floats` long, from base) into L2; rows outside
// [0, rows) are skipped.
MOODNET_ALWAYS_INLINE void prefetch_row(const float* base, int64_t row, int64_t rows,
                                        int64_t floats) {
  if (row >= 0 && row < rows) prefetch_l2_range(base + row * floats, floats);
}

// Starts fetching what output row o needs that row o - 1 did not: its new input rows (sh of
// them, from the image x) and its row of `out` (the output, or dy for the weight gradient). A
// depthwise pass streams its input and output once from L3 or memory with only 9 FMAs per value,
// so the hardware prefetcher alone leaves it waiting on loads; the passes fetch one output row
// ahead (f_dw, alternated, medians of 4: forward 0.73 -> 0.78 of oneDNN at 1 thread and 0.85 ->
// 0.97 at 2 against two rows ahead; prefetcht0 for the input, or prefetchw for the output, did
// no better).
MOODNET_ALWAYS_INLINE void prefetch_output_row(const ConvGeometry& g, const float* x,
                                               const float* out, int64_t o) {
  if (!stream_prefetch()) return;
  const int64_t last = o * g.sh - g.pad_top + g.kh - 1;  // the window's bottom input row
  for (int64_t iy = std::max(last - g.sh + 1, last - g.kh + 1); iy <= last; ++iy)
    prefetch_row(x, iy, g.h, g.w * g.c);
  prefetch_row(out, o, g.oh, g.ow * g.c);
}

// Whether the AVX-512 depthwise forward takes two output rows a tile (dw_forward_image): where
// rows are fetched ahead in software, unless a test forces one or the other.
inline std::atomic<int>& forced_dw_pair_rows() {
  static std::atomic<int> v{-1};
  return v;
}
inline bool dw_pair_rows() {
  const int f = forced_dw_pair_rows().load(std::memory_order_relaxed);
  return f < 0 ? stream_prefetch() : f != 0;
}
// Forces the choice (tests cover both tiles on any CPU); std::nullopt restores the default.
inline void force_dw_pair_rows(std::optional<bool> pair) {
  forced_dw_pair_rows().store(pair ? int(*pair) : -1, std::memory_order_relaxed);
}

// No vector fast path (the baseline build): the portable loops below do everything.
struct DwScalar {};

#if MOODNET_SGEMM_X86
// One register of channels for the 3x3 fast paths (SeparableConv2D's and f_dw's kernel), as
// plain GCC vector arithmetic: always inlined into the per-ISA kernels below, it compiles to
// that ISA's instructions there (a * b + c to an FMA under GCC's default -ffp-contract=fast,
// as the portable loops' `omp simd` bodies do). `pixels`: output pixels the forward tile keeps
// in flight (their accumulators, the nine weights and a load fit in the register file).
// `at(p).v` is the register at p, any alignment, read or written through a packed struct: clang
// 14 at -O3 turned reads through the reduced-alignment `*_unaligned` typedefs into aligned moves,
// which fault on channel blocks off a 32/64-byte boundary; packed members are accessed
// unaligned by every compiler. By reference, so no vector crosses a call by value.
#define MOODNET_DW_VEC(Name, Vec, Lanes, Pixels)                       \
  struct Name {                                                        \
    using V = Vec;                                                     \
    static constexpr int64_t lanes = Lanes, pixels = Pixels;           \
    struct __attribute__((packed, may_alias)) Unaligned {              \
      V v;                                                             \
    };                                                                 \
    MOODNET_ALWAYS_INLINE static const Unaligned& at(const float* p) { \
      return *reinterpret_cast<const Unaligned*>(p);                   \
    }                                                                  \
    MOODNET_ALWAYS_INLINE static Unaligned& at(float* p) {             \
      return *reinterpret_cast<Unaligned*>(p);                         \
    }                                                                  \
  };
MOODNET_DW_VEC(DwAvx512, m512, 16, 8)
MOODNET_DW_VEC(DwAvx2, m256, 8, 4)
#undef MOODNET_DW_VEC
#endif

// The 3x3 fast paths need a vector ISA and whole 16-channel blocks (the portable loops' block,
// so the border code below covers exactly the same channels).
template <class VT>
MOODNET_ALWAYS_INLINE bool dw_fast_3x3(const ConvGeometry& g) {
  if constexpr (std::is_same_v<VT, DwScalar>)
    return false;
  else
    return g.kh == 3 && g.kw == 3 && g.c % dw_block == 0 && g.sw <= 2;
}

// One output pixel (on the border: the taps that fall inside only), all channels.
template <class VT>
MOODNET_ALWAYS_INLINE void dw3x3_forward_pixel(const ConvGeometry& g, const float* x,
                                               const float* w, const float* b, float* y, int64_t oy,
                                               int64_t ox) {
  using V = typename VT::V;
  const TapRange t = taps_inside(g, oy, ox);
  const int64_t c = g.c;
  const float* xo = x + ((oy * g.sh - g.pad_top) * g.w + (ox * g.sw - g.pad_left)) * c;
  for (int64_t c0 = 0; c0 < c; c0 += VT::lanes) {
    V acc = b ? VT::at(b + c0).v : V{};
    for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
      for (int64_t kx = t.kx0; kx < t.kx1; ++kx)
        acc += VT::at(xo + (ky * g.w + kx) * c + c0).v * VT::at(w + (ky * 3 + kx) * c + c0).v;
    VT::at(y + (oy * g.ow + ox) * c + c0).v = acc;
  }
}

// Output rows [oy, oy + R), pixels [ox, ox + P), every channel, stride S (1 or 2) across (R = 2
// needs vertical stride 1): y = bias + 3x3 taps of x * w. One register of channels for P outputs
// per row at once; the nine weights stay in registers, and each input column the tile covers is
// loaded once per input row and multiplied into every output that uses it (the loops unroll to
// straight-line code). R = 2 (AVX-512: two rows of accumulators, the weights and a load fill 26
// of its 32 registers at P = 8) loads each of its four input rows once for both output rows. kEdge:
// a tile on the image border, which skips the taps outside the image (rows and columns tested at
// run time); every output gets its taps in (ky, kx) order either way, as dw3x3_forward_pixel
// does, so the results are bitwise the same whichever path computes a pixel. The channel blocks
// run inside the pixel tile, so a tile's reads go through each pixel's channels in order (a whole
// row per channel block strides past the other lines, which L2 serves slowly).
template <class VT, int64_t P, int64_t S, int64_t R, bool kEdge>
MOODNET_ALWAYS_INLINE void dw3x3_forward_tile(const ConvGeometry& g, const float* x, const float* w,
                                              const float* b, float* y, int64_t oy, int64_t ox) {
  using V = typename VT::V;
  constexpr int64_t L = VT::lanes, J = (P - 1) * S + 3;
  const int64_t iy = oy * g.sh - g.pad_top, ix = ox * S - g.pad_left, c = g.c;
  for (int64_t c0 = 0; c0 < c; c0 += L) {
    V wk[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) wk[t] = VT::at(w + t * c + c0).v;
    const V bias = b ? VT::at(b + c0).v : V{};
    V acc[R][P];
#pragma GCC unroll 2
    for (int64_t o = 0; o < R; ++o)
#pragma GCC unroll 16
      for (int64_t p = 0; p < P; ++p) acc[o][p] = bias;
#pragma GCC unroll 4
    for (int64_t r = 0; r < R + 2; ++r) {  // input row iy + r: ky = r - o for output row o
      if (kEdge && (iy + r < 0 || iy + r >= g.h)) continue;
      const float* q = x + (iy + r) * g.w * c + c0;
#pragma GCC unroll 32
      for (int64_t j = 0; j < J; ++j) {
        if (kEdge && (ix + j < 0 || ix + j >= g.w)) continue;
        V xv = VT::at(q + (ix + j) * c).v;
        // Held in a register: GCC otherwise folds the load into each of its up to six FMAs,
        // and the loads, not the FMAs, bound the tile (with the overlapped last tile below:
        // f_dw in L2 on an Intel core, best of 4 alternated runs, 60 -> 68 GF/s). Not for
        // clang: it checks the operand against this template's own (baseline) target and
        // rejects a 256/512-bit register.
#if !defined(__clang__)
        asm("" : "+v"(xv));
#endif
#pragma GCC unroll 16
        for (int64_t p = 0; p < P; ++p) {
          const int64_t kx = j - p * S;  // a constant once unrolled
          if (kx < 0 || kx >= 3) continue;
#pragma GCC unroll 2
          for (int64_t o = 0; o < R; ++o)
            if (r - o >= 0 && r - o < 3) acc[o][p] += xv * wk[(r - o) * 3 + kx];
        }
      }
    }
#pragma GCC unroll 2
    for (int64_t o = 0; o < R; ++o) {
      float* yo = y + ((oy + o) * g.ow + ox) * c + c0;
#pragma GCC unroll 16
      for (int64_t p = 0; p < P; ++p) VT::at(yo + p * c).v = acc[o][p];
    }
  }
}

// Output rows [oy, oy + R), the whole width (g.ow >= P), in P-pixel tiles; a last partial tile
// is computed as a whole one ending at the row's end: its first outputs again, each with the
// same operations, so the same values. Border tiles (the first and last of a row, every tile of
// a row whose window leaves the image) skip the taps outside.
template <class VT, int64_t P, int64_t S, int64_t R>
MOODNET_ALWAYS_INLINE void dw3x3_forward_row(const ConvGeometry& g, const float* x, const float* w,
                                             const float* b, float* y, int64_t oy) {
  constexpr int64_t J = (P - 1) * S + 3;
  const int64_t iy = oy * g.sh - g.pad_top;
  const bool row_edge = iy < 0 || iy + R + 1 >= g.h;
  for (int64_t ox = 0;; ox = std::min(ox + P, g.ow - P)) {
    const int64_t ix = ox * S - g.pad_left;
    if (row_edge || ix < 0 || ix + J > g.w)
      dw3x3_forward_tile<VT, P, S, R, true>(g, x, w, b, y, oy, ox);
    else
      dw3x3_forward_tile<VT, P, S, R, false>(g, x, w, b, y, oy, ox);
    if (ox + P >= g.ow) break;
  }
}

// The 3x3 fast path for one output row (or two, kPair), P pixels a tile. Each (P, R) compiles
// four tile bodies (stride 1 or 2, border or not): only the ones used are instantiated
// (cpu_conv.cpp's compile time).
template <class VT, int64_t P, bool kPair>
MOODNET_ALWAYS_INLINE void dw3x3_forward_rows(const ConvGeometry& g, const float* x, const float* w,
                                              const float* b, float* y, int64_t oy) {
  constexpr int64_t R = kPair ? 2 : 1;
  g.sw == 1 ? dw3x3_forward_row<VT, P, 1, R>(g, x, w, b, y, oy)
            : dw3x3_forward_row<VT, P, 2, R>(g, x, w, b, y, oy);
}

// Output row oy, columns [ox0, ox1), NB registers of channels from c0: acc[v][ky * 3 + kx] +=
// x * dy over the row, bacc[v] += dy. kEdge: the taps outside the image are skipped (tested per
// tap, for the border pixels and the rows whose window leaves the image). pf_x / pf_dy (or null):
// rows whose lines at each pixel's channels [c0, c0 + NB * L) are fetched into L2 on the way.
template <class VT, int NB, bool kEdge>
MOODNET_ALWAYS_INLINE void dw3x3_params_run(const ConvGeometry& g, const float* x, const float* dy,
                                            int64_t c0, int64_t oy, int64_t ox0, int64_t ox1,
                                            typename VT::V (&acc)[NB][9],
                                            typename VT::V (&bacc)[NB], const float* pf_x = nullptr,
                                            const float* pf_dy = nullptr) {
  using V = typename VT::V;
  constexpr int64_t L = VT::lanes;
  const int64_t c = g.c, iy = oy * g.sh - g.pad_top;
  for (int64_t ox = ox0; ox < ox1; ++ox) {
    const int64_t ix = ox * g.sw - g.pad_left;
    const float* d = dy + (oy * g.ow + ox) * c + c0;
    if (pf_dy) {
#pragma GCC unroll 2
      for (int v = 0; v < NB; ++v) {
        prefetch_l2(pf_dy + ox * c + c0 + v * L);
        if (pf_x) prefetch_l2(pf_x + ox * c + c0 + v * L);
      }
    }
#pragma GCC unroll 2
    for (int v = 0; v < NB; ++v) {
      const V dv = VT::at(d + v * L).v;
      bacc[v] += dv;
#pragma GCC unroll 3
      for (int64_t ky = 0; ky < 3; ++ky) {
        if (kEdge && (iy + ky < 0 || iy + ky >= g.h)) continue;
#pragma GCC unroll 3
        for (int64_t kx = 0; kx < 3; ++kx) {
          if (kEdge && (ix + kx < 0 || ix + kx >= g.w)) continue;
          acc[v][ky * 3 + kx] += VT::at(x + ((iy + ky) * g.w + ix + kx) * c + c0 + v * L).v * dv;
        }
      }
    }
  }
}

// dw:(3,3,C) += sum over the image of x * dy, db:(C) += sum of dy (if given), row by row: each
// row's pixels go through all the channels (NB registers, their nine tap sums and bias sum, at a
// time) while the row is in L1, so x and dy stream through once in memory order, as the forward
// does. The sums live in dw and db between rows (loaded and stored once per row and channel
// block: each tap's sum is the same chain as if it stayed in registers). Two registers (NB = 2,
// 20 accumulators: AVX-512) read two adjacent lines of each pixel at a time. f_dw on host C
// against oneDNN, 3 alternated runs: a pass over the whole image per channel block, then the
// border again, ran at 0.86-0.89 (1 thread), this at 0.97-1.01.
template <class VT, int NB>
MOODNET_ALWAYS_INLINE void dw3x3_params_rows(const ConvGeometry& g, const float* x, const float* dy,
                                             float* dw, float* db) {
  using V = typename VT::V;
  constexpr int64_t L = VT::lanes;
  const int64_t c = g.c;
  const Interior cols = interior_outputs(g.ow, g.w, g.kw, g.sw, g.pad_left);
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const int64_t iy = oy * g.sh - g.pad_top;
    const bool row_edge = iy < 0 || iy + 2 >= g.h;
    // What the next output row adds (its bottom input row, its dy row) into L2, AMD only
    // (stream_prefetch). At stride 1 a pixel at a time, as this row's pixels go by: the whole
    // rows at the start of the row (prefetch_output_row) are ~220 requests at once, more than
    // the core keeps in flight (f_dw on PERFORMANCE.md's host D, Zen 5, 1 thread, from memory:
    // 38 -> 64 GF/s; against oneDNN 0.83 -> 1.30-1.43, 2 threads 0.82 -> 1.12).
    const float *pf_x = nullptr, *pf_dy = nullptr;
    if (g.sh == 1 && g.sw == 1) {
      const int64_t bottom = oy + 1 - g.pad_top + 2;  // the next row's bottom input row
      if (stream_prefetch() && oy + 1 < g.oh) pf_dy = dy + (oy + 1) * g.ow * c;
      if (pf_dy && bottom >= 0 && bottom < g.h) pf_x = x + bottom * g.w * c;
    } else {
      prefetch_output_row(g, x, dy, oy + 1);  // AMD only (stream_prefetch)
    }
    for (int64_t c0 = 0; c0 < c; c0 += NB * L) {
      V acc[NB][9];
      V bacc[NB];
#pragma GCC unroll 2
      for (int v = 0; v < NB; ++v) {
        bacc[v] = db ? VT::at(db + c0 + v * L).v : V{};
#pragma GCC unroll 9
        for (int t = 0; t < 9; ++t) acc[v][t] = VT::at(dw + t * c + c0 + v * L).v;
      }
      if (row_edge) {
        dw3x3_params_run<VT, NB, true>(g, x, dy, c0, oy, 0, g.ow, acc, bacc, pf_x, pf_dy);
      } else {
        dw3x3_params_run<VT, NB, true>(g, x, dy, c0, oy, 0, cols.lo, acc, bacc, pf_x, pf_dy);
        dw3x3_params_run<VT, NB, false>(g, x, dy, c0, oy, cols.lo, cols.hi, acc, bacc, pf_x, pf_dy);
        dw3x3_params_run<VT, NB, true>(g, x, dy, c0, oy, cols.hi, g.ow, acc, bacc, pf_x, pf_dy);
      }
#pragma GCC unroll 2
      for (int v = 0; v < NB; ++v) {
#pragma GCC unroll 9
        for (int t = 0; t < 9; ++t) VT::at(dw + t * c + c0 + v * L).v = acc[v][t];
        if (db) VT::at(db + c0 + v * L).v = bacc[v];
      }
    }
  }
}

template <class VT>
MOODNET_ALWAYS_INLINE void dw3x3_params(const ConvGeometry& g, const float* x, const float* dy,
                                        float* dw, float* db) {
  // 20 accumulators fit AVX-512's 32 registers, not AVX2's 16.
  if constexpr (VT::lanes == 16)
    if (g.c % (2 * VT::lanes) == 0) return dw3x3_params_rows<VT, 2>(g, x, dy, dw, db);
  dw3x3_params_rows<VT, 1>(g, x, dy, dw, db);
}

// One image: y:(OH,OW,C) = bias + sum over taps of x:(H,W,C) * w:(KH,KW,C). A block of 16
// channels of one output pixel stays in registers across the taps.
template <class VT>
MOODNET_ALWAYS_INLINE void dw_forward_image(const ConvGeometry& g, const float* x, const float* w,
                                            const float* b, float* y) {
  // Interior output columns (every kx inside the image): [ox_lo, ox_hi).
  const auto [ox_lo, ox_hi] = interior_outputs(g.ow, g.w, g.kw, g.sw, g.pad_left);
  const bool fast = dw_fast_3x3<VT>(g);
  // The 3x3 fast path's tile width: `pixels` or one fewer, whichever computes fewer pixels over
  // a row (the last tile of a row overlaps the one before); 28 = 4 x 7. Single rows, border tiles
  // in place of per-pixel code for the border, and 7-pixel tiles, together against row pairs of 8
  // with the border per pixel, f_dw on host C, 2 alternated runs: 1 thread forward 0.80-0.83 ->
  // 0.83-0.99 of oneDNN, backward-data 0.84-0.86 -> 1.02-1.06; 2 threads 0.72-0.76 -> 0.89-0.99
  // and 0.78 -> 0.94-0.98. AVX-512 single rows only: row pairs (measured with 8) and AVX2 keep
  // `pixels`, so fewer tile bodies are compiled.
  const bool pair_rows = dw_pair_rows();
  int64_t tile = 0;
  if constexpr (!std::is_same_v<VT, DwScalar>) {
    const auto computed = [&](int64_t p) { return (g.ow + p - 1) / p * p; };
    const bool narrow = VT::lanes == 16 && !pair_rows;
    tile = narrow && computed(VT::pixels - 1) < computed(VT::pixels) ? VT::pixels - 1 : VT::pixels;
  }
  constexpr int64_t P = 8;  // output pixels per register block: 8 independent FMA chains
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    int64_t ox = 0;
    // AVX-512 takes two rows at once (stride 1) where the rows are fetched ahead in software
    // (stream_prefetch(): AMD). A pair fetches its own second row and the next pair's first:
    // fetching the next pair's two rows instead ran f_dw's forward at 0.66-0.72 of oneDNN against
    // 0.76-0.84 (1 thread, 3 alternated pairs, on the AMD hosts). Without software prefetch (Intel)
    // single rows stream better: f_dw on host C, 2 alternated runs, 1 thread forward 0.79-0.81 ->
    // 0.86 and backward-data 0.81-0.84 -> 0.86-0.90 of oneDNN; 2 threads 0.72-0.81 -> 0.86-0.89 and
    // 0.82-0.83 -> 0.90-0.94.
    bool pair = false;
    if constexpr (!std::is_same_v<VT, DwScalar>)
      pair = VT::lanes == 16 && fast && g.sh == 1 && oy + 1 < g.oh && pair_rows;
    prefetch_output_row(g, x, y, oy + 1);
    if (pair) prefetch_output_row(g, x, y, oy + 2);
    auto edge_pixel = [&](int64_t o) {
      const TapRange t = taps_inside(g, oy, o);
      const float* xo = x + ((oy * g.sh - g.pad_top) * g.w + (o * g.sw - g.pad_left)) * g.c;
      float* yp = y + (oy * g.ow + o) * g.c;
      int64_t c0 = 0;
      for (; c0 + dw_block <= g.c; c0 += dw_block) {
        float acc[dw_block];
        MOODNET_OMP(omp simd)
        for (int64_t i = 0; i < dw_block; ++i) acc[i] = b ? b[c0 + i] : 0.0f;
        for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
          for (int64_t kx = t.kx0; kx < t.kx1; ++kx) {
            const float* xp = xo + (ky * g.w + kx) * g.c + c0;
            const float* wp = w + (ky * g.kw + kx) * g.c + c0;
            MOODNET_OMP(omp simd)
            for (int64_t i = 0; i < dw_block; ++i) acc[i] += xp[i] * wp[i];
          }
        MOODNET_OMP(omp simd)
        for (int64_t i = 0; i < dw_block; ++i) yp[c0 + i] = acc[i];
      }
      for (int64_t c = c0; c < g.c; ++c) {
        float acc = b ? b[c] : 0.0f;
        for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
          for (int64_t kx = t.kx0; kx < t.kx1; ++kx)
            acc += xo[(ky * g.w + kx) * g.c + c] * w[(ky * g.kw + kx) * g.c + c];
        yp[c] = acc;
      }
    };
    if constexpr (!std::is_same_v<VT, DwScalar>) {
      if (fast) {
        if (g.ow >= tile) {
          if constexpr (VT::lanes == 16) {
            if (pair) {
              dw3x3_forward_rows<VT, VT::pixels, true>(g, x, w, b, y, oy);
              ++oy;  // done with oy + 1 too
              continue;
            }
            if (tile != VT::pixels) {
              dw3x3_forward_rows<VT, VT::pixels - 1, false>(g, x, w, b, y, oy);
              continue;
            }
          }
          dw3x3_forward_rows<VT, VT::pixels, false>(g, x, w, b, y, oy);
          continue;
        }
        for (; ox < g.ow; ++ox) dw3x3_forward_pixel<VT>(g, x, w, b, y, oy, ox);
        continue;
      }
    }
    if (g.c % dw_block == 0) {
      for (; ox < ox_lo; ++ox) edge_pixel(ox);
      const TapRange t = taps_inside(g, oy, ox_lo);
      for (; ox + P <= ox_hi; ox += P) {
        const float* xo = x + ((oy * g.sh - g.pad_top) * g.w + (ox * g.sw - g.pad_left)) * g.c;
        float* yp = y + (oy * g.ow + ox) * g.c;
        for (int64_t c0 = 0; c0 < g.c; c0 += dw_block) {
          float acc[P][dw_block];
          for (int64_t p = 0; p < P; ++p) {
            MOODNET_OMP(omp simd)
            for (int64_t i = 0; i < dw_block; ++i) acc[p][i] = b ? b[c0 + i] : 0.0f;
          }
          for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const float* wp = w + (ky * g.kw + kx) * g.c + c0;
              const float* xp = xo + (ky * g.w + kx) * g.c + c0;
              for (int64_t p = 0; p < P; ++p) {
                MOODNET_OMP(omp simd)
                for (int64_t i = 0; i < dw_block; ++i) acc[p][i] += xp[p * g.sw * g.c + i] * wp[i];
              }
            }
          for (int64_t p = 0; p < P; ++p) {
            MOODNET_OMP(omp simd)
            for (int64_t i = 0; i < dw_block; ++i) yp[p * g.c + c0 + i] = acc[p][i];
          }
        }
      }
    }
    for (; ox < g.ow; ++ox) edge_pixel(ox);
  }
}

// One image: dx:(H,W,C) = scatter of dy:(OH,OW,C) * w over the taps (overwritten). Stride 1
// uses the forward body on dy with the flipped kernel (callers pass it); this is the rest.
MOODNET_ALWAYS_INLINE void dw_backward_data_image(const ConvGeometry& g, const float* dy,
                                                  const float* w, float* dx) {
  std::fill(dx, dx + g.h * g.w * g.c, 0.0f);
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const TapRange t = taps_inside(g, oy, ox);
      const float* d = dy + (oy * g.ow + ox) * g.c;
      float* xo = dx + ((oy * g.sh - g.pad_top) * g.w + (ox * g.sw - g.pad_left)) * g.c;
      for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
        for (int64_t kx = t.kx0; kx < t.kx1; ++kx)
          fma_channels(g.c, d, w + (ky * g.kw + kx) * g.c, xo + (ky * g.w + kx) * g.c);
    }
}

// One image: dw:(KH,KW,C) += sum over pixels of x * dy; db:(C) += sum of dy (if given). For a
// 3x3 kernel, row by row through every channel with the tap sums in registers (dw3x3_params).
template <class VT>
MOODNET_ALWAYS_INLINE void dw_backward_params_image(const ConvGeometry& g, const float* x,
                                                    const float* dy, float* dw, float* db) {
  constexpr int64_t max_taps = 9;
  const int64_t taps = g.kh * g.kw;
  if constexpr (!std::is_same_v<VT, DwScalar>)
    if (dw_fast_3x3<VT>(g)) return dw3x3_params<VT>(g, x, dy, dw, db);
  int64_t c0 = 0;
  if (taps <= max_taps)
    for (; c0 + dw_block <= g.c; c0 += dw_block) {
      float acc[max_taps][dw_block] = {}, bacc[dw_block] = {};
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const TapRange t = taps_inside(g, oy, ox);
          const float* d = dy + (oy * g.ow + ox) * g.c + c0;
          const float* xo =
              x + ((oy * g.sh - g.pad_top) * g.w + (ox * g.sw - g.pad_left)) * g.c + c0;
          MOODNET_OMP(omp simd)
          for (int64_t i = 0; i < dw_block; ++i) bacc[i] += d[i];
          for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
            for (int64_t kx = t.kx0; kx < t.kx1; ++kx) {
              const float* xp = xo + (ky * g.w + kx) * g.c;
              float* a = acc[ky * g.kw + kx];
              MOODNET_OMP(omp simd)
              for (int64_t i = 0; i < dw_block; ++i) a[i] += xp[i] * d[i];
            }
        }
      for (int64_t k = 0; k < taps; ++k)
        for (int64_t i = 0; i < dw_block; ++i) dw[k * g.c + c0 + i] += acc[k][i];
      if (db)
        for (int64_t i = 0; i < dw_block; ++i) db[c0 + i] += bacc[i];
    }
  if (c0 == g.c) return;
  for (int64_t oy = 0; oy < g.oh; ++oy)  // the remaining channels, one pixel at a time
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const TapRange t = taps_inside(g, oy, ox);
      const float* d = dy + (oy * g.ow + ox) * g.c;
      const float* xo = x + ((oy * g.sh - g.pad_top) * g.w + (ox * g.sw - g.pad_left)) * g.c;
      for (int64_t c = c0; c < g.c; ++c) {
        if (db) db[c] += d[c];
        for (int64_t ky = t.ky0; ky < t.ky1; ++ky)
          for (int64_t kx = t.kx0; kx < t.kx1; ++kx)
            dw[(ky * g.kw + kx) * g.c + c] += xo[(ky * g.w + kx) * g.c + c] * d[c];
      }
    }
}

// The same bodies compiled per ISA (the always_inline bodies take the caller's target).
#define MOODNET_DW_VARIANTS(suffix, target, traits)                                             \
  target inline void dw_forward_##suffix(const ConvGeometry& g, const float* x, const float* w, \
                                         const float* b, float* y) {                            \
    dw_forward_image<traits>(g, x, w, b, y);                                                    \
  }                                                                                             \
  target inline void dw_backward_data_##suffix(const ConvGeometry& g, const float* dy,          \
                                               const float* w, float* dx) {                     \
    dw_backward_data_image(g, dy, w, dx);                                                       \
  }                                                                                             \
  target inline void dw_backward_params_##suffix(const ConvGeometry& g, const float* x,         \
                                                 const float* dy, float* dw, float* db) {       \
    dw_backward_params_image<traits>(g, x, dy, dw, db);                                         \
  }

MOODNET_DW_VARIANTS(generic, , DwScalar)
#if MOODNET_SGEMM_X86
MOODNET_DW_VARIANTS(avx2, MOODNET_TARGET_AVX2, DwAvx2)
MOODNET_DW_VARIANTS(avx512, MOODNET_TARGET_AVX512, DwAvx512)
#endif
#undef MOODNET_DW_VARIANTS

struct DepthwiseKernels {
  void (*forward)(const ConvGeometry&, const float*, const float*, const float*, float*);
  void (*backward_data)(const ConvGeometry&, const float*, const float*, float*);
  void (*backward_params)(const ConvGeometry&, const float*, const float*, float*, float*);
};

inline DepthwiseKernels depthwise_kernels() {
  switch (active_isa()) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      return {&dw_forward_avx512, &dw_backward_data_avx512, &dw_backward_params_avx512};
    case Isa::avx2:
      return {&dw_forward_avx2, &dw_backward_data_avx2, &dw_backward_params_avx2};
#endif
    default:
      return {&dw_forward_generic, &dw_backward_data_generic, &dw_backward_params_generic};
  }
}

}  // namespace detail

// x:(N,H,W,C) w:(KH,KW,C,M) b:(C*M)|null y:(N,OH,OW,C*M)
inline void depthwise_conv2d_forward(const ConvGeometry& g, const float* x, const float* w,
                                     const float* b, float* y) {
  if (g.f != g.c) return naive::depthwise_conv2d_forward(g, x, w, b, y);
  const auto k = detail::depthwise_kernels();
  const bool par = g.n * g.oh * g.ow * g.c * g.kh * g.kw > 65536;
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t n = 0; n < g.n; ++n)
  k.forward(g, x + n * g.h * g.w * g.c, w, b, y + n * g.oh * g.ow * g.c);
}

// dy:(N,OH,OW,C*M) w:(KH,KW,C,M) -> dx:(N,H,W,C), overwritten
inline void depthwise_conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w,
                                           float* dx) {
  if (g.f != g.c) return naive::depthwise_conv2d_backward_data(g, dy, w, dx);
  const auto k = detail::depthwise_kernels();
  if (g.sh == 1 && g.sw == 1) {
    // dx = depthwise conv of dy with the flipped kernel, padded by KH-1-pad_top / KW-1-pad_left.
    ConvGeometry gt = g;
    gt.h = g.oh, gt.w = g.ow, gt.oh = g.h, gt.ow = g.w;
    gt.pad_top = g.kh - 1 - g.pad_top, gt.pad_left = g.kw - 1 - g.pad_left;
    static thread_local std::vector<float> flipped_buf;
    float* flipped = detail::scratch(flipped_buf, static_cast<size_t>(g.kh * g.kw * g.c));
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx)
        std::copy_n(w + ((g.kh - 1 - ky) * g.kw + (g.kw - 1 - kx)) * g.c, g.c,
                    flipped + (ky * g.kw + kx) * g.c);
    const bool par1 = g.n * g.oh * g.ow * g.c * g.kh * g.kw > 65536;
    (void)par1;
MOODNET_OMP(omp parallel for schedule(static) if (par1))
for (int64_t n = 0; n < g.n; ++n)
  k.forward(gt, dy + n * g.oh * g.ow * g.c, flipped, nullptr, dx + n * g.h * g.w * g.c);
return;
  }
  const bool par = g.n * g.oh * g.ow * g.c * g.kh * g.kw > 65536;
  (void)par;
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t n = 0; n < g.n; ++n)
  k.backward_data(g, dy + n * g.oh * g.ow * g.c, w, dx + n * g.h * g.w * g.c);
}

// dw:(KH,KW,C,M) += ..., db:(C*M)|null += ... Fixed image groups summed in a fixed order, so
// the result does not depend on the thread count.
inline void depthwise_conv2d_backward_params(const ConvGeometry& g, const float* x, const float* dy,
                                             float* dw, float* db) {
  if (g.f != g.c) return naive::depthwise_conv2d_backward_params(g, x, dy, dw, db);
  const auto k = detail::depthwise_kernels();
  const int64_t groups = std::min<int64_t>(g.n, 8), wsize = g.kh * g.kw * g.c;
  const int64_t stride = wsize + g.c;
  static thread_local std::vector<float> partial_buf;
  float* partial = detail::scratch(partial_buf, static_cast<size_t>(groups * stride));
  const bool par = g.n * g.oh * g.ow * g.c * g.kh * g.kw > 65536;
  (void)par;
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t gi = 0; gi < groups; ++gi) {
  float* acc = partial + gi * stride;
  std::fill(acc, acc + stride, 0.0f);
  for (int64_t n = gi * g.n / groups; n < (gi + 1) * g.n / groups; ++n)
    k.backward_params(g, x + n * g.h * g.w * g.c, dy + n * g.oh * g.ow * g.c, acc,
                      db ? acc + wsize : nullptr);
}
for (int64_t i = 0; i < wsize; ++i)
  for (int64_t gi = 0; gi < groups; ++gi) dw[i] += partial[gi * stride + i];
if (db)
  for (int64_t i = 0; i < g.c; ++i)
    for (int64_t gi = 0; gi < groups; ++gi) db[i] += partial[gi * stride + wsize + i];
}

}  // namespace moodnet::cpu
