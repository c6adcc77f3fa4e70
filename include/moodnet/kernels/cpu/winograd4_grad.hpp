// Winograd F(4x4, 3x3) weight gradient for stride-1 3x3 convolutions (winograd4.hpp has the
// forward pass, its matrices and the input transform; winograd_grad.hpp the F(2x2) version):
//   V  = B^T d B    x's input transform, 36 rows (tiles, C) per block of tiles
//   dM = A dY A^T   dy's 4x4 tiles (zero past the image), 36 rows (tiles, F)
//   dU += V^T dM    36 GEMMs (C, tiles) x (tiles, F) on the backward-weights register tiles
//   dw += G^T dU G  once, after the image groups are summed in group order (deterministic)
// 2.25 multiplications per output pixel and channel pair instead of F(2x2)'s 4 (direct: 9).
// Only the transforms live here (Winograd4Grad below): the image groups, blocks of tiles and
// GEMMs are winograd_grad.hpp's, shared with F(2x2, 3x3).
#pragma once

#include "../contract.hpp"
#include "winograd4.hpp"
#include "winograd_grad.hpp"

namespace moodnet::cpu {

// Whether conv_backward_params_winograd4 handles g (and is expected to beat the alternatives).
inline bool winograd4_grad_applies(const ConvGeometry& g) {
  return winograd4_applies(g) && g.c * g.f >= 1024;
}

namespace detail {

// One column or row of A dY (A = (A^T)^T, 6x4): o[x] = sum_i A^T(i, x) d[i].
MOODNET_ALWAYS_INLINE void winograd4_a(float d0, float d1, float d2, float d3, float& o0, float& o1,
                                       float& o2, float& o3, float& o4, float& o5) {
  o0 = d0;
  o1 = d0 + d1 + d2 + d3;
  o2 = d0 - d1 + d2 - d3;
  o3 = d0 + 0.5f * d1 + 0.25f * d2 + 0.125f * d3;
  o4 = d0 - 2.0f * d1 + 4.0f * d2 - 8.0f * d3;
  o5 = d3;
}

// One column or row of G^T dU (G^T 3x6): o[p] = sum_x G(x, p) u[x].
MOODNET_ALWAYS_INLINE void winograd4_gt(float u0, float u1, float u2, float u3, float u4, float u5,
                                        float& o0, float& o1, float& o2) {
  constexpr float third = 1.0f / 3.0f, fifteenth = 1.0f / 15.0f;
  o0 = u0 + third * (u1 - u2) + fifteenth * (u4 - 16.0f * u3);
  o1 = third * (u1 + u2) - fifteenth * (8.0f * u3 + 2.0f * u4);
  o2 = third * (u1 - u2) + fifteenth * (4.0f * u4 - 4.0f * u3) + u5;
}

// F(4x4, 3x3)'s weight-gradient transforms.
struct Winograd4Grad : Winograd4 {
  using Forward = Winograd4;  // its input transform instances serve both passes
  // GEMM reductions (K = tiles) over blocks of 64 tiles: on fer-cnn's shapes 32, 64 and 96 were
  // alike within the noise, 128 slower, 256 slower still (V and dM then leave L2).
  static constexpr int64_t grad_block = 64;

  // dM[xi][j][f] = A dY A^T for the tiles [t0, t0 + count): dY the tile's 4x4 block of dy, zero
  // past the image's last row or column. zeros: F floats of 0; tmp: 24 * F floats of scratch.
  MOODNET_ALWAYS_INLINE static void grad_output(const ConvGeometry& g, const float* dy, int64_t t0,
                                                int64_t count, int64_t ldm, const float* zeros,
                                                float* tmp, float* dm) {
    const WinogradTiles<4> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
      for (int col = 0; col < 4; ++col) {  // A dY, column col -> tmp[x][col]
        const float* p[4];
        for (int r = 0; r < 4; ++r)
          p[r] = oy + r < g.oh && ox + col < g.ow ? dy + ((n * g.oh + oy + r) * g.ow + ox + col) * f
                                                  : zeros;
        const float* __restrict d0 = p[0], * __restrict d1 = p[1], * __restrict d2 = p[2], * __restrict d3 = p[3];
        float* __restrict o0 = tmp + col * f, * __restrict o1 = tmp + (4 + col) * f, * __restrict o2 = tmp + (8 + col) * f, * __restrict o3 = tmp + (12 + col) * f, * __restrict o4 = tmp + (16 + col) * f, * __restrict o5 = tmp + (20 + col) * f;
        MOODNET_OMP(omp simd)
        for (int64_t k = 0; k < f; ++k)
          winograd4_a(d0[k], d1[k], d2[k], d3[k], o0[k], o1[k], o2[k], o3[k], o4[k], o5[k]);
      }
      for (int x = 0; x < 6; ++x) {  // (A dY) A^T, row x -> dM planes x * 6 + y
        const float* __restrict w = tmp + x * 4 * f;
        float* o = dm + x * 6 * xs + j * f;
        float* __restrict o0 = o, * __restrict o1 = o + xs, * __restrict o2 = o + 2 * xs, * __restrict o3 = o + 3 * xs, * __restrict o4 = o + 4 * xs, * __restrict o5 = o + 5 * xs;
        MOODNET_OMP(omp simd)
        for (int64_t k = 0; k < f; ++k)
          winograd4_a(w[k], w[f + k], w[2 * f + k], w[3 * f + k], o0[k], o1[k], o2[k], o3[k], o4[k],
                      o5[k]);
      }
    }
  }

  // dw += G^T dU G for one (c, f): dU's plane xi at u[xi * plane], dw's tap (r, s) at
  // d[(r * 3 + s) * plane].
  MOODNET_ALWAYS_INLINE static void weights_grad(const float* u, int64_t plane, float* d) {
    float t[3][6];
    for (int y = 0; y < 6; ++y)  // G^T dU, column y
      winograd4_gt(u[y * plane], u[(6 + y) * plane], u[(12 + y) * plane], u[(18 + y) * plane],
                   u[(24 + y) * plane], u[(30 + y) * plane], t[0][y], t[1][y], t[2][y]);
    for (int r = 0; r < 3; ++r) {  // (G^T dU) G, row r
      float o0, o1, o2;
      winograd4_gt(t[r][0], t[r][1], t[r][2], t[r][3], t[r][4], t[r][5], o0, o1, o2);
      d[(r * 3 + 0) * plane] += o0;
      d[(r * 3 + 1) * plane] += o1;
      d[(r * 3 + 2) * plane] += o2;
    }
  }
};

}  // namespace detail

// dw:(3,3,C,F) += dL/dw, db:(F)|null += column sums of dy, for the 3x3 stride-1 conv of
// x:(N,H,W,C) with dy:(N,OH,OW,F): dU = sum over tiles of V (x's input transform) times
// dM = A dY A^T, as 36 GEMMs (C, tiles) x (tiles, F) per block of tiles, then dw += G^T dU G.
// Fixed image groups (as the direct kernel), each summed on one thread, added in group order:
// bitwise the same for any thread count.
inline void conv_backward_params_winograd4(const ConvGeometry& g, const float* x, const float* dy,
                                           float* dw, float* db) {
  detail::winograd_backward_params<detail::Winograd4Grad>(g, x, dy, dw, db);
}

}  // namespace moodnet::cpu
