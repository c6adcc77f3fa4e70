// Conv2D kernels for the Cpu device.
//   forward          3x3 stride 1 with C, F >= 16: Winograd F(4x4, 3x3) (winograd4.hpp) where
//                    C <= 64 and the output is at least 8x8, else F(2x2, 3x3) (winograd.hpp);
//                    otherwise direct: register tiles read the input image in place
//                    (conv_micro.hpp), the packed weights stay in L2; bias and ReLU applied in
//                    the tile epilogue.
//   backward-data    stride 1: a forward conv of dy with the flipped, transposed kernel (so
//                    Winograd where the forward would be); other strides: GEMM into a column
//                    buffer + col2im.
//   backward-params  direct on a zero-padded copy of each image, rows = kernel taps, in blocks
//                    of output rows; fixed image groups summed in a fixed order (deterministic).
//   1x1              the same kernels: a GEMM that reads the input as stored (packing A would
//                    cost more than it saves at these K), each image's pixels one long row.
#pragma once

#include <algorithm>
#include <vector>

#include "../contract.hpp"
#include "conv_micro.hpp"
#include "elementwise.hpp"
#include "gemm.hpp"
#include "winograd.hpp"
#include "winograd4.hpp"

namespace moodnet {

namespace cpu {

// One image's patches: x:(H,W,C) -> col:(OH*OW, KH*KW*C); padding reads as zero.
inline void im2col(const ConvGeometry& g, const float* x, float* col) {
  const int64_t kkc = g.kh * g.kw * g.c;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      float* row = col + (oy * g.ow + ox) * kkc;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.pad_top + ky;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.sw - g.pad_left + kx;
          float* dst = row + (ky * g.kw + kx) * g.c;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w)
            std::fill(dst, dst + g.c, 0.0f);
          else
            std::copy(x + (iy * g.w + ix) * g.c, x + (iy * g.w + ix + 1) * g.c, dst);
        }
      }
    }
}

// The adjoint of im2col: dx:(H,W,C) += scattered col:(OH*OW, KH*KW*C).
inline void col2im_add(const ConvGeometry& g, const float* col, float* dx) {
  const int64_t kkc = g.kh * g.kw * g.c;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const float* row = col + (oy * g.ow + ox) * kkc;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.pad_top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.sw - g.pad_left + kx;
          if (ix < 0 || ix >= g.w) continue;
          const float* src = row + (ky * g.kw + kx) * g.c;
          float* dst = dx + (iy * g.w + ix) * g.c;
          for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
}

// A 1x1, stride-1 convolution is a plain GEMM on the input as stored.
inline bool is_pointwise(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0;
}

// A pointwise conv's pixels are one run per image: seen as a 1 x (H*W) image its tiles run
// across output-row boundaries, so no tile rows sit idle whatever the width (and the 6 x 64
// tile fits).
inline ConvGeometry as_single_row(const ConvGeometry& g) {
  if (!is_pointwise(g)) return g;
  ConvGeometry r = g;
  r.w = r.ow = g.h * g.w, r.h = r.oh = 1;
  return r;
}

inline void add_bias_rows(int64_t rows, int64_t f, const float* b, float* y) {
  if (!b) return;
MOODNET_OMP(omp parallel for schedule(static) if (rows * f > 65536))
for (int64_t r = 0; r < rows; ++r)
  for (int64_t j = 0; j < f; ++j) y[r * f + j] += b[j];
}

// db(F) += column sums of dy(rows, F), in row order.
inline void bias_grad(int64_t rows, int64_t f, const float* dy, float* db) {
  if (!db) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) db[j] += dy[r * f + j];
}

// Number of fixed image groups for batch reductions; independent of the thread count.
inline int64_t reduction_groups(int64_t n) { return std::min<int64_t>(n, 8); }

namespace detail {

#if MOODNET_SGEMM_X86
MOODNET_TARGET_AVX512 inline void sum_rows_avx512(int64_t rows, int64_t f, const float* dy,
                                                  float* db) {
  // Up to 64 columns at a time, row after row, so the reads run through memory in order (one
  // 16-column block at a time strides past the other lines, and L2 then serves a line every
  // ~5 cycles); two rows in flight for independent adds.
  for (int64_t j0 = 0; j0 < f; j0 += 64) {
    const int64_t nb = std::min<int64_t>(4, (f - j0 + 15) / 16);
    mmask16 mask[4];
    MOODNET_UNROLL
    for (int b = 0; b < 4; ++b) mask[b] = first_lanes16(f - j0 - 16 * b);
    m512 s0[4], s1[4];
    MOODNET_UNROLL
    for (int b = 0; b < 4; ++b) s0[b] = s1[b] = mm512_setzero_ps();
    const float* d = dy + j0;
    int64_t r = 0;
    for (; r + 1 < rows; r += 2, d += 2 * f) {
      MOODNET_UNROLL
      for (int b = 0; b < 4; ++b)
        if (b < nb) {
          s0[b] = mm512_add_ps(s0[b], mm512_maskz_loadu_ps(mask[b], d + 16 * b));
          s1[b] = mm512_add_ps(s1[b], mm512_maskz_loadu_ps(mask[b], d + f + 16 * b));
        }
    }
    if (r < rows) {
      MOODNET_UNROLL
      for (int b = 0; b < 4; ++b)
        if (b < nb) s0[b] = mm512_add_ps(s0[b], mm512_maskz_loadu_ps(mask[b], d + 16 * b));
    }
    MOODNET_UNROLL
    for (int b = 0; b < 4; ++b)
      if (b < nb) {
        float* o = db + j0 + 16 * b;
        const m512 t = mm512_add_ps(mm512_add_ps(s0[b], s1[b]), mm512_maskz_loadu_ps(mask[b], o));
        mm512_mask_storeu_ps(o, mask[b], t);
      }
  }
}
#endif

}  // namespace detail

