// Winograd F(2x2, 3x3) for stride-1 3x3 convolutions with C, F >= 16 (forward, and backward-data
// which is a forward conv of dy with the flipped kernel): 16 multiplications per 2x2 output tile
// and channel pair instead of 36, i.e. 2.25x fewer FLOPs in the GEMM stage.
//   U = G g G^T   per (c, f): 16 matrices (C, F), packed into NR-wide strips once per call
//   V = B^T d B   per 4x4 input tile (zero outside the image) and channel: 16 rows (tiles, C)
//   M = V U       16 GEMMs per block of tiles, on the conv register-tile microkernels
//   y = A^T M A   + bias, ReLU/ReLU6, the 2x2 outputs that fall inside the image
// A thread takes a block of tiles (whole blocks, so results do not depend on the thread count)
// and keeps its V and M in L2; the transforms are vectorised over channels (NHWC).
// F(4x4, 3x3) (winograd4.hpp) differs only in its transforms: the tiling, the weight strips, the
// per-ISA instances and the blocked GEMM stage here are templates on a traits struct (Winograd2
// below, Winograd4) that holds the tile size, the plane count and the transforms.
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

// Tiles of M x M outputs, th x tw per image, numbered image by image in row-major order.
template <int M>
struct WinogradTiles {
  struct Origin {
    int64_t n, oy, ox;  // image, first output row and column
  };
  int64_t th, tw;
  explicit WinogradTiles(const ConvGeometry& g) : th((g.oh + M - 1) / M), tw((g.ow + M - 1) / M) {}
  int64_t per_image() const { return th * tw; }
  [[gnu::always_inline]] Origin origin(int64_t t) const {
    return {t / (th * tw), M * ((t / tw) % th), M * (t % tw)};
  }
  // The origin of the tile after o's (no divisions: a transform's tile loop steps through them).
  [[gnu::always_inline]] void next(Origin& o) const {
    if ((o.ox += M) < M * tw) return;
    o.ox = 0;
    if ((o.oy += M) < M * th) return;
    o.oy = 0, ++o.n;
  }
};

// One register of channels as a GCC vector, for the transforms that work on whole groups of
// channels in registers (winograd4.hpp, winograd4_grad.hpp): 16 floats for AVX-512 (a zmm), 8 for
// AVX2 (a ymm; 16 there took two registers an operation and spilled: shapes b, c, e forward
// with AVX2 forced, host C, 1 thread, 10-50 % slower than the channel loops they replaced; with
// 8 b 48-50 -> 41-42 ms, c 27.7 -> 29.5-30.1, e 32.2-32.5 -> 30.4-31.4), 4 for the baseline.
// Always-inline bodies take their caller's target.
typedef float winograd_vec16 __attribute__((vector_size(64)));
typedef float winograd_vec8 __attribute__((vector_size(32)));
typedef float winograd_vec4 __attribute__((vector_size(16)));

// The vector at p, any alignment, read or written through a packed struct (see MOODNET_DW_VEC in
// depthwise.hpp: clang turned reduced-alignment vector typedefs into aligned moves). Copy .v into
// a V or assign to it; never bind a V reference to it (GCC makes a temporary, clang binds in
// place and then loads it as aligned: a fault where it is not).
template <class V>
struct __attribute__((packed, may_alias)) WinogradVecAt {
  V v;
};
template <class V>
[[gnu::always_inline]] inline const WinogradVecAt<V>& wvec(const float* p) {
  return *reinterpret_cast<const WinogradVecAt<V>*>(p);
}
template <class V>
[[gnu::always_inline]] inline WinogradVecAt<V>& wvec(float* p) {
  return *reinterpret_cast<WinogradVecAt<V>*>(p);
}

// What Winograd4's output transform pools into (y then holds the pooled output): 2x2 windows,
// and, in training, idx:(N,POH,POW,F) the position of each window's first maximum (the
// kPoolNoGradient byte where dy reaches no input; elementwise.hpp), else null.
struct WinogradPool {
  PoolGeometry p;
  uint8_t* idx = nullptr;
};

