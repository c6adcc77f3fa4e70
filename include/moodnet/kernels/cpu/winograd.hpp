// Winograd F(2x2, 3x3) for stride-1 3x3 convolutions with C, F >= 16 (forward, and backward-data
// which is a forward conv of dy with the flipped kernel): 16 multiplications per 2x2 output tile
// and channel pair instead of 36, i.e. 2.25x fewer FLOPs in the GEMM stage.
//   U = G g G^T   per (c, f): 16 matrices (C, F), packed into NR-wide strips once per call
//   V = B^T d B   per 4x4 input tile (zero outside the image) and channel: 16 rows (tiles, C)
//   M = V U       16 GEMMs per block of tiles, on the conv register-tile microkernels
//   y = A^T M A   + bias, ReLU/ReLU6, the 2x2 outputs that fall inside the image
// A thread takes a block of tiles (whole blocks, so results do not depend on the thread count)
// and keeps its V and M in L2; the transforms are vectorised over channels (NHWC).
#pragma once

#include <algorithm>
#include <vector>

#include "../contract.hpp"
#include "conv_micro.hpp"
#include "depthwise.hpp"
#include "gemm.hpp"

namespace moodnet::cpu {

// Whether conv_forward_winograd handles g (and is expected to beat the direct kernel).
// Tiny outputs (under 16 pixels) stay direct: transforms and block set-up would dominate.
inline bool winograd_applies(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.c >= 16 && g.f >= 16 &&
         g.oh * g.ow >= 16;
}

namespace detail {

// V[xi][j][c] for the tiles [t0, t0 + count) of the batch (tile t: image t / (th*tw), then row,
// column), V row stride `ldv` tiles per xi. zeros: C floats of 0.
MOODNET_ALWAYS_INLINE void winograd_input(const ConvGeometry& g, const float* x, int64_t t0,
                                          int64_t count, int64_t ldv, const float* zeros,
                                          float* __restrict v) {
  const int64_t th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2, c = g.c;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t t = t0 + j, n = t / (th * tw), ty = (t / tw) % th, tx = t % tw;
    const int64_t iy0 = 2 * ty - g.pad_top, ix0 = 2 * tx - g.pad_left;
    const float* p[4][4];
    for (int r = 0; r < 4; ++r)
      for (int s = 0; s < 4; ++s) {
        const int64_t iy = iy0 + r, ix = ix0 + s;
        p[r][s] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x + ((n * g.h + iy) * g.w + ix) * c
                                                             : zeros;
      }
    float* vj = v + j * c;
    const int64_t xs = ldv * c;  // between xi planes
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) {
      float d[4][4], u[4][4];
      for (int r = 0; r < 4; ++r)
        for (int s = 0; s < 4; ++s) d[r][s] = p[r][s][k];
      for (int s = 0; s < 4; ++s) {  // B^T d
        u[0][s] = d[0][s] - d[2][s];
        u[1][s] = d[1][s] + d[2][s];
        u[2][s] = d[2][s] - d[1][s];
        u[3][s] = d[1][s] - d[3][s];
      }
      for (int r = 0; r < 4; ++r) {  // (B^T d) B
        vj[(r * 4 + 0) * xs + k] = u[r][0] - u[r][2];
        vj[(r * 4 + 1) * xs + k] = u[r][1] + u[r][2];
        vj[(r * 4 + 2) * xs + k] = u[r][2] - u[r][1];
        vj[(r * 4 + 3) * xs + k] = u[r][1] - u[r][3];
      }
    }
  }
}