// db(F) += column sums of dy(rows, F), in a fixed order for a given ISA.
inline void sum_rows_into(int64_t rows, int64_t f, const float* dy, float* db) {
#if MOODNET_SGEMM_X86
  if (active_isa() == Isa::avx512) return detail::sum_rows_avx512(rows, f, dy, db);
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) db[j] += dy[r * f + j];
}

// Copies a few floats; std::copy_n would call memmove for runs as short as one RGB pixel.
inline void copy_small(const float* __restrict src, int64_t n, float* __restrict dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// w:(KKC, F) -> NR-wide column strips [ceil(F/NR)][KKC][NR], padding columns zero. Row runs
// copied whole: the packing runs on every forward call, and for the wide 1x1 convs of seed003
// (up to 1024 x 728 weights) the per-float loop with its column test took a fifth of a batch-1
// prediction.
inline void pack_weight_strips(int64_t kkc, int64_t f, int64_t nr, const float* w, float* dst) {
  const int64_t strips = (f + nr - 1) / nr;
  for (int64_t k = 0; k < kkc; ++k)
    for (int64_t s = 0; s < strips; ++s) {
      const int64_t n = std::min(nr, f - s * nr);
      float* d = dst + (s * kkc + k) * nr;
      std::copy_n(w + k * f + s * nr, n, d);
      std::fill(d + n, d + nr, 0.0f);
    }
}

// Part `part` of `parts` of the cache lines of [p, p + floats): its first line and line count.
struct LineSpan {
  const float* p;
  int64_t lines;
};
inline LineSpan line_part(const float* p, int64_t floats, int64_t part, int64_t parts) {
  constexpr int64_t line = 64 / sizeof(float);
  const int64_t lines = (floats + line - 1) / line;
  const int64_t l0 = lines * part / parts, l1 = lines * (part + 1) / parts;
  return {p + l0 * line, l1 - l0};
}

// Part `part` of `parts` of the lines of [p, p + floats) into L2: a long prefetch spread over
// the calls of a loop, so it runs beside the FMAs instead of in one burst.
inline void prefetch_part(const float* p, int64_t floats, int64_t part, int64_t parts) {
  const LineSpan s = line_part(p, floats, part, parts);
  prefetch_l2_range(s.p, s.lines * int64_t(64 / sizeof(float)));
}

namespace detail {

// Output row oy of one image: yrow:(OW,F) = act(conv(xn:(H,W,C), packed w) + b). Rows of a tile
// are MR consecutive output pixels; a tile whose window leaves the image (or a short last tile)
// reads a zero-padded copy of its window in `patch` (KH * ((MR - 1) * SW + KW) * C floats).
// streamed_output: yrow is part of the output tensor (ConvMicroArgs::streamed_output), not a
// buffer of a few rows written over again.
inline void conv_forward_direct_row(const ConvGeometry& g, const float* xn, const float* wpack,
                                    const ConvTile& t, const float* b, Activation act, int64_t oy,
                                    float* yrow, float* patch, bool streamed_output) {
  const int64_t MR = t.MR, NR = t.NR, kwc = g.kw * g.c, kkc = g.kh * kwc;
  const int64_t strips = (g.f + NR - 1) / NR;
  const int64_t pw = (MR - 1) * g.sw + g.kw;  // window width of a tile, in pixels
  const int64_t iy0 = oy * g.sh - g.pad_top;
  const bool rows_inside = iy0 >= 0 && iy0 + g.kh <= g.h;
  ConvMicroArgs p;
  p.nq = g.kh, p.nk = kwc, p.a_i = g.sw * g.c, p.b_q = kwc * NR, p.b_k = NR, p.ldc = g.f;
  p.act = act;
  // One-channel inputs fetch their output ahead on AMD only (conv_micro_avx512_3x3_impl).
  p.streamed_output = streamed_output && (g.c != 1 || stream_prefetch());
  // 1x1 stride-1 convs (no padding, so a tile's input is its m pixels, contiguous) fetch the
  // tile four steps ahead into L2, input and output: ~1 us of FMAs at f_pw. With C FMAs per
  // value loaded they stream from L3 or memory, and the hardware prefetcher alone left the
  // FMAs waiting (f_pw on PERFORMANCE.md's host B, 1 thread: forward 76-88 -> 93-96 GF/s,
  // backward-data 67-78 -> 89-95). A 3x3 conv does 9x more per byte: there it cost the RGB
  // first layers (shapes a and d) 10-15 %. Strided 1x1 convs were not measured. The lines go
  // to the micro kernels (ConvMicroArgs::l2_ahead), a strip's share each, one a k step: the 72
  // prefetches of an f_pw tile issued at once left its FMAs waiting on Zen 5 (host D, f_pw
  // against oneDNN: forward 1 thread 0.85-0.87 -> 0.97-1.03, 2 threads 0.79-0.86 -> 0.91-0.96;
  // backward-data 0.95-0.99 -> 1.01-1.07 and 0.76-0.94 -> 0.95-1.00).
  const bool prefetch = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && stream_prefetch();
  constexpr int64_t prefetch_tiles = 4;
  // RGB-like inputs (C <= 4): each tile fetches, into L2, the input its columns add for the
  // next output row (kernel row KH), so the input streams in ahead of the FMAs. The hardware
  // prefetcher alone left the RGB first layers waiting on memory on AMD Zen 5 (PERFORMANCE.md's
  // host D, shapes a and d against oneDNN, 1 thread: 0.81 -> 1.08-1.11 and 0.67 -> 0.91-0.98;
  // 2 threads 0.70 -> 1.05-1.22, 0.63-0.68 -> 0.97). Not measured on Intel: AMD only, as the 1x1
  // stream prefetch. One-channel inputs (fer1, 48 x 48) sit in L2 anyway: no change there.
  const bool prefetch_next_row = g.c <= 4 && stream_prefetch();
  for (int64_t ox0 = 0; ox0 < g.ow; ox0 += MR) {
    p.m = static_cast<int>(std::min(MR, g.ow - ox0));
    const int64_t ix0 = ox0 * g.sw - g.pad_left;
    const float *pf_x = nullptr, *pf_y = nullptr;  // the tile prefetch_tiles ahead, or none
    int64_t pf_x_floats = 0, pf_y_floats = 0;
    if (const int64_t ox1 = ox0 + prefetch_tiles * MR; prefetch && ox1 < g.ow) {
      const int64_t m1 = std::min(MR, g.ow - ox1);
      pf_x = xn + (iy0 * g.w + ox1) * g.c, pf_x_floats = m1 * g.c;
      pf_y = yrow + ox1 * g.f, pf_y_floats = m1 * g.f;
    }
    if (prefetch_next_row && iy0 + g.kh < g.h) {
      const int64_t lo = std::max<int64_t>(ix0, 0), hi = std::min(g.w, ix0 + pw);
      if (hi > lo) prefetch_l2_range(xn + ((iy0 + g.kh) * g.w + lo) * g.c, (hi - lo) * g.c);
    }
    if (rows_inside && p.m == MR && ix0 >= 0 && ix0 + pw <= g.w) {
      p.a = xn + (iy0 * g.w + ix0) * g.c, p.a_q = g.w * g.c;
    } else {
      // The tile's window, zero outside the image: one copy per kernel row.
      const int64_t lo = std::clamp<int64_t>(-ix0, 0, pw), hi = std::clamp(g.w - ix0, lo, pw);
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = iy0 + ky;
        float* d = patch + ky * pw * g.c;
        if (iy < 0 || iy >= g.h) {
          std::fill(d, d + pw * g.c, 0.0f);
          continue;
        }
        std::fill(d, d + lo * g.c, 0.0f);
        std::copy(xn + (iy * g.w + ix0 + lo) * g.c, xn + (iy * g.w + ix0 + hi) * g.c, d + lo * g.c);
        std::fill(d + hi * g.c, d + pw * g.c, 0.0f);
      }
      p.a = patch, p.a_q = pw * g.c;
    }
    for (int64_t s = 0; s < strips; ++s) {
      p.b = wpack + s * kkc * NR;
      p.c = yrow + ox0 * g.f + s * NR;
      p.n = static_cast<int>(std::min(NR, g.f - s * NR));
      p.bias = b ? b + s * NR : nullptr;
      // This strip's share of the lines fetched ahead, issued by the micro kernel.
      const LineSpan ax = line_part(pf_x, pf_x_floats, s, strips);
      const LineSpan ay = line_part(pf_y, pf_y_floats, s, strips);
      p.l2_ahead[0] = ax.p, p.l2_ahead_lines[0] = ax.lines;
      p.l2_ahead[1] = ay.p, p.l2_ahead_lines[1] = ay.lines;
      t.micro(p);
    }
  }
}

inline int64_t conv_patch_floats(const ConvGeometry& g, const ConvTile& t) {
  return g.kh * ((t.MR - 1) * g.sw + g.kw) * g.c;
}

}  // namespace detail