// The transforms of a tile size W (Winograd2, Winograd4; the weight-gradient traits add
// grad_output and weights_grad), compiled per ISA with that ISA's register of channels V: the
// always_inline bodies take the caller's target, and a member is compiled only for the W that
// use it.
#define MOODNET_WINOGRAD_VARIANTS(name, target, V)                                              \
  template <class W>                                                                            \
  struct name {                                                                                 \
    target static void input(const ConvGeometry& g, const float* x, int64_t t0, int64_t count,  \
                             int64_t ldv, const float* zeros, float* tmp, float* v) {           \
      W::template input<V>(g, x, t0, count, ldv, zeros, tmp, v);                                \
    }                                                                                           \
    target static void output(const ConvGeometry& g, const float* m, int64_t t0, int64_t count, \
                              int64_t ldm, const float* bias, Activation act, float* sink,      \
                              float* tmp, float* y, const WinogradPool* pool) {                 \
      W::template output<V>(g, m, t0, count, ldm, bias, act, sink, tmp, y, pool);               \
    }                                                                                           \
    target static void grad_output(const ConvGeometry& g, const float* dy, int64_t t0,          \
                                   int64_t count, int64_t ldm, const float* zeros, float* tmp,  \
                                   float* dm) {                                                 \
      W::template grad_output<V>(g, dy, t0, count, ldm, zeros, tmp, dm);                        \
    }                                                                                           \
  };

MOODNET_WINOGRAD_VARIANTS(WinogradGeneric, , winograd_vec4)
#if MOODNET_SGEMM_X86
MOODNET_WINOGRAD_VARIANTS(WinogradAvx2, MOODNET_TARGET_AVX2, winograd_vec8)
MOODNET_WINOGRAD_VARIANTS(WinogradAvx512, MOODNET_TARGET_AVX512, winograd_vec16)
#endif
#undef MOODNET_WINOGRAD_VARIANTS

// One call's transforms, for the running ISA: input and output for the forward pass, input and
// grad_output for the weight gradient (traits with a Forward type, whose input transform is the
// instance of their Forward traits: one copy per ISA).
struct WinogradKernels {
  // x -> V, dy -> dM: (g, src, t0, count, row stride in tiles, zeros, tmp, dst)
  using Transform = void (*)(const ConvGeometry&, const float*, int64_t, int64_t, int64_t,
                             const float*, float*, float*);
  Transform input = nullptr, grad_output = nullptr;
  void (*output)(const ConvGeometry&, const float*, int64_t, int64_t, int64_t, const float*,
                 Activation, float*, float*, float*, const WinogradPool*) = nullptr;
};

template <class W, template <class> class On>
WinogradKernels winograd_kernels_on() {
  WinogradKernels k;
  if constexpr (requires { typename W::Forward; })  // weight-gradient traits
    k.input = &On<typename W::Forward>::input, k.grad_output = &On<W>::grad_output;
  else
    k.input = &On<W>::input, k.output = &On<W>::output;
  return k;
}

template <class W>
WinogradKernels winograd_kernels(Isa isa) {
  switch (isa) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      return winograd_kernels_on<W, WinogradAvx512>();
    case Isa::avx2:
      return winograd_kernels_on<W, WinogradAvx2>();
#endif
    default:
      return winograd_kernels_on<W, WinogradGeneric>();
  }
}

// U = G g G^T for every (c, f) of w:(3,3,C,F), written as W::planes planes of NR-wide strips
// [xi][ceil(F/NR)][C][NR], padding columns zero. The f loop is contiguous on both sides.
template <class W>
void winograd_weights(int64_t c, int64_t f, int64_t nr, const float* w, float* u) {
  const int64_t strips = (f + nr - 1) / nr, plane = strips * c * nr;
  std::fill(u, u + W::planes * plane, 0.0f);
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t s0 = 0; s0 < strips; ++s0) {
      const int64_t f0 = s0 * nr, fn = std::min(nr, f - f0);
      const float* g0 = w + ci * f + f0;  // tap (r, s) at g0[(r * 3 + s) * c * f]
      const int64_t tap = c * f;
      float* dst = u + (s0 * c + ci) * nr;
      MOODNET_OMP(omp simd)
      for (int64_t j = 0; j < fn; ++j) W::weights(g0 + j, tap, plane, dst + j);
    }
}

