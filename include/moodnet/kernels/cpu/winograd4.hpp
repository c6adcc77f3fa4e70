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
#include "elementwise.hpp"
#include "winograd.hpp"

namespace moodnet::cpu {

// Whether conv_forward_winograd4 handles g (and is expected to beat F(2x2, 3x3)): the F(2x2)
// conditions, at most 64 input channels (accuracy, see above), and outputs of at least 8x8
// (smaller ones waste much of a 4x4 tile on padding).
inline bool winograd4_applies(const ConvGeometry& g) {
  return winograd_applies(g) && g.c <= 64 && g.oh >= 8 && g.ow >= 8;
}

namespace detail {

// The input and output transforms run a tile's whole 6x6 block of one register of channels
// (winograd.hpp's V: 16, 8 or 4 floats by ISA) through both 1-D passes in registers. The
// per-pass channel loops they replace went through a scratch buffer twice and spent more on loop
// and pointer set-up than on the arithmetic where C = 16 (one vector a pass): on shape b (16 ->
// 32 channels) the transforms took 53 % of the forward pass, the GEMMs 31 %.
template <class V>
constexpr int64_t lanes_of = sizeof(V) / sizeof(float);

// One column or row of B^T d: o[x] = sum_y B^T(x, y) d[y].
template <class V>
MOODNET_ALWAYS_INLINE void winograd4_bt(const V (&d)[6], V (&o)[6]) {
  o[0] = d[0] - 1.5f * d[1] - 2.0f * d[2] + 1.5f * d[3] + d[4];
  o[1] = -d[1] + 0.5f * d[2] + 2.5f * d[3] + d[4];
  o[2] = d[1] - 2.5f * d[2] + 0.5f * d[3] + d[4];
  o[3] = -2.0f * d[1] - d[2] + 2.0f * d[3] + d[4];
  o[4] = 0.5f * d[1] - d[2] - 0.5f * d[3] + d[4];
  o[5] = d[1] - 1.5f * d[2] - 2.0f * d[3] + 1.5f * d[4] + d[5];
}

// One column or row of A^T M: o[i] = sum_x A^T(i, x) m[x].
template <class V>
MOODNET_ALWAYS_INLINE void winograd4_at(const V (&m)[6], V (&o)[4]) {
  const V a = m[1] + m[2], b = m[1] - m[2];
  o[0] = m[0] + a + m[3] + m[4];
  o[1] = b + 0.5f * m[3] - 2.0f * m[4];
  o[2] = a + 0.25f * m[3] + 4.0f * m[4];
  o[3] = b + 0.125f * m[3] - 8.0f * m[4] + m[5];
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

// Planes x * KO + y of P d P^T for one register of channels, P a KO x KI matrix that Pass::run
// applies to one column or row (the input transform: B^T, 6 x 6; dy's for the weight gradient:
// A, 6 x 4): d(r, c) at d[r * rs + c * cs], plane xi written at out[xi * xs], each store
// fetching the line `ahead` floats on into L1 (the next tile's, see Winograd4::input).
template <class V, int KI, int KO, class Pass>
MOODNET_ALWAYS_INLINE void transform_group(const float* d, int64_t rs, int64_t cs, float* out,
                                           int64_t xs, int64_t ahead) {
  V t[KO][KI];  // P d, [row][column]
  for (int col = 0; col < KI; ++col) {
    V in[KI], o[KO];
    for (int r = 0; r < KI; ++r) in[r] = wvec<V>(d + r * rs + col * cs).v;
    Pass::run(in, o);
    for (int x = 0; x < KO; ++x) t[x][col] = o[x];
  }
  for (int x = 0; x < KO; ++x) {  // (P d) P^T, row x
    V o[KO];
    Pass::run(t[x], o);
    for (int y = 0; y < KO; ++y) {
      float* dst = out + (x * KO + y) * xs;
      __builtin_prefetch(dst + ahead, 1, 3);
      wvec<V>(dst).v = o[y];
    }
  }
}
// transform_group over all n channels of a pixel (cs = n floats apart, the planes' rows
// starting at out): whole registers in place, the last n % lanes channels through zero-padded
// copies.
template <class V, int KI, int KO, class Pass>
MOODNET_ALWAYS_INLINE void transform_channels(const float* d, int64_t rs, int64_t n, float* out,
                                              int64_t xs, int64_t ahead) {
  constexpr int64_t lanes = lanes_of<V>;
  const int64_t whole = n / lanes * lanes, rest = n - whole;
  for (int64_t c0 = 0; c0 < whole; c0 += lanes)
    transform_group<V, KI, KO, Pass>(d + c0, rs, n, out + c0, xs, ahead);
  if (rest == 0) return;
  alignas(64) float in[KI * KI * lanes] = {}, o[KO * KO * lanes];
  for (int i = 0; i < KI * KI; ++i)
    std::copy_n(d + (i / KI) * rs + (i % KI) * n + whole, rest, in + i * lanes);
  transform_group<V, KI, KO, Pass>(in, KI * lanes, lanes, o, lanes, 0);
  for (int xi = 0; xi < KO * KO; ++xi) std::copy_n(o + xi * lanes, rest, out + xi * xs + whole);
}

// The k x k window at (y0, x0) of an h x w image of n channels into dst (k * k * n floats), zero
// where it leaves the image: a border tile's input.
MOODNET_ALWAYS_INLINE void copy_window(const float* image, int64_t h, int64_t w, int64_t n,
                                       int64_t y0, int64_t x0, int k, float* dst) {
  for (int r = 0; r < k; ++r)
    for (int col = 0; col < k; ++col, dst += n) {
      const int64_t y = y0 + r, x = x0 + col;
      if (y >= 0 && y < h && x >= 0 && x < w)
        std::copy_n(image + (y * w + x) * n, n, dst);
      else
        std::fill_n(dst, n, 0.0f);
    }
}

struct BtPass {
  template <class V>
  MOODNET_ALWAYS_INLINE static void run(const V (&d)[6], V (&o)[6]) {
    winograd4_bt(d, o);
  }
};

// F(4x4, 3x3): 6x6 input tiles, 36 planes.
struct Winograd4 {
  static constexpr int tile = 4, planes = 36;  // outputs per tile side, transformed values
  static constexpr int64_t tmp_planes = 36;    // of max(C, F) floats: a border tile's window
  // Forward tiles per block: V and M within about a quarter of a 1 MiB L2 (measured on fer-cnn's
  // shapes: a half was 5-10 % slower).
  static constexpr int64_t block_floats = 65536;

  // V[xi][j][c], xi < 36, for the tiles [t0, t0 + count), V row stride `ldv` tiles per xi.
  // tmp: 36 * C floats of scratch (a border tile's window, zero outside the image).
  template <class V>
  MOODNET_ALWAYS_INLINE static void input(const ConvGeometry& g, const float* x, int64_t t0,
                                          int64_t count, int64_t ldv, const float* /*zeros*/,
                                          float* tmp, float* v) {
    const WinogradTiles<4> tiles(g);
    const int64_t c = g.c, xs = ldv * c;  // between xi planes
    auto o = tiles.origin(t0);
    for (int64_t j = 0; j < count; ++j, tiles.next(o)) {
      const int64_t iy0 = o.oy - g.pad_top, ix0 = o.ox - g.pad_left;
      const float* d;
      int64_t rs;
      if (iy0 >= 0 && iy0 + 6 <= g.h && ix0 >= 0 && ix0 + 6 <= g.w) {
        d = x + ((o.n * g.h + iy0) * g.w + ix0) * c, rs = g.w * c;
      } else {  // the window into tmp, zero outside the image
        copy_window(x + o.n * g.h * g.w * c, g.h, g.w, c, iy0, ix0, 6, tmp);
        d = tmp, rs = 6 * c;
      }
      // Each store to V also fetches the next tile's line of that plane into L1 (`ahead`), and
      // in output() each load of M the next tile's: 36 lines a tile, one per plane and apart in
      // L2, too many streams for the hardware prefetcher. Shape b forward, 1 thread, host C, 4
      // alternated runs (best of 5): 29.7-31.7 -> 24.2-30.2 ms with both (then a loop over the
      // next tile's lines before each tile; this form measured the same within the noise);
      // without the V half 27.2-37.0.
      const int64_t ahead = j + 1 < count ? c : 0;
      transform_channels<V, 6, 6, BtPass>(d, rs, c, v + j * c, xs, ahead);
    }
  }

  // The 4x4 outputs of one register of filters: M plane xi at m[xi * xs], clamped to [lo, hi] after
  // the bias (linear: [-inf, inf]).
  template <class V>
  MOODNET_ALWAYS_INLINE static void output_group(const float* m, int64_t xs, int64_t ahead,
                                                 const V& bias, const V& lo, const V& hi,
                                                 V (&y)[4][4]) {
    V t[4][6];  // A^T M, [row][column]
    for (int col = 0; col < 6; ++col) {
      V in[6], out[4];
      for (int x = 0; x < 6; ++x) {
        const float* src = m + (x * 6 + col) * xs;
        __builtin_prefetch(src + ahead, 0, 3);
        in[x] = wvec<V>(src).v;
      }
      winograd4_at(in, out);
      for (int r = 0; r < 4; ++r) t[r][col] = out[r];
    }
    for (int r = 0; r < 4; ++r) {  // (A^T M) A, row r
      V out[4];
      winograd4_at(t[r], out);
      for (int col = 0; col < 4; ++col) {
        V v = out[col] + bias;
        v = v < lo ? lo : v;
        y[r][col] = v > hi ? hi : v;
      }
    }
  }

  // The 2x2 windows of a tile's outputs (rows oy, oy + 1 or oy + 2, oy + 3 as pr = 0, 1) into
  // the pooled y at channel f0; windows past the pooled output are dropped, outputs past the
  // conv output skipped. Max from -inf in the pool kernel's order (bitwise conv then pool); with
  // pool.idx, the position of each window's first maximum as max_pool_forward_index_image keeps
  // it (mask: the conv's activation, 1 ReLU, 2 ReLU6, 0 linear).
  template <class V>
  MOODNET_ALWAYS_INLINE static void max_pool_group(const ConvGeometry& g, const WinogradPool& pool,
                                                   int mask, int64_t n, int64_t oy, int64_t ox,
                                                   const V (&y)[4][4], int64_t f0, int64_t lanes,
                                                   float* out) {
    using VI = decltype(y[0][0] < y[0][0]);  // the integer vector of V's comparisons
    constexpr int64_t kLanes = lanes_of<V>;
    const PoolGeometry& p = pool.p;
    for (int pr = 0; pr < 2; ++pr) {
      const int64_t py = oy / 2 + pr;
      if (py >= p.oh) break;
      for (int pc = 0; pc < 2; ++pc) {
        const int64_t px = ox / 2 + pc;
        if (px >= p.ow) break;
        // The window's outputs inside the conv output: (0, 0) always, the others where `down`
        // and `right` allow. Indices into y stay compile-time constants (the pr, pc loops
        // unroll), so y stays in registers: runtime-bounded loops over it spilled the tile to
        // the stack (the index below then cost 35 % of the pooled forward).
        const bool down = oy + 2 * pr + 1 < g.oh, right = ox + 2 * pc + 1 < g.ow;
        const V& y00 = y[2 * pr][2 * pc];
        const V& y01 = y[2 * pr][2 * pc + 1];
        const V& y10 = y[2 * pr + 1][2 * pc];
        const V& y11 = y[2 * pr + 1][2 * pc + 1];
        V mx = V{} - __builtin_inff();
        mx = mx < y00 ? y00 : mx;
        if (right) mx = mx < y01 ? y01 : mx;
        if (down) mx = mx < y10 ? y10 : mx;
        if (down && right) mx = mx < y11 ? y11 : mx;
        const int64_t at = ((n * p.oh + py) * p.ow + px) * g.f + f0;
        float* dst = out + at;
        if (lanes == kLanes)
          wvec<V>(dst).v = mx;
        else
          for (int64_t k = 0; k < lanes; ++k) dst[k] = mx[k];
        if (!pool.idx) continue;
        // The first position holding the max: the positions in reverse, each taking over.
        VI k = VI{} + kPoolNoGradient;
        if (down && right) k = y11 == mx ? VI{} + 3 : k;
        if (down) k = y10 == mx ? VI{} + 2 : k;
        if (right) k = y01 == mx ? VI{} + 1 : k;
        k = y00 == mx ? VI{} : k;
        pool_live(k, mx, mask);
        uint8_t* ip = pool.idx + at;
        if (lanes == kLanes)
          store_index_bytes(k, ip);
        else
          for (int64_t j = 0; j < lanes; ++j) ip[j] = static_cast<uint8_t>(k[j]);
      }
    }
  }

  // y for the tiles [t0, t0 + count) from M[xi][j][f] (row stride ldm tiles per xi). Outputs
  // past the image's last row or column go to `sink` (F floats), so the full groups' stores are
  // unconditional. With `pool`, y is the output max-pooled by 2x2 windows (stride 2, from the
  // top-left corner; a 4x4 tile holds whole windows), pooled in registers.
  template <class V>
  MOODNET_ALWAYS_INLINE static void output(const ConvGeometry& g, const float* m, int64_t t0,
                                           int64_t count, int64_t ldm, const float* bias,
                                           Activation act, float* sink, float* /*tmp*/, float* y,
                                           const WinogradPool* pool = nullptr) {
    const WinogradTiles<4> tiles(g);
    const int64_t f = g.f, xs = ldm * f;
    constexpr int64_t lanes = lanes_of<V>;
    const int64_t whole = f / lanes * lanes;
    // Clamping to [lo, hi] with selects (no branches): linear is [-inf, inf].
    const V lo = V{} + (act == Activation::linear ? -__builtin_inff() : 0.0f);
    const V hi = V{} + (act == Activation::relu6 ? 6.0f : __builtin_inff());
    const int mask = folded_activation_mask(act);
    auto o = tiles.origin(t0);
    for (int64_t j = 0; j < count; ++j, tiles.next(o)) {
      const float* mj = m + j * f;
      const int64_t ahead = j + 1 < count ? f : 0;  // the next tile's M lines (see input())
      float* yo[4][4] = {};  // the outputs' addresses (not with pool: y is the pooled output)
      if (!pool) {
        for (int r = 0; r < 4; ++r)
          for (int col = 0; col < 4; ++col)
            yo[r][col] = o.oy + r >= g.oh || o.ox + col >= g.ow
                             ? sink
                             : y + ((o.n * g.oh + o.oy + r) * g.ow + o.ox + col) * f;
        // The output rows four tiles ahead into L2 (as the RGB direct tile does), so their
        // ownership requests are under way before the stores: y streams out to L3 or memory, and
        // stores that miss stall the store buffer. Forward, 1 thread, host C, best of 5, 4
        // alternated runs: b 23.0-24.6 -> 22.5-22.6 ms, e 16.3-17.4 -> 14.7-15.6 (8 tiles ahead:
        // in between). The address may lie past the output; a prefetch never faults.
        for (int r = 0; r < 4 && o.oy + r < g.oh; ++r) {
          const uintptr_t ahead_y =
              reinterpret_cast<uintptr_t>(y) +
              uintptr_t((o.n * g.oh + o.oy + r) * g.ow + o.ox + 16) * uintptr_t(f) * sizeof(float);
          for (int64_t b = 0; b < 4 * f * int64_t(sizeof(float)); b += 64)
            __builtin_prefetch(reinterpret_cast<const void*>(ahead_y + b), 0, 2);
        }
      }
      for (int64_t f0 = 0; f0 < whole; f0 += lanes) {
        V out[4][4];
        const V bv = wvec<V>(bias + f0).v;  // a copy: bias need not be aligned (see wvec)
        output_group<V>(mj + f0, xs, ahead, bv, lo, hi, out);
        if (pool) {
          max_pool_group(g, *pool, mask, o.n, o.oy, o.ox, out, f0, lanes, y);
          continue;
        }
        for (int r = 0; r < 4; ++r)
          for (int col = 0; col < 4; ++col) wvec<V>(yo[r][col] + f0).v = out[r][col];
      }
      if (whole < f) {  // the last filters, through zero-padded copies
        const int64_t rest = f - whole;
        alignas(64) float in[36 * lanes] = {}, b[lanes] = {};
        for (int xi = 0; xi < 36; ++xi) std::copy_n(mj + xi * xs + whole, rest, in + xi * lanes);
        std::copy_n(bias + whole, rest, b);
        V out[4][4];
        const V bv = wvec<V>(b).v;
        output_group<V>(in, lanes, 0, bv, lo, hi, out);
        if (pool) {
          max_pool_group(g, *pool, mask, o.n, o.oy, o.ox, out, whole, rest, y);
          continue;
        }
        for (int r = 0; r < 4; ++r)
          for (int col = 0; col < 4; ++col)
            for (int64_t k = 0; k < rest; ++k) yo[r][col][whole + k] = out[r][col][k];
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
// 'same' over an odd size): y:(N,POH,POW,F); idx:(N,POH,POW,F) or null: each window's first
// maximum (max_pool_forward_index_image).
inline void conv_forward_winograd4_max_pool(const ConvGeometry& g, const float* x, const float* w,
                                            const float* b, Activation act, const PoolGeometry& p,
                                            float* y, uint8_t* idx = nullptr) {
  const detail::WinogradPool pool{p, idx};
  detail::winograd_forward<detail::Winograd4>(g, x, w, b, act, y, &pool);
}

}  // namespace moodnet::cpu