namespace detail {

// The direct path's tile for g and w:(KH,KW,C,F) packed into its strips, in a buffer of the
// calling thread (valid until its next call).
struct DirectWeights {
  ConvTile t;
  const float* wpack;
};
inline DirectWeights direct_weights(const ConvGeometry& g, const float* w) {
  const ConvTile t = conv_forward_tile(active_isa(), g.f, g.sw * g.c, as_single_row(g).ow);
  const int64_t kkc = g.kh * g.kw * g.c, strips = (g.f + t.NR - 1) / t.NR;
  static thread_local std::vector<float> wpack_buf;
  float* wpack = scratch(wpack_buf, static_cast<size_t>(strips * kkc * t.NR));
  pack_weight_strips(kkc, g.f, t.NR, w, wpack);
  return {t, wpack};
}

}  // namespace detail

// y:(N,OH,OW,F) = act(conv(x:(N,H,W,C), packed w) + b), output row by output row.
inline void conv_forward_direct(const ConvGeometry& g, const float* x, const float* wpack,
                                const ConvTile& t, const float* b, Activation act, float* y) {
  const int64_t kkc = g.kh * g.kw * g.c;
  const bool par = g.n * g.oh * g.ow * g.f * kkc > (1 << 18);
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (par))
for (int64_t n = 0; n < g.n; ++n)
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    static thread_local std::vector<float> patch_buf;
    float* patch = detail::scratch(patch_buf, static_cast<size_t>(detail::conv_patch_floats(g, t)));
    detail::conv_forward_direct_row(g, x + n * g.h * g.w * g.c, wpack, t, b, act, oy,
                                    y + (n * g.oh + oy) * g.ow * g.f, patch, true);
  }
}

