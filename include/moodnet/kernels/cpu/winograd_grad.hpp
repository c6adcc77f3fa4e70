// Winograd F(2x2, 3x3) weight gradient for stride-1 3x3 convolutions (winograd.hpp has the
// forward pass and its transforms):
//   V  = B^T d B    x's input transform, 16 rows (tiles, C) per block of tiles
//   dM = A dY A^T   dy's 2x2 tiles (zero past the image), 16 rows (tiles, F)
//   dU += V^T dM    16 GEMMs (C, tiles) x (tiles, F): long reductions over 256-tile blocks on the
//                   backward-weights register tiles
//   dw += G^T dU G  once, after the image groups are summed in group order (deterministic)
// Used where C * F >= 2048: at C = F = 32 the transforms cost more than the 2.25x fewer FLOPs
// save (measured 0.8x of the direct kernel for fer-cnn's 48x48x32 -> 32).
// The image groups, blocks of tiles and GEMMs here are templates on weight-gradient traits
// (Winograd2Grad below, Winograd4Grad in winograd4_grad.hpp) that add the dY and G^T transforms.
#pragma once

#include <algorithm>
#include <vector>

#include "conv.hpp"
#include "winograd.hpp"

namespace moodnet::cpu {

// Whether conv_backward_params_winograd handles g and is expected to beat the direct kernel.
inline bool winograd_grad_applies(const ConvGeometry& g) {
  return winograd_applies(g) && g.c * g.f >= 2048;
}

namespace detail {

// dw:(3,3,C,F) += G^T dU G for every (c, f), dU given as W::planes planes (C, F).
template <class W>
void winograd_weights_grad(int64_t c, int64_t f, const float* du, float* dw) {
  const int64_t plane = c * f;
  for (int64_t ci = 0; ci < c; ++ci) {
    const float* u = du + ci * f;
    float* d = dw + ci * f;
    MOODNET_OMP(omp simd)
    for (int64_t j = 0; j < f; ++j) W::weights_grad(u + j, plane, d + j);
  }
}

// dw:(3,3,C,F) += dL/dw, db:(F)|null += column sums of dy, for the 3x3 stride-1 conv of
// x:(N,H,W,C) with dy:(N,OH,OW,F), on W's tiles (W: weight-gradient traits, e.g. Winograd2Grad).
template <class W>
void winograd_backward_params(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                              float* db) {
  const Isa isa = active_isa();
  const ConvTile t = winograd_weights_tile(isa, g.f, g.c);
  const int64_t MR = t.MR, NR = t.NR, strips = (g.f + NR - 1) / NR;
  const WinogradKernels k = winograd_kernels<W>(isa);
  const int64_t per_image = WinogradTiles<W::tile>(g).per_image();
  const int64_t groups = reduction_groups(g.n), usize = W::planes * g.c * g.f, stride = usize + g.f;
  const int64_t block = W::grad_block;
  // V and dM planes one tile longer than a block: at `block` tiles (64 or 256) of 16 to 128
  // channels a plane is a multiple of 4 KiB, so the 36 (or 16) lines a tile's transform writes,
  // one per plane, all fell in the same L1 set (12 ways) and evicted each other. Against oneDNN
  // on PERFORMANCE.md's host D (Zen 5), 1 thread: c 1.01 -> 1.94, e 0.68 -> 1.44-1.49, fer2
  // 0.84 -> 1.39-1.47, fer3 0.93 -> 1.70-1.81; 2 threads alike (e 0.67 -> 1.45).
  const int64_t ld = block + 1;
  static thread_local std::vector<float> partial_buf;
  float* partial = scratch(partial_buf, static_cast<size_t>(groups * stride));
MOODNET_OMP(omp parallel for schedule(static))
for (int64_t gi = 0; gi < groups; ++gi) {
  static thread_local std::vector<float> v_buf, m_buf, zero_buf, tmp_buf;
  // V has MR floats of slack: a short last row tile reads past channel C of the last tile.
  float* v = scratch(v_buf, static_cast<size_t>(W::planes * ld * g.c + MR));
  float* m = scratch(m_buf, static_cast<size_t>(W::planes * ld * g.f));
  float* zeros = scratch(zero_buf, static_cast<size_t>(std::max(g.c, g.f)));
  float* tmp = scratch(tmp_buf, static_cast<size_t>(W::tmp_planes * std::max(g.c, g.f)));
  std::fill(zeros, zeros + std::max(g.c, g.f), 0.0f);
  std::fill(v + W::planes * ld * g.c, v + W::planes * ld * g.c + MR, 0.0f);
  float* acc = partial + gi * stride;
  std::fill(acc, acc + stride, 0.0f);
  const int64_t n0 = gi * g.n / groups, n1 = (gi + 1) * g.n / groups;
  ConvMicroArgs p;
  p.nq = 1, p.a_k = g.c, p.b_k = g.f, p.ldc = g.f, p.accumulate = true;
  for (int64_t t0 = n0 * per_image; t0 < n1 * per_image; t0 += block) {
    const int64_t count = std::min(block, n1 * per_image - t0);
    k.input(g, x, t0, count, ld, zeros, tmp, v);
    k.grad_output(g, dy, t0, count, ld, zeros, tmp, m);
    p.nk = count;
    for (int xi = 0; xi < W::planes; ++xi)
      for (int64_t c0 = 0; c0 < g.c; c0 += MR) {
        p.a = v + xi * ld * g.c + c0;
        p.m = static_cast<int>(std::min(MR, g.c - c0));
        for (int64_t s = 0; s < strips; ++s) {
          p.b = m + xi * ld * g.f + s * NR;
          p.c = acc + (xi * g.c + c0) * g.f + s * NR;
          p.n = static_cast<int>(std::min(NR, g.f - s * NR));
          t.micro(p);
        }
      }
  }
  if (db)  // image by image, as the direct kernel
    for (int64_t n = n0; n < n1; ++n)
      sum_rows_into(g.oh * g.ow, g.f, dy + n * g.oh * g.ow * g.f, acc + usize);
}
// Group partials in group order into the first, then one transform onto dw.
MOODNET_OMP(omp parallel for schedule(static) if (usize > 65536))
for (int64_t i = 0; i < stride; ++i) {
  float s = partial[i];
  for (int64_t gi = 1; gi < groups; ++gi) s += partial[gi * stride + i];
  partial[i] = s;
}
winograd_weights_grad<W>(g.c, g.f, partial, dw);
if (db)
  for (int64_t j = 0; j < g.f; ++j) db[j] += partial[usize + j];
}

// F(2x2, 3x3)'s weight-gradient transforms.
struct Winograd2Grad : Winograd2 {
  using Forward = Winograd2;  // its input transform instances serve both passes
  // Long GEMM reductions (K = tiles): each 16th of V and dM stays within L2.
  static constexpr int64_t grad_block = 256;

