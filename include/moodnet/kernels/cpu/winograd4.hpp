// Winograd F(4x4, 3x3) for stride-1 3x3 convolutions (forward, and backward-data as a forward
// conv of dy with the flipped kernel): 36 multiplications per 4x4 output tile and channel pair
// instead of 144, i.e. 4x fewer FLOPs in the GEMM stage (F(2x2, 3x3) in winograd.hpp: 2.25x),
// and 2.25 transformed values per output instead of 4. Interpolation points 0, 1, -1, 1/2, -2
// and infinity, not the usual 0, +-1, +-2: in a float32 simulation of 128-channel sums their
// largest error was about half the usual set's (matrices from Toom-Cook, checked exactly):
//   A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
//   G   = [1 0 0; 1/3 1/3 1/3; -1/3 1/3 -1/3; -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1]
//   B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0; 0 -2 -1 2 1 0;
//          0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]
//   U = G g G^T   36 matrices (C, F), packed into NR-wide strips once per call
//   V = B^T d B   per 6x6 input tile and channel
//   M = V U       36 GEMMs per block of tiles, on the conv register-tile microkernels
//   y = A^T M A   + bias, ReLU/ReLU6, the outputs that fall inside the image
// The larger transforms still round more than F(2x2)'s, and the error grows with the channel
// count of the sums: used up to 64 input channels, where it stays well inside the kernel tests'
// tolerance against the double reference (at 128 channels it came within 1.4x of it).
// Only the transforms live here (Winograd4 below): the tiling, the weight strips, the per-ISA
// instances and the blocked GEMM stage are winograd.hpp's, shared with F(2x2, 3x3); whole blocks
// of tiles per thread, so results do not depend on the thread count.
#pragma once

#include "../contract.hpp"
#include "winograd.hpp"

namespace moodnet::cpu {

// Whether conv_forward_winograd4 handles g (and is expected to beat F(2x2, 3x3)): the F(2x2)
// conditions, at most 64 input channels (accuracy, see above), and outputs of at least 8x8
// (smaller ones waste much of a 4x4 tile on padding).
inline bool winograd4_applies(const ConvGeometry& g) {
  return winograd_applies(g) && g.c <= 64 && g.oh >= 8 && g.ow >= 8;
}

namespace detail {

// One column or row of B^T d.
MOODNET_ALWAYS_INLINE void winograd4_bt(float d0, float d1, float d2, float d3, float d4, float d5,
                                        float& o0, float& o1, float& o2, float& o3, float& o4,
                                        float& o5) {
  o0 = d0 - 1.5f * d1 - 2.0f * d2 + 1.5f * d3 + d4;
  o1 = -d1 + 0.5f * d2 + 2.5f * d3 + d4;
  o2 = d1 - 2.5f * d2 + 0.5f * d3 + d4;
  o3 = -2.0f * d1 - d2 + 2.0f * d3 + d4;
  o4 = 0.5f * d1 - d2 - 0.5f * d3 + d4;
  o5 = d1 - 1.5f * d2 - 2.0f * d3 + 1.5f * d4 + d5;
}

// One column or row of A^T M: o[i] = sum_x A^T(i, x) m[x].
MOODNET_ALWAYS_INLINE void winograd4_at(float m0, float m1, float m2, float m3, float m4, float m5,
                                        float& o0, float& o1, float& o2, float& o3) {
  const float a = m1 + m2, b = m1 - m2;
  o0 = m0 + a + m3 + m4;
  o1 = b + 0.5f * m3 - 2.0f * m4;
  o2 = a + 0.25f * m3 + 4.0f * m4;
  o3 = b + 0.125f * m3 - 8.0f * m4 + m5;
}

// One column or row of G g.
MOODNET_ALWAYS_INLINE void winograd4_g(float a, float b, float c, float& o0, float& o1, float& o2,
                                       float& o3, float& o4, float& o5) {
  constexpr float third = 1.0f / 3.0f, fifteenth = 1.0f / 15.0f;
  o0 = a;
  o1 = third * (a + b + c);
  o2 = third * (b - a - c);
  o3 = -fifteenth * (16.0f * a + 8.0f * b + 4.0f * c);
  o4 = fifteenth * (a - 2.0f * b + 4.0f * c);
  o5 = c;
}

// Six channel vectors through one 1-D B^T (a column or row of a 6x6 tile), vectorised over the
// n channels: out[x][k] = sum_y B^T(x, y) in[y][k].
MOODNET_ALWAYS_INLINE void winograd4_bt_pass(int64_t n, const float* const* in, float* const* out) {
  const float* __restrict d0 = in[0], * __restrict d1 = in[1], * __restrict d2 = in[2], * __restrict d3 = in[3], * __restrict d4 = in[4], * __restrict d5 = in[5];
  float* __restrict o0 = out[0], * __restrict o1 = out[1], * __restrict o2 = out[2], * __restrict o3 = out[3], * __restrict o4 = out[4], * __restrict o5 = out[5];
  MOODNET_OMP(omp simd)
  for (int64_t k = 0; k < n; ++k)
    winograd4_bt(d0[k], d1[k], d2[k], d3[k], d4[k], d5[k], o0[k], o1[k], o2[k], o3[k], o4[k],
                 o5[k]);
}

// F(4x4, 3x3): 6x6 input tiles, 36 planes; the transforms run as separable 1-D passes through
// tmp (36 values per channel would not fit in registers).
struct Winograd4 {
  static constexpr int tile = 4, planes = 36;  // outputs per tile side, transformed values
  static constexpr int64_t tmp_planes = 36;    // of max(C, F) floats
  // Forward tiles per block: V and M within about a quarter of a 1 MiB L2 (measured on fer-cnn's
  // shapes: a half was 5-10 % slower).
  static constexpr int64_t block_floats = 65536;