// Conv2D forward with the bias and an optional ReLU/ReLU6 fused into the epilogue.
// x:(N,H,W,C) w:(KH,KW,C,F) b:(F)|null y:(N,OH,OW,F)
inline void conv2d_forward_fused(const ConvGeometry& g, const float* x, const float* w,
                                 const float* b, Activation act, float* y) {
  MOODNET_CHECK(act == Activation::linear || act == Activation::relu || act == Activation::relu6,
                "conv2d_forward_fused: activation ", to_string(act), " cannot be fused");
  if (winograd4_applies(g)) return conv_forward_winograd4(g, x, w, b, act, y);
  if (winograd_applies(g)) return conv_forward_winograd(g, x, w, b, act, y);
  const detail::DirectWeights dw = detail::direct_weights(g, w);
  conv_forward_direct(as_single_row(g), x, dw.wpack, dw.t, b, act, y);
}

// Conv2D -> MaxPooling2D fused for inference, where the pool windows tile the conv output from
// its top-left corner (stride = pool size, no padding before) and the conv runs direct (not
// 1x1), or runs Winograd F(4x4) under 2x2 windows. The conv output of an RGB first layer is the
// largest tensor of a network (seed002: 132 MB at batch 32) and the pool reads it straight
// back; here each pooled row's conv rows stay in a per-thread buffer instead (direct), or each
// 4x4 output tile is pooled as it is transformed (Winograd). F(2x2) convs are not fused.
// p pools the output of g with windows that tile it from its top-left corner (stride = pool
// size, no padding before): what both fusions of the two layers need.
inline bool pool_windows_tile_output(const ConvGeometry& g, const PoolGeometry& p) {
  return p.n == g.n && p.h == g.oh && p.w == g.ow && p.c == g.f && p.ph == p.sh && p.pw == p.sw &&
         p.pad_top == 0 && p.pad_left == 0 && p.oh > 0 && p.ow > 0;
}
inline bool conv2d_max_pool_applies(const ConvGeometry& g, const PoolGeometry& p) {
  const bool windows = pool_windows_tile_output(g, p);
  if (winograd4_applies(g)) return windows && p.ph == 2 && p.pw == 2;
  return windows && !winograd_applies(g) && !is_pointwise(g);
}