// y for the tiles [t0, t0 + count) from M[xi][j][f] (row stride ldm tiles per xi). Outputs past
// the image's last row or column go to `sink` (F floats), so every store is unconditional and
// the channel loop vectorises.
MOODNET_ALWAYS_INLINE void winograd_output(const ConvGeometry& g, const float* m, int64_t t0,
                                           int64_t count, int64_t ldm, const float* bias,
                                           Activation act, float* sink, float* y) {
  const int64_t th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2, f = g.f, xs = ldm * f;
  // Clamping to [lo, hi] with selects (no branches): linear is [-inf, inf].
  const float lo = act == Activation::linear ? -__builtin_inff() : 0.0f;
  const float hi = act == Activation::relu6 ? 6.0f : __builtin_inff();
  for (int64_t j = 0; j < count; ++j) {
    const int64_t t = t0 + j, n = t / (th * tw), ty = (t / tw) % th, tx = t % tw;
    const int64_t oy = 2 * ty, ox = 2 * tx;
    const bool down = oy + 1 < g.oh, right = ox + 1 < g.ow;
    float* __restrict y00 = y + ((n * g.oh + oy) * g.ow + ox) * f;
    float* __restrict y01 = right ? y00 + f : sink;
    float* __restrict y10 = down ? y00 + g.ow * f : sink;
    float* __restrict y11 = down && right ? y00 + (g.ow + 1) * f : sink;
    const float* __restrict mj = m + j * f;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < f; ++k) {
      const float* q = mj + k;
      // A^T M: rows 0 and 1 of the 2x4 product.
      const float u0 = q[0] + q[4 * xs] + q[8 * xs], u1 = q[xs] + q[5 * xs] + q[9 * xs],
                  u2 = q[2 * xs] + q[6 * xs] + q[10 * xs], u3 = q[3 * xs] + q[7 * xs] + q[11 * xs];
      const float w0 = q[4 * xs] - q[8 * xs] - q[12 * xs], w1 = q[5 * xs] - q[9 * xs] - q[13 * xs],
                  w2 = q[6 * xs] - q[10 * xs] - q[14 * xs],
                  w3 = q[7 * xs] - q[11 * xs] - q[15 * xs];
      const float b = bias[k];
      float r0 = u0 + u1 + u2 + b, r1 = u1 - u2 - u3 + b;
      float r2 = w0 + w1 + w2 + b, r3 = w1 - w2 - w3 + b;
      r0 = r0 < lo ? lo : r0, r1 = r1 < lo ? lo : r1, r2 = r2 < lo ? lo : r2,
      r3 = r3 < lo ? lo : r3;
      r0 = r0 > hi ? hi : r0, r1 = r1 > hi ? hi : r1, r2 = r2 > hi ? hi : r2,
      r3 = r3 > hi ? hi : r3;
      y00[k] = r0, y01[k] = r1, y10[k] = r2, y11[k] = r3;
    }
  }
}

#define MOODNET_WINOGRAD_VARIANTS(suffix, target)                                                \
  target inline void winograd_input_##suffix(const ConvGeometry& g, const float* x, int64_t t0,  \
                                             int64_t count, int64_t ldv, const float* zeros,     \
                                             float* v) {                                         \
    winograd_input(g, x, t0, count, ldv, zeros, v);                                              \
  }                                                                                              \
  target inline void winograd_output_##suffix(const ConvGeometry& g, const float* m, int64_t t0, \
                                              int64_t count, int64_t ldm, const float* bias,     \
                                              Activation act, float* sink, float* y) {           \
    winograd_output(g, m, t0, count, ldm, bias, act, sink, y);                                   \
  }

MOODNET_WINOGRAD_VARIANTS(generic, )
#if MOODNET_SGEMM_X86
MOODNET_WINOGRAD_VARIANTS(avx2, MOODNET_TARGET_AVX2)
MOODNET_WINOGRAD_VARIANTS(avx512, MOODNET_TARGET_AVX512)
#endif
#undef MOODNET_WINOGRAD_VARIANTS

// U = G g G^T for every (c, f) of w:(3,3,C,F), written as 16 planes of NR-wide strips
// [xi][ceil(F/NR)][C][NR], padding columns zero. The f loop is contiguous on both sides.
inline void winograd_weights(int64_t c, int64_t f, int64_t nr, const float* w, float* u) {
  const int64_t strips = (f + nr - 1) / nr, plane = strips * c * nr;
  std::fill(u, u + 16 * plane, 0.0f);
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t s0 = 0; s0 < strips; ++s0) {
      const int64_t f0 = s0 * nr, fn = std::min(nr, f - f0);
      const float* g0 = w + ci * f + f0;  // tap (r, s) at g0[(r * 3 + s) * c * f]
      const int64_t tap = c * f;
      float* dst = u + (s0 * c + ci) * nr;
      MOODNET_OMP(omp simd)
      for (int64_t j = 0; j < fn; ++j) {
        float t[4][3];
        for (int s = 0; s < 3; ++s) {  // G g
          const float a = g0[s * tap + j], b = g0[(3 + s) * tap + j], d = g0[(6 + s) * tap + j];
          t[0][s] = a, t[1][s] = 0.5f * (a + b + d), t[2][s] = 0.5f * (a - b + d), t[3][s] = d;
        }
        for (int r = 0; r < 4; ++r) {  // (G g) G^T
          dst[(r * 4 + 0) * plane + j] = t[r][0];
          dst[(r * 4 + 1) * plane + j] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
          dst[(r * 4 + 2) * plane + j] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
          dst[(r * 4 + 3) * plane + j] = t[r][2];
        }
      }
    }
}

}  // namespace detail