  // V[xi][j][c], xi < 36, for the tiles [t0, t0 + count), V row stride `ldv` tiles per xi.
  // zeros: C floats of 0; tmp: 36 * C floats of scratch (B^T d, in L1).
  MOODNET_ALWAYS_INLINE static void input(const ConvGeometry& g, const float* x, int64_t t0,
                                          int64_t count, int64_t ldv, const float* zeros,
                                          float* tmp, float* v) {
    const WinogradTiles<4> tiles(g);
    const int64_t c = g.c;
    const int64_t xs = ldv * c;  // between xi planes
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
      const int64_t iy0 = oy - g.pad_top, ix0 = ox - g.pad_left;
      for (int col = 0; col < 6; ++col) {  // B^T d, column col -> tmp[row][col]
        const float* in[6];
        float* out[6];
        const int64_t ix = ix0 + col;
        for (int r = 0; r < 6; ++r) {
          const int64_t iy = iy0 + r;
          in[r] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x + ((n * g.h + iy) * g.w + ix) * c
                                                             : zeros;
          out[r] = tmp + (r * 6 + col) * c;
        }
        winograd4_bt_pass(c, in, out);
      }
      for (int r = 0; r < 6; ++r) {  // (B^T d) B, row r -> V planes r * 6 + col
        const float* in[6];
        float* out[6];
        for (int col = 0; col < 6; ++col) {
          in[col] = tmp + (r * 6 + col) * c;
          out[col] = v + (r * 6 + col) * xs + j * c;
        }
        winograd4_bt_pass(c, in, out);
      }
    }
  }

  // y for the tiles [t0, t0 + count) from M[xi][j][f] (row stride ldm tiles per xi). Outputs
  // past the image's last row or column go to `sink` (F floats), so every store is unconditional
  // and the channel loop vectorises. tmp: 24 * F floats of scratch (A^T M, in L1), 32 * F with
  // `pool`: then y is the output max-pooled by 2x2 windows (stride 2, from the top-left corner;
  // a 4x4 tile holds whole windows), each pair of tile rows pooled from tmp as it is done.
  MOODNET_ALWAYS_INLINE static void output(const ConvGeometry& g, const float* m, int64_t t0,
                                           int64_t count, int64_t ldm, const float* bias,
                                           Activation act, float* sink, float* tmp, float* y,
                                           const PoolGeometry* pool = nullptr) {
    const WinogradTiles<4> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    // Clamping to [lo, hi] with selects (no branches): linear is [-inf, inf].
    const float lo = act == Activation::linear ? -__builtin_inff() : 0.0f;
    const float hi = act == Activation::relu6 ? 6.0f : __builtin_inff();
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
      const float* mj = m + j * f;
      for (int col = 0; col < 6; ++col) {  // A^T M, column col -> tmp[row][col]
        const float* __restrict m0 = mj + col * xs, * __restrict m1 = mj + (6 + col) * xs, * __restrict m2 = mj + (12 + col) * xs, * __restrict m3 = mj + (18 + col) * xs, * __restrict m4 = mj + (24 + col) * xs, * __restrict m5 = mj + (30 + col) * xs;
        float* __restrict w0 = tmp + col * f, * __restrict w1 = tmp + (6 + col) * f, * __restrict w2 = tmp + (12 + col) * f, * __restrict w3 = tmp + (18 + col) * f;
        MOODNET_OMP(omp simd)
        for (int64_t k = 0; k < f; ++k)
          winograd4_at(m0[k], m1[k], m2[k], m3[k], m4[k], m5[k], w0[k], w1[k], w2[k], w3[k]);
      }
      float* rows = tmp + 24 * f;    // with pool: rows r - r % 2 and r of the tile, 4 columns each
      for (int r = 0; r < 4; ++r) {  // (A^T M) A, row r -> y row oy + r
        float* yo[4];
        for (int col = 0; col < 4; ++col)
          yo[col] = oy + r >= g.oh || ox + col >= g.ow ? sink
                    : pool                             ? rows + ((r % 2) * 4 + col) * f
                           : y + ((n * g.oh + oy + r) * g.ow + ox + col) * f;
        const float* __restrict w = tmp + r * 6 * f;
        float* __restrict y0 = yo[0], * __restrict y1 = yo[1], * __restrict y2 = yo[2], * __restrict y3 = yo[3];
        MOODNET_OMP(omp simd)
        for (int64_t k = 0; k < f; ++k) {
          float o0, o1, o2, o3;
          winograd4_at(w[k], w[f + k], w[2 * f + k], w[3 * f + k], w[4 * f + k], w[5 * f + k], o0,
                       o1, o2, o3);
          const float bk = bias[k];
          o0 += bk, o1 += bk, o2 += bk, o3 += bk;
          o0 = o0 < lo ? lo : o0, o1 = o1 < lo ? lo : o1, o2 = o2 < lo ? lo : o2;
          o3 = o3 < lo ? lo : o3;
          y0[k] = o0 > hi ? hi : o0, y1[k] = o1 > hi ? hi : o1, y2[k] = o2 > hi ? hi : o2;
          y3[k] = o3 > hi ? hi : o3;
        }
        if (pool && r % 2 == 1) max_pool_rows(g, *pool, n, oy + r - 1, ox, rows, y);
      }
    }
  }