// y:(N,POH,POW,F) = maxpool_p(act(conv(x:(N,H,W,C), w:(KH,KW,C,F)) + b)): the same values as
// conv2d_forward_fused then max_pool2d_forward, bit for bit (same tiles per conv row, same max
// order per window). Windows past the conv output's edge ('same' pooling) take what exists.
// Training passes idx:(N,POH,POW,F): each window's first maximum, for the pool's backward without
// the conv output (max_pool_forward_index_image; the activation's derivative folded in).
inline void conv2d_forward_max_pool(const ConvGeometry& g, const float* x, const float* w,
                                    const float* b, Activation act, const PoolGeometry& p, float* y,
                                    uint8_t* idx = nullptr) {
  MOODNET_CHECK(conv2d_max_pool_applies(g, p), "conv2d_forward_max_pool: the pool windows ", p.ph,
                "x", p.pw, " / ", p.sh, "x", p.sw, " or the conv do not fit the fused path");
  MOODNET_CHECK(act == Activation::linear || act == Activation::relu || act == Activation::relu6,
                "conv2d_forward_max_pool: activation ", to_string(act), " cannot be fused");
  MOODNET_CHECK(!idx || detail::pool_index_applies(p), "conv2d_forward_max_pool: ", p.ph, "x", p.pw,
                " windows are too large to index");
  if (winograd4_applies(g)) return conv_forward_winograd4_max_pool(g, x, w, b, act, p, y, idx);
  const detail::DirectWeights dw = detail::direct_weights(g, w);
  const ConvTile& t = dw.t;
  const float* wpack = dw.wpack;
  const int64_t kkc = g.kh * g.kw * g.c;
  const int64_t row = g.ow * g.f;  // floats per conv output row
  const auto kernels = detail::elementwise_kernels();
  const int mask = detail::folded_activation_mask(act);
  const bool par = g.n * g.oh * g.ow * g.f * kkc > (1 << 18);
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (par))
for (int64_t n = 0; n < g.n; ++n)
  for (int64_t py = 0; py < p.oh; ++py) {
    static thread_local std::vector<float> patch_buf, rows_buf;
    float* patch = detail::scratch(patch_buf, static_cast<size_t>(detail::conv_patch_floats(g, t)));
    float* rows = detail::scratch(rows_buf, static_cast<size_t>(p.ph * row));
    const int64_t oy0 = py * p.sh, nrows = std::min(p.ph, g.oh - oy0);
    for (int64_t r = 0; r < nrows; ++r)
      detail::conv_forward_direct_row(g, x + n * g.h * g.w * g.c, wpack, t, b, act, oy0 + r,
                                      rows + r * row, patch, false);
    // The pooled row: the pool kernel (per ISA) over the nrows conv rows as a one-row image.
    PoolGeometry pr = p;
    pr.n = 1, pr.h = nrows, pr.oh = 1;
    const int64_t at = (n * p.oh + py) * p.ow * g.f;
    if (idx)
      kernels.max_pool_forward_index(pr, rows, y + at, idx + at, mask);
    else
      kernels.max_pool_forward(pr, rows, y + at);
  }
}

// Stride-1 backward-data as a forward conv: dx = conv(dy, w'), w'(ky,kx,f,c) = w(KH-1-ky,
// KW-1-kx, c, f), padded by KH-1-pad_top / KW-1-pad_left. dy:(N,OH,OW,F) -> dx:(N,H,W,C)
inline void conv_backward_data_stride1(const ConvGeometry& g, const float* dy, const float* w,
                                       float* dx) {
  ConvGeometry gt;
  gt.n = g.n, gt.h = g.oh, gt.w = g.ow, gt.c = g.f, gt.kh = g.kh, gt.kw = g.kw;
  gt.oh = g.h, gt.ow = g.w, gt.f = g.c;
  gt.pad_top = g.kh - 1 - g.pad_top, gt.pad_left = g.kw - 1 - g.pad_left;
  const int64_t kkc = g.kh * g.kw * g.f;
  static thread_local std::vector<float> flipped_buf;
  float* flipped = detail::scratch(flipped_buf, static_cast<size_t>(kkc * g.c));
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx)
      for (int64_t f = 0; f < g.f; ++f)
        for (int64_t c = 0; c < g.c; ++c)
          flipped[((ky * g.kw + kx) * g.f + f) * g.c + c] =
              w[(((g.kh - 1 - ky) * g.kw + (g.kw - 1 - kx)) * g.c + c) * g.f + f];
  if (winograd4_applies(gt))
    return conv_forward_winograd4(gt, dy, flipped, nullptr, Activation::linear, dx);
  if (winograd_applies(gt))
    return conv_forward_winograd(gt, dy, flipped, nullptr, Activation::linear, dx);
  const detail::DirectWeights dw = detail::direct_weights(gt, flipped);
  conv_forward_direct(as_single_row(gt), dy, dw.wpack, dw.t, nullptr, Activation::linear, dx);
}

// Output rows per block of conv_backward_params_image: a block's dy and input rows stay in L2
// while its tiles sweep them.
inline int64_t weight_grad_rows_per_block(const ConvGeometry& g) {
  return std::max<int64_t>(1, 512 / g.ow);
}

