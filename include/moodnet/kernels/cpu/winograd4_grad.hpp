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

// One column or row of A dY (A = (A^T)^T, 6x4): o[x] = sum_i A^T(i, x) d[i], on a register of
// channels (winograd.hpp's V).
template <class V>
MOODNET_ALWAYS_INLINE void winograd4_a(const V (&d)[4], V (&o)[6]) {
  o[0] = d[0];
  o[1] = d[0] + d[1] + d[2] + d[3];
  o[2] = d[0] - d[1] + d[2] - d[3];
  o[3] = d[0] + 0.5f * d[1] + 0.25f * d[2] + 0.125f * d[3];
  o[4] = d[0] - 2.0f * d[1] + 4.0f * d[2] - 8.0f * d[3];
  o[5] = d[3];
}

struct APass {  // for transform_group (winograd4.hpp)
  template <class V>
  MOODNET_ALWAYS_INLINE static void run(const V (&d)[4], V (&o)[6]) {
    winograd4_a(d, o);
  }
};

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
  // past the image's last row or column. tmp: 16 * F floats of scratch (a border tile's block).
  template <class V>
  MOODNET_ALWAYS_INLINE static void grad_output(const ConvGeometry& g, const float* dy, int64_t t0,
                                                int64_t count, int64_t ldm, const float* /*zeros*/,
                                                float* tmp, float* dm) {
    const WinogradTiles<4> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    auto o = tiles.origin(t0);
    for (int64_t j = 0; j < count; ++j, tiles.next(o)) {
      const float* d;
      int64_t rs;
      if (o.oy + 4 <= g.oh && o.ox + 4 <= g.ow) {
        d = dy + ((o.n * g.oh + o.oy) * g.ow + o.ox) * f, rs = g.ow * f;
      } else {  // the block into tmp, zero past the image
        copy_window(dy + o.n * g.oh * g.ow * f, g.oh, g.ow, f, o.oy, o.ox, 4, tmp);
        d = tmp, rs = 4 * f;
      }
      const int64_t ahead = j + 1 < count ? f : 0;  // the next tile's dM lines (Winograd4::input)
      transform_channels<V, 4, 6, APass>(d, rs, f, dm + j * f, xs, ahead);
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