// y:(N,OH,OW,F) = act(conv3x3 stride 1 (x:(N,H,W,C), w:(3,3,C,F)) + b), any padding, on W's
// tiles; with `pool` (W = Winograd4 only), y:(N,POH,POW,F) is that output max-pooled.
template <class W>
void winograd_forward(const ConvGeometry& g, const float* x, const float* w, const float* b,
                      Activation act, float* y, const WinogradPool* pool = nullptr) {
  // Only F(4x4)'s output transform pools (a 4x4 tile holds whole 2x2 windows); any other would
  // write the unpooled output into the pooled buffer.
  const PoolGeometry* pg = pool ? &pool->p : nullptr;
  MOODNET_CHECK(!pg || (W::tile == 4 && pg->ph == 2 && pg->pw == 2 && pg->sh == 2 && pg->sw == 2 &&
                        pg->pad_top == 0 && pg->pad_left == 0 && pg->h == g.oh && pg->w == g.ow &&
                        pg->c == g.f),
                "winograd_forward: these tiles cannot pool ", pg ? pg->ph : 0, "x", pg ? pg->pw : 0,
                " windows");
  const Isa isa = active_isa();
  const ConvTile t = winograd_gemm_tile(isa, g.f, g.c);
  const int64_t MR = t.MR, NR = t.NR, strips = (g.f + NR - 1) / NR;
  const int64_t plane = strips * g.c * NR;
  static thread_local std::vector<float> u_buf;
  float* u = scratch(u_buf, static_cast<size_t>(W::planes * plane));
  winograd_weights<W>(g.c, g.f, NR, w, u);
  const WinogradKernels k = winograd_kernels<W>(isa);
  const int64_t tiles = g.n * WinogradTiles<W::tile>(g).per_image();
  // Tiles per block: V and M (W::planes each) within W::block_floats.
  const int64_t block = std::max<int64_t>(MR, W::block_floats / W::planes / (g.c + g.f) / MR * MR);
  const int64_t blocks = (tiles + block - 1) / block;
  const bool par = g.n * g.oh * g.ow * g.f * g.c * 9 > (1 << 18);
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t bi = 0; bi < blocks; ++bi) {
  static thread_local std::vector<float> v_buf, m_buf, zero_buf, sink_buf, tmp_buf;
  float* v = scratch(v_buf, static_cast<size_t>(W::planes * block * g.c));
  float* m = scratch(m_buf, static_cast<size_t>(W::planes * block * g.f));
  float* zeros = scratch(zero_buf, static_cast<size_t>(g.c));
  std::fill(zeros, zeros + g.c, 0.0f);
  float* sink = scratch(sink_buf, static_cast<size_t>(2 * g.f));
  // No bias: add zeros (the second half of sink's buffer).
  float* no_bias = sink + g.f;
  std::fill(no_bias, no_bias + g.f, 0.0f);
  float* tmp = scratch(tmp_buf, static_cast<size_t>(W::tmp_planes * std::max(g.c, g.f)));
  const int64_t t0 = bi * block, count = std::min(block, tiles - t0);
  k.input(g, x, t0, count, block, zeros, tmp, v);
  // Rows past `count` are read by the last row tile (never stored): keep them finite.
  const int64_t padded = (count + MR - 1) / MR * MR;
  if (padded > count)
    for (int xi = 0; xi < W::planes; ++xi)
      std::fill(v + (xi * block + count) * g.c, v + (xi * block + padded) * g.c, 0.0f);
  ConvMicroArgs p;
  p.nq = 1, p.nk = g.c, p.a_i = g.c, p.b_k = NR, p.ldc = g.f;
  for (int xi = 0; xi < W::planes; ++xi)
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
  k.output(g, m, t0, count, block, b ? b : no_bias, act, sink, tmp, y, pool);
}
}