// acc:(KH*KW*C, F) += sum over the pixels of one image of patch^T * dy, read in place from a
// zero-padded copy of the image. Tiles cover MR consecutive taps of one kernel row (contiguous
// in the image). Narrow kernel rows (KW*C < MR) leave rows of a tile idle, which still beats
// copying an im2col buffer (the copy costs more than the FMAs at F=16). floats_after: how many
// input floats follow this image in the batch buffer (a short last tile may read up to MR - 1
// of them). next_xn / next_dyn: the image that comes next on this thread (or null), fetched
// while this one's last block runs.
// dy rows come from block_dy(oy0, rows, p): the (rows, OW, F) rows of dy from output row oy0
// on, valid until its next call; it may set p.l2_ahead, lines the block's first micro call
// fetches into L2. dyn is dy itself, or null when block_dy makes the rows (then 1x1 stride-1
// convs, which fetch the next block's dy ahead, are not allowed).
template <class BlockDy>
void conv_backward_params_image_blocks(const ConvGeometry& g, const ConvTile& t, const float* xn,
                                       BlockDy&& block_dy, const float* dyn, int64_t floats_after,
                                       float* acc, float* bias_acc, const float* next_xn,
                                       const float* next_dyn) {
  const int64_t MR = t.MR, NR = t.NR, kwc = g.kw * g.c;
  const int64_t hp = (g.oh - 1) * g.sh + g.kh, wp = (g.ow - 1) * g.sw + g.kw;
  const int64_t strips = (g.f + NR - 1) / NR;
  // A short last tile of taps reads (and discards) up to MR floats past the window.
  const bool overreads = kwc % MR != 0;
  const float* xp = xn;
  int64_t row = g.w * g.c;  // floats per input row
  if (g.pad_top > 0 || g.pad_left > 0 || hp > g.h || wp > g.w || (overreads && floats_after < MR)) {
    // 'same' padding (or the end of the batch buffer, which may be images away when they are
    // smaller than a tile): a zero-padded copy with slack.
    static thread_local std::vector<float> pad_buf;
    float* pad = detail::scratch(pad_buf, static_cast<size_t>(hp * wp * g.c + MR));
    // Row by row: zeros left, the image row's columns that fall inside, zeros right.
    const int64_t x0 = std::min(g.pad_left, wp), x1 = std::min(wp, g.pad_left + g.w);
    for (int64_t y = 0; y < hp; ++y) {
      const int64_t iy = y - g.pad_top;
      float* d = pad + y * wp * g.c;
      if (iy < 0 || iy >= g.h) {
        std::fill(d, d + wp * g.c, 0.0f);
        continue;
      }
      std::fill(d, d + x0 * g.c, 0.0f);
      std::copy(xn + iy * g.w * g.c, xn + (iy * g.w + (x1 - x0)) * g.c, d + x0 * g.c);
      std::fill(d + x1 * g.c, d + wp * g.c, 0.0f);
    }
    std::fill(pad + hp * wp * g.c, pad + hp * wp * g.c + MR, 0.0f);
    xp = pad, row = wp * g.c;
  }
  ConvMicroArgs p;
  p.b_k = g.f, p.ldc = g.f, p.accumulate = true;
  // Blocks of output rows keep the dy and input rows a tile sweeps in L2.
  const int64_t rows_per_block = weight_grad_rows_per_block(g);
  p.a_q = g.sh * row, p.a_k = g.sw * g.c, p.nk = g.ow, p.b_q = g.ow * g.f;
  const int64_t KR = t.kernel_rows;                                    // kernel rows per call
  const int64_t calls = (g.kh / KR) * ((kwc + MR - 1) / MR) * strips;  // micro calls per block
  p.a_r = row;
  // 1x1 stride-1 kernels only: 3x3 ones do 9x the FMAs per byte, the hardware prefetcher keeps
  // up, and this prefetch cost the RGB first layers (shapes a and d) 5 %; a strided 1x1 would
  // fetch rows it skips.
  const bool prefetch_next =
      dyn && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && stream_prefetch();
  // dy 128 pixels ahead into L2 (the narrow-input tiles, AMD): shapes a, d and fer1 against
  // oneDNN on PERFORMANCE.md's host D (Zen 5), 1 thread, bias gradient already after the tiles:
  // 1.04-1.05 -> 1.48-1.50, 0.89 -> 1.23-1.25, 0.88 -> 1.29-1.38; 64 and 256 ahead did about
  // as well. Not measured on Intel, so off there (as the other stream prefetches).
  p.b_prefetch_l2 = dyn && stream_prefetch() ? 128 : 0;  // not into block_dy's buffer
  for (int64_t oy0 = 0; oy0 < g.oh; oy0 += rows_per_block) {
    p.nq = std::min(rows_per_block, g.oh - oy0);
    // The next block's input rows and dy rows (this image's, else the next image's first),
    // fetched a part per micro call: the first tile of a block would otherwise wait on memory.
    const int64_t oy1 = oy0 + rows_per_block;
    const float *pf_x = nullptr, *pf_dy = nullptr;
    int64_t pf_x_floats = 0, pf_dy_floats = 0;
    if (prefetch_next && oy1 < g.oh) {
      const int64_t nq = std::min(rows_per_block, g.oh - oy1);
      pf_x = xp + oy1 * row, pf_x_floats = nq * row;
      pf_dy = dyn + oy1 * g.ow * g.f, pf_dy_floats = nq * g.ow * g.f;
    } else if (prefetch_next && next_xn && next_dyn) {
      const int64_t nq = std::min(rows_per_block, g.oh);
      pf_x = next_xn, pf_x_floats = nq * g.w * g.c;
      pf_dy = next_dyn, pf_dy_floats = nq * g.ow * g.f;
    }
    const float* dyb = block_dy(oy0, p.nq, p);
    int64_t call = 0;
    // The bias gradient while this block of dy is in cache: before the tiles where they sweep the
    // block several times (calls > 1), so the sum's reads bring it in for all of them; after a
    // single sweep otherwise, which fetches it while its FMAs run (the sum first was a loop of
    // additions waiting on memory, with no FMAs to hide it). Shapes a and d (one sweep) against
    // oneDNN on host D (Zen 5), 1 thread: 0.84-0.85 -> 1.04-1.09 and 0.79-0.80 -> 0.89-0.94;
    // f_pw (4 sweeps) lost 10 % with the sum after.
    const bool bias_first = calls > 1;
    if (bias_acc && bias_first) sum_rows_into(p.nq * g.ow, g.f, dyb, bias_acc);
    for (int64_t ky = 0; ky < g.kh; ky += KR)
      for (int64_t i0 = 0; i0 < kwc; i0 += MR) {
        p.m = static_cast<int>(std::min(MR, kwc - i0));
        p.a = xp + (oy0 * g.sh + ky) * row + i0;
        for (int64_t s = 0; s < strips; ++s, ++call) {
          if (pf_x) {
            prefetch_part(pf_x, pf_x_floats, call, calls);
            prefetch_part(pf_dy, pf_dy_floats, call, calls);
          }
          p.b = dyb + s * NR;
          p.c = acc + (ky * kwc + i0) * g.f + s * NR;
          p.n = static_cast<int>(std::min(NR, g.f - s * NR));
          t.micro(p);
          std::fill_n(p.l2_ahead_lines, ConvMicroArgs::kAheadRanges, 0);
        }
      }
    if (bias_acc && !bias_first) sum_rows_into(p.nq * g.ow, g.f, dyb, bias_acc);
  }
}