  // dM[xi][j][f] = A dY A^T for the tiles [t0, t0 + count): dY the tile's 2x2 block of dy, zero
  // past the image's last row or column. zeros: F floats of 0.
  template <class V>
  MOODNET_ALWAYS_INLINE static void grad_output(const ConvGeometry& g, const float* dy, int64_t t0,
                                                int64_t count, int64_t ldm, const float* zeros,
                                                float* /*tmp*/, float* __restrict dm) {
    const WinogradTiles<2> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
      const bool down = oy + 1 < g.oh, right = ox + 1 < g.ow;
      const float* p00 = dy + ((n * g.oh + oy) * g.ow + ox) * f;
      const float* p01 = right ? p00 + f : zeros;
      const float* p10 = down ? p00 + g.ow * f : zeros;
      const float* p11 = down && right ? p00 + (g.ow + 1) * f : zeros;
      float* mj = dm + j * f;
      MOODNET_OMP(omp simd)
      for (int64_t k = 0; k < f; ++k) {
        const float a = p00[k], b = p01[k], c = p10[k], d = p11[k];
        // A dY: rows [a, b], [a + c, b + d], [a - c, b - d], [-c, -d]; each row [p, q] times A^T
        // gives [p, p + q, p - q, -q].
        const float rp[4] = {a, a + c, a - c, -c}, rq[4] = {b, b + d, b - d, -d};
        for (int r = 0; r < 4; ++r) {
          mj[(r * 4 + 0) * xs + k] = rp[r];
          mj[(r * 4 + 1) * xs + k] = rp[r] + rq[r];
          mj[(r * 4 + 2) * xs + k] = rp[r] - rq[r];
          mj[(r * 4 + 3) * xs + k] = -rq[r];
        }
      }
    }
  }

  // dw += G^T dU G for one (c, f): dU's plane xi at u[xi * plane], dw's tap (r, s) at
  // d[(r * 3 + s) * plane].
  MOODNET_ALWAYS_INLINE static void weights_grad(const float* u, int64_t plane, float* d) {
    float t[3][4];
    for (int s = 0; s < 4; ++s) {  // G^T dU
      const float u0 = u[s * plane], u1 = u[(4 + s) * plane], u2 = u[(8 + s) * plane],
                  u3 = u[(12 + s) * plane];
      t[0][s] = u0 + 0.5f * (u1 + u2), t[1][s] = 0.5f * (u1 - u2), t[2][s] = 0.5f * (u1 + u2) + u3;
    }
    for (int r = 0; r < 3; ++r) {  // (G^T dU) G
      d[(r * 3 + 0) * plane] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
      d[(r * 3 + 1) * plane] += 0.5f * (t[r][1] - t[r][2]);
      d[(r * 3 + 2) * plane] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
  }
};

}  // namespace detail

// dw:(3,3,C,F) += dL/dw, db:(F)|null += column sums of dy, for the 3x3 stride-1 conv of
// x:(N,H,W,C) with dy:(N,OH,OW,F): dU = sum over tiles of V (x's input transform) times
// dM = A dY A^T, as 16 GEMMs (C, tiles) x (tiles, F) per block of tiles, then dw += G^T dU G.
// Fixed image groups (as the direct kernel), each summed on one thread, added in group order:
// bitwise the same for any thread count.
inline void conv_backward_params_winograd(const ConvGeometry& g, const float* x, const float* dy,
                                          float* dw, float* db) {
  detail::winograd_backward_params<detail::Winograd2Grad>(g, x, dy, dw, db);
}

}  // namespace moodnet::cpu