  // The 2x2 windows over output rows oy, oy + 1 and columns ox .. ox + 3, held in rows
  // ((row - oy) * 4 + col - ox) * F, into the pooled y; windows past the pooled output are
  // dropped, outputs past the conv output are skipped. Max in the pool kernel's order.
  MOODNET_ALWAYS_INLINE static void max_pool_rows(const ConvGeometry& g, const PoolGeometry& p,
                                                  int64_t n, int64_t oy, int64_t ox,
                                                  const float* rows, float* y) {
    const int64_t f = g.f, py = oy / 2;
    if (py >= p.oh) return;
    for (int64_t pc = 0; pc < 2; ++pc) {
      const int64_t px = ox / 2 + pc;
      if (px >= p.ow) break;
      float* __restrict yp = y + ((n * p.oh + py) * p.ow + px) * f;
      std::fill(yp, yp + f, -__builtin_inff());
      for (int64_t r = 0; r < 2 && oy + r < g.oh; ++r)
        for (int64_t c = 2 * pc; c < 2 * pc + 2 && ox + c < g.ow; ++c) {
          const float* __restrict xp = rows + (r * 4 + c) * f;
          MOODNET_OMP(omp simd)
          for (int64_t k = 0; k < f; ++k) yp[k] = std::max(yp[k], xp[k]);
        }
    }
  }

  // U = G g G^T for one (c, f): g's tap (r, s) at g[(r * 3 + s) * tap], U's plane xi at
  // u[xi * plane].
  MOODNET_ALWAYS_INLINE static void weights(const float* g, int64_t tap, int64_t plane, float* u) {
    float t[6][3];
    for (int col = 0; col < 3; ++col)  // G g, column col
      winograd4_g(g[col * tap], g[(3 + col) * tap], g[(6 + col) * tap], t[0][col], t[1][col],
                  t[2][col], t[3][col], t[4][col], t[5][col]);
    for (int r = 0; r < 6; ++r) {  // (G g) G^T, row r
      float* o = u + r * 6 * plane;
      winograd4_g(t[r][0], t[r][1], t[r][2], o[0], o[plane], o[2 * plane], o[3 * plane],
                  o[4 * plane], o[5 * plane]);
    }
  }
};

}  // namespace detail

// y:(N,OH,OW,F) = act(conv3x3 stride 1 (x:(N,H,W,C), w:(3,3,C,F)) + b), any padding.
inline void conv_forward_winograd4(const ConvGeometry& g, const float* x, const float* w,
                                   const float* b, Activation act, float* y) {
  detail::winograd_forward<detail::Winograd4>(g, x, w, b, act, y);
}

// The same, max-pooled by 2x2 windows of stride 2 from the top-left corner (p: 'valid', or
// 'same' over an odd size): y:(N,POH,POW,F).
inline void conv_forward_winograd4_max_pool(const ConvGeometry& g, const float* x, const float* w,
                                            const float* b, Activation act, const PoolGeometry& p,
                                            float* y) {
  detail::winograd_forward<detail::Winograd4>(g, x, w, b, act, y, &p);
}

}  // namespace moodnet::cpu