// conv_backward_params_image_blocks over dyn:(OH,OW,F), the image's dy in memory.
inline void conv_backward_params_image(const ConvGeometry& g, const ConvTile& t, const float* xn,
                                       const float* dyn, int64_t floats_after, float* acc,
                                       float* bias_acc, const float* next_xn = nullptr,
                                       const float* next_dyn = nullptr) {
  conv_backward_params_image_blocks(
      g, t, xn, [&](int64_t oy0, int64_t, ConvMicroArgs&) { return dyn + oy0 * g.ow * g.f; }, dyn,
      floats_after, acc, bias_acc, next_xn, next_dyn);
}

// dw:(KH,KW,C,F) += sum over the images of image(n, acc, bias_acc, next), which adds image n's
// weight (and bias) gradient to acc (bias_acc, null without db); next: whether image n + 1 comes
// next on this thread. Fixed image groups, each summed on one thread, then added in group order:
// bitwise the same for any thread count.
template <class Image>
void conv_backward_params_groups(const ConvGeometry& g, float* dw, float* db, Image&& image) {
  const int64_t groups = reduction_groups(g.n), wsize = g.kh * g.kw * g.c * g.f;
  const int64_t stride = wsize + g.f;  // a group's weight and bias partials
  static thread_local std::vector<float> partial_buf;
  float* partial = detail::scratch(partial_buf, static_cast<size_t>(groups * stride));
MOODNET_OMP(omp parallel for schedule(static))
for (int64_t gi = 0; gi < groups; ++gi) {
  float* acc = partial + gi * stride;
  std::fill(acc, acc + stride, 0.0f);
  const int64_t n_end = (gi + 1) * g.n / groups;
  for (int64_t n = gi * g.n / groups; n < n_end; ++n)
    image(n, acc, db ? acc + wsize : nullptr, n + 1 < n_end);
}
MOODNET_OMP(omp parallel for schedule(static) if (wsize > 65536))
for (int64_t i = 0; i < wsize; ++i) {
  float s = dw[i];
  for (int64_t gi = 0; gi < groups; ++gi) s += partial[gi * stride + i];
  dw[i] = s;
}
if (db)
  for (int64_t j = 0; j < g.f; ++j) {
    float s = db[j];
    for (int64_t gi = 0; gi < groups; ++gi) s += partial[gi * stride + wsize + j];
    db[j] = s;
  }
}

// Direct (not Winograd) weight gradient: dw:(KH,KW,C,F) += patches^T * dy, db:(F) += column sums
// of dy. x:(N,H,W,C) dy:(N,OH,OW,F)
inline void conv_backward_params_direct(const ConvGeometry& g, const float* x, const float* dy,
                                        float* dw, float* db) {
  const int64_t pix = g.oh * g.ow, image = g.h * g.w * g.c;
  const ConvTile t = conv_weights_tile(active_isa(), g.f, g.kw * g.c, g.kh);
  conv_backward_params_groups(g, dw, db, [&](int64_t n, float* acc, float* bias_acc, bool next) {
    conv_backward_params_image(g, t, x + n * image, dy + n * pix * g.f, (g.n - 1 - n) * image, acc,
                               bias_acc, next ? x + (n + 1) * image : nullptr,
                               next ? dy + (n + 1) * pix * g.f : nullptr);
  });
}