// F(2x2, 3x3): 4x4 input tiles, 16 planes; the transforms work in registers (no tmp).
struct Winograd2 {
  static constexpr int tile = 2, planes = 16;  // outputs per tile side, transformed values
  static constexpr int64_t tmp_planes = 0;     // of max(C, F) floats
  // Forward tiles per block: V and M within about half of a 1 MiB L2.
  static constexpr int64_t block_floats = 131072;

  // V[xi][j][c] for the tiles [t0, t0 + count) of the batch, V row stride `ldv` tiles per xi.
  // zeros: C floats of 0. (V: unused, the channel loops are `omp simd`.)
  template <class V>
  MOODNET_ALWAYS_INLINE static void input(const ConvGeometry& g, const float* x, int64_t t0,
                                          int64_t count, int64_t ldv, const float* zeros,
                                          float* /*tmp*/, float* __restrict v) {
    const WinogradTiles<2> tiles(g);
    const int64_t c = g.c;
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
      const int64_t iy0 = oy - g.pad_top, ix0 = ox - g.pad_left;
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

  // y for the tiles [t0, t0 + count) from M[xi][j][f] (row stride ldm tiles per xi). Outputs
  // past the image's last row or column go to `sink` (F floats), so every store is unconditional
  // and the channel loop vectorises.
  template <class V>
  MOODNET_ALWAYS_INLINE static void output(const ConvGeometry& g, const float* m, int64_t t0,
                                           int64_t count, int64_t ldm, const float* bias,
                                           Activation act, float* sink, float* /*tmp*/, float* y,
                                           const WinogradPool* /*pool: only Winograd4 pools*/) {
    const WinogradTiles<2> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    // Clamping to [lo, hi] with selects (no branches): linear is [-inf, inf].
    const float lo = act == Activation::linear ? -__builtin_inff() : 0.0f;
    const float hi = act == Activation::relu6 ? 6.0f : __builtin_inff();
    for (int64_t j = 0; j < count; ++j) {
      const auto [n, oy, ox] = tiles.origin(t0 + j);
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
                    u2 = q[2 * xs] + q[6 * xs] + q[10 * xs],
                    u3 = q[3 * xs] + q[7 * xs] + q[11 * xs];
        const float w0 = q[4 * xs] - q[8 * xs] - q[12 * xs],
                    w1 = q[5 * xs] - q[9 * xs] - q[13 * xs],
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

  // U = G g G^T for one (c, f): g's tap (r, s) at g[(r * 3 + s) * tap], U's plane xi at
  // u[xi * plane].
  MOODNET_ALWAYS_INLINE static void weights(const float* g, int64_t tap, int64_t plane, float* u) {
    float t[4][3];
    for (int s = 0; s < 3; ++s) {  // G g
      const float a = g[s * tap], b = g[(3 + s) * tap], d = g[(6 + s) * tap];
      t[0][s] = a, t[1][s] = 0.5f * (a + b + d), t[2][s] = 0.5f * (a - b + d), t[3][s] = d;
    }
    for (int r = 0; r < 4; ++r) {  // (G g) G^T
      u[(r * 4 + 0) * plane] = t[r][0];
      u[(r * 4 + 1) * plane] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      u[(r * 4 + 2) * plane] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      u[(r * 4 + 3) * plane] = t[r][2];
    }
  }
};

}  // namespace detail

// y:(N,OH,OW,F) = act(conv3x3 stride 1 (x:(N,H,W,C), w:(3,3,C,F)) + b), any padding.
inline void conv_forward_winograd(const ConvGeometry& g, const float* x, const float* w,
                                  const float* b, Activation act, float* y) {
  detail::winograd_forward<detail::Winograd2>(g, x, w, b, act, y);
}

}  // namespace moodnet::cpu