// y:(N,OH,OW,F) = act(conv3x3 stride 1 (x:(N,H,W,C), w:(3,3,C,F)) + b), any padding.
inline void conv_forward_winograd(const ConvGeometry& g, const float* x, const float* w,
                                  const float* b, Activation act, float* y) {
  const Isa isa = active_isa();
  const ConvTile t = winograd_gemm_tile(isa, g.f, g.c);
  const int64_t MR = t.MR, NR = t.NR, strips = (g.f + NR - 1) / NR;
  const int64_t plane = strips * g.c * NR;
  static thread_local std::vector<float> u_buf;
  float* u = detail::scratch(u_buf, static_cast<size_t>(16 * plane));
  detail::winograd_weights(g.c, g.f, NR, w, u);
  void (*input)(const ConvGeometry&, const float*, int64_t, int64_t, int64_t, const float*,
                float*) = &detail::winograd_input_generic;
  void (*output)(const ConvGeometry&, const float*, int64_t, int64_t, int64_t, const float*,
                 Activation, float*, float*) = &detail::winograd_output_generic;
#if MOODNET_SGEMM_X86
  if (isa == Isa::avx512)
    input = &detail::winograd_input_avx512, output = &detail::winograd_output_avx512;
  if (isa == Isa::avx2)
    input = &detail::winograd_input_avx2, output = &detail::winograd_output_avx2;
#endif
  const int64_t tiles = g.n * ((g.oh + 1) / 2) * ((g.ow + 1) / 2);
  // Tiles per block: V and M (16 planes each) within about half of a 1 MiB L2.
  const int64_t block = std::max<int64_t>(MR, 8192 / (g.c + g.f) / MR * MR);
  const int64_t blocks = (tiles + block - 1) / block;
  const bool par = g.n * g.oh * g.ow * g.f * g.c * 9 > (1 << 18);
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t bi = 0; bi < blocks; ++bi) {
  static thread_local std::vector<float> v_buf, m_buf, zero_buf, sink_buf;
  float* v = detail::scratch(v_buf, static_cast<size_t>(16 * block * g.c));
  float* m = detail::scratch(m_buf, static_cast<size_t>(16 * block * g.f));
  float* zeros = detail::scratch(zero_buf, static_cast<size_t>(g.c));
  std::fill(zeros, zeros + g.c, 0.0f);
  float* sink = detail::scratch(sink_buf, static_cast<size_t>(2 * g.f));
  // No bias: add zeros (the second half of sink's buffer).
  float* no_bias = sink + g.f;
  std::fill(no_bias, no_bias + g.f, 0.0f);
  const int64_t t0 = bi * block, count = std::min(block, tiles - t0);
  input(g, x, t0, count, block, zeros, v);
  // Rows past `count` are read by the last row tile (never stored): keep them finite.
  const int64_t padded = (count + MR - 1) / MR * MR;
  if (padded > count)
    for (int xi = 0; xi < 16; ++xi)
      std::fill(v + (xi * block + count) * g.c, v + (xi * block + padded) * g.c, 0.0f);
  ConvMicroArgs p;
  p.nq = 1, p.nk = g.c, p.a_i = g.c, p.b_k = NR, p.ldc = g.f;
  for (int xi = 0; xi < 16; ++xi)
    for (int64_t i0 = 0; i0 < count; i0 += MR) {
      p.a = v + (xi * block + i0) * g.c;
      p.m = static_cast<int>(std::min(MR, count - i0));
      for (int64_t s = 0; s < strips; ++s) {
        p.b = u + xi * plane + s * g.c * NR;
        p.c = m + (xi * block + i0) * g.f + s * NR;
        p.n = static_cast<int>(std::min(NR, g.f - s * NR));
        t.micro(p);
      }
    }
  output(g, m, t0, count, block, b ? b : no_bias, act, sink, y);
}
}

}  // namespace moodnet::cpu