// Training's Conv2D -> MaxPooling2D where the conv needs no input gradient (a network's first
// layer): its weight gradient straight from the pool's, the conv's dy made a block of rows at a
// time in a per-thread buffer by the pool's backward kernel from the index the fused forward
// kept (conv2d_forward_max_pool). The unfused path writes the whole conv-output gradient
// (seed002: 132 MB at batch 32) and reads it straight back. The pool windows tile the conv
// output from its top-left corner (stride = pool size, no padding before); the conv runs
// direct, not 1x1 (the caller checks that its weight gradient is not a Winograd one). Bitwise
// the same as max_pool2d_backward then conv_backward_params_direct: the same dy values, summed
// in the same blocks.
// x:(N,H,W,C) idx, dy:(N,POH,POW,F) the pool's index and gradient.
inline bool conv_backward_params_max_pool_fits(const ConvGeometry& g, const PoolGeometry& p) {
  return pool_windows_tile_output(g, p) && detail::pool_index_applies(p) && !is_pointwise(g);
}
inline void conv_backward_params_max_pool(const ConvGeometry& g, const float* x,
                                          const PoolGeometry& p, const uint8_t* idx,
                                          const float* dy, float* dw, float* db) {
  MOODNET_CHECK(conv_backward_params_max_pool_fits(g, p),
                "conv_backward_params_max_pool: the pool ", p.ph, "x", p.pw, " / ", p.sh, "x", p.sw,
                " or the conv do not fit the fused path");
  const int64_t image = g.h * g.w * g.c, zrow = g.ow * g.f, prow = p.ow * p.c;
  const int64_t pimage = p.oh * prow;
  const ConvTile t = conv_weights_tile(active_isa(), g.f, g.kw * g.c, g.kh);
  const auto pool_backward = detail::elementwise_kernels().max_pool_backward_index;
  const int64_t buf_rows = weight_grad_rows_per_block(g) + 2 * p.sh;
  const bool fetch_ahead = stream_prefetch();  // AMD only, as the other stream prefetches
  conv_backward_params_groups(g, dw, db, [&](int64_t n, float* acc, float* bias_acc, bool next) {
    static thread_local std::vector<float> rows_buf;
    float* rows = detail::scratch(rows_buf, static_cast<size_t>(buf_rows * zrow));
    const uint8_t* idxn = idx + n * pimage;
    const float* dyn = dy + n * pimage;
    // Conv rows [oy0, oy0 + count): the pool's backward over the pooled rows that cover them
    // (from the first row of the first one's window), as a small image; rows no window covers
    // ('valid' pooling of an odd height) are zero.
    const auto block_dy = [&](int64_t oy0, int64_t count, ConvMicroArgs& args) {
      const int64_t oy1 = oy0 + count, py0 = oy0 / p.sh;
      const int64_t py1 = std::min((oy1 - 1) / p.sh, p.oh - 1);
      if (py0 > py1) {
        std::fill(rows, rows + count * zrow, 0.0f);
        return static_cast<const float*>(rows);
      }
      const int64_t r0 = py0 * p.sh, r1 = std::max(oy1, std::min(g.oh, (py1 + 1) * p.sh));
      PoolGeometry pr = p;
      pr.n = 1, pr.h = r1 - r0, pr.oh = py1 - py0 + 1;
      pool_backward(pr, idxn + py0 * prow, dyn + py0 * prow, rows);
      if (fetch_ahead) {
        // The pooled rows the next block needs (at most as many as this one's, plus one),
        // fetched while this block's FMAs run: the hardware prefetcher restarts on every block,
        // and the pool's backward waited on memory.
        // After the last block, the next image's first rows, if this thread does it next.
        int64_t q0 = py1 + 1, q1 = std::min(p.oh, q0 + (count + p.sh - 1) / p.sh + 1);
        const uint8_t* iq = idxn;
        const float* dyq = dyn;
        if (q0 >= p.oh && next) {
          iq += pimage, dyq += pimage;
          q0 = 0, q1 = std::min(p.oh, (count + p.sh - 1) / p.sh + 1);
        }
        if (q1 > q0) {
          constexpr int64_t line = 64;
          const int64_t bytes[2] = {(q1 - q0) * prow, (q1 - q0) * prow * int64_t(sizeof(float))};
          // Prefetch addresses only: the index bytes go through the same float pointer.
          args.l2_ahead[0] = reinterpret_cast<const float*>(iq + q0 * prow);
          args.l2_ahead[1] = dyq + q0 * prow;
          for (int r = 0; r < 2; ++r) args.l2_ahead_lines[r] = (bytes[r] + line - 1) / line;
        }
      }
      return static_cast<const float*>(rows + (oy0 - r0) * zrow);
    };
    conv_backward_params_image_blocks(g, t, x + n * image, block_dy, nullptr, (g.n - 1 - n) * image,
                                      acc, bias_acc, next ? x + (n + 1) * image : nullptr, nullptr);
  });
}

}  // namespace cpu

}  // namespace moodnet
