// Pooling and activations for the Cpu device, vectorised over channels (NHWC keeps a pixel's
// channels contiguous) and built per ISA like the convolution kernels; batch norm and dropout
// come from batchnorm.hpp. The remaining element-wise ops (losses, optimizer updates) use the
// naive float loops, which the compiler vectorises for the baseline ISA.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../reference.hpp"
#include "batchnorm.hpp"
#include "depthwise.hpp"
#include "sgemm.hpp"

namespace moodnet::cpu {

namespace detail {

// Output pixel (oy, ox), all channels: the maximum over the window's pixels inside the image,
// -inf if none (std::max in window order, so NaN handling matches the reference).
MOODNET_ALWAYS_INLINE void max_pool_forward_window(const PoolGeometry& p, int64_t oy, int64_t ox,
                                                   const float* x, float* y) {
  float* yp = y + (oy * p.ow + ox) * p.c;
  std::fill(yp, yp + p.c, -std::numeric_limits<float>::infinity());
  const int64_t iy0 = oy * p.sh - p.pad_top, ix0 = ox * p.sw - p.pad_left;
  for (int64_t iy = std::max<int64_t>(iy0, 0); iy < std::min(iy0 + p.ph, p.h); ++iy)
    for (int64_t ix = std::max<int64_t>(ix0, 0); ix < std::min(ix0 + p.pw, p.w); ++ix) {
      const float* xp = x + (iy * p.w + ix) * p.c;
      MOODNET_OMP(omp simd)
      for (int64_t c = 0; c < p.c; ++c) yp[c] = std::max(yp[c], xp[c]);
    }
}

// The common 2x2/2 pool with no padding before: its windows tile the input.
MOODNET_ALWAYS_INLINE bool is_pool_2x2_stride2(const PoolGeometry& p) {
  return p.ph == 2 && p.pw == 2 && p.sh == 2 && p.sw == 2 && p.pad_top == 0 && p.pad_left == 0;
}

// A 2x2/2 pool's windows: whole(oy, ox) for the whole ones, [0, fy) x [0, fx); cut(oy, ox) for
// the last row or column of windows that 'same' padding cuts on an odd H or W. The callers'
// lambdas are always_inline: a lambda is compiled for the baseline ISA otherwise, and as a call
// per window the 2x2 backward ran 2.5x slower (seed002's first pool, 19.6 -> 48.5 ms).
template <class Whole, class Cut>
MOODNET_ALWAYS_INLINE void for_each_2x2_window(const PoolGeometry& p, Whole whole, Cut cut) {
  const int64_t fy = std::min(p.oh, p.h / 2), fx = std::min(p.ow, p.w / 2);
  for (int64_t oy = 0; oy < fy; ++oy)
    for (int64_t ox = 0; ox < fx; ++ox) whole(oy, ox);
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = oy < fy ? fx : 0; ox < p.ow; ++ox) cut(oy, ox);
}

// A 2x2 window's maximum, m = max(max(max(max(-inf, v0), v1), v2), v3), on floats or GCC
// vectors: std::max's chain (the reference's bits), spelled on values, which GCC vectorises (it
// left the reference form scalar, with a branch). Vectors by reference: see load16.
template <class V>
MOODNET_ALWAYS_INLINE void window_max4(const V& v0, const V& v1, const V& v2, const V& v3, V& m) {
  m = V{} - std::numeric_limits<float>::infinity();
  m = m < v0 ? v0 : m;
  m = m < v1 ? v1 : m;
  m = m < v2 ? v2 : m;
  m = m < v3 ? v3 : m;
}

// Whether dy passes a folded activation at the maximum m (mask 1: ReLU, 2: ReLU6, 0: none).
MOODNET_ALWAYS_INLINE bool pool_dy_live(float m, int mask) {
  return mask == 0 || (m > 0.0f && (mask == 1 || m < 6.0f));
}

// One image: y:(OH,OW,C) = max over each window of x:(H,W,C) ('same' pads with -inf).
MOODNET_ALWAYS_INLINE void max_pool_forward_image(const PoolGeometry& p, const float* x, float* y) {
  if (is_pool_2x2_stride2(p)) {
    // 2x2/2: each output's maximum in a register, one store (the window loop above reads and
    // writes y once per window pixel). Same std::max chain from -inf, so the same bits.
    const int64_t c = p.c, row = p.w * c;
    const auto whole = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      const float* x0 = x + (2 * oy * p.w + 2 * ox) * c;
      float* yp = y + (oy * p.ow + ox) * c;
      MOODNET_OMP(omp simd)
      for (int64_t i = 0; i < c; ++i) {
        const float v0 = x0[i], v1 = x0[c + i], v2 = x0[row + i], v3 = x0[row + c + i];
        float m;
        window_max4(v0, v1, v2, v3, m);
        yp[i] = m;
      }
    };
    const auto cut = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      max_pool_forward_window(p, oy, ox, x, y);
    };
    for_each_2x2_window(p, whole, cut);
    return;
  }
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox) max_pool_forward_window(p, oy, ox, x, y);
}

// Window (oy, ox) of one image: dy goes to the first maximum in row-major order, 0 to the other
// inputs it covers, written (kAccumulate false: windows that overlap no other) or added to dx;
// `done` is C floats of scratch. mask as in max_pool_backward_image.
template <bool kAccumulate>
MOODNET_ALWAYS_INLINE void max_pool_backward_window(const PoolGeometry& p, int64_t oy, int64_t ox,
                                                    const float* x, const float* y, const float* dy,
                                                    float* dx, float* done, int mask) {
  const float* yp = y + (oy * p.ow + ox) * p.c;
  const float* dyp = dy + (oy * p.ow + ox) * p.c;
  std::fill(done, done + p.c, 0.0f);
  const int64_t iy0 = oy * p.sh - p.pad_top, ix0 = ox * p.sw - p.pad_left;
  for (int64_t iy = std::max<int64_t>(iy0, 0); iy < std::min(iy0 + p.ph, p.h); ++iy)
    for (int64_t ix = std::max<int64_t>(ix0, 0); ix < std::min(ix0 + p.pw, p.w); ++ix) {
      const float* xp = x + (iy * p.w + ix) * p.c;
      float* dxp = dx + (iy * p.w + ix) * p.c;
      MOODNET_OMP(omp simd)
      for (int64_t c = 0; c < p.c; ++c) {
        const bool take = done[c] == 0.0f && xp[c] == yp[c];
        const bool live = pool_dy_live(yp[c], mask);
        const float g = take && live ? dyp[c] : 0.0f;
        dxp[c] = kAccumulate ? dxp[c] + g : g;
        done[c] = take ? 1.0f : done[c];
      }
    }
}

// One image: dx:(H,W,C) gets each dy at the first window position (row-major) holding the max,
// as the naive kernel does; `done` is C floats of scratch. mask 1 (ReLU) or 2 (ReLU6) passes dy
// only where that activation's derivative at the max is 1 (the naive kernel's input_act).
MOODNET_ALWAYS_INLINE void max_pool_backward_image(const PoolGeometry& p, const float* x,
                                                   const float* y, const float* dy, float* dx,
                                                   float* done, int mask) {
  if (is_pool_2x2_stride2(p)) {
    // Windows tile the input, so every covered input is written once (no zero fill, no
    // read-modify-write); the first maximum in row-major order takes dy. A window the padding
    // cuts covers one input row or column.
    const int64_t c = p.c, row = p.w * c;
    const auto whole = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      const float* yp = y + (oy * p.ow + ox) * c;
      const float* dyp = dy + (oy * p.ow + ox) * c;
      const float* x0 = x + (2 * oy * p.w + 2 * ox) * c;
      float* d0 = dx + (2 * oy * p.w + 2 * ox) * c;
      MOODNET_OMP(omp simd)
      for (int64_t i = 0; i < c; ++i) {
        const float m = yp[i];
        const bool live = pool_dy_live(m, mask);
        const float g = live ? dyp[i] : 0.0f;
        const bool t00 = x0[i] == m;
        const bool t01 = !t00 && x0[c + i] == m;
        const bool t10 = !t00 && !t01 && x0[row + i] == m;
        const bool t11 = !t00 && !t01 && !t10 && x0[row + c + i] == m;
        d0[i] = t00 ? g : 0.0f;
        d0[c + i] = t01 ? g : 0.0f;
        d0[row + i] = t10 ? g : 0.0f;
        d0[row + c + i] = t11 ? g : 0.0f;
      }
    };
    const auto cut = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      max_pool_backward_window<false>(p, oy, ox, x, y, dy, dx, done, mask);
    };
    for_each_2x2_window(p, whole, cut);
    // Inputs no window covers (an odd last row or column under 'valid') get no gradient.
    for (int64_t iy = 0; iy < p.h; ++iy) {
      const int64_t from = iy < 2 * p.oh ? std::min(2 * p.ow, p.w) : 0;
      std::fill(dx + (iy * p.w + from) * c, dx + (iy + 1) * row, 0.0f);
    }
    return;
  }
  // Any other pool: windows may overlap, so each adds onto a zeroed dx.
  std::fill(dx, dx + p.h * p.w * p.c, 0.0f);
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      max_pool_backward_window<true>(p, oy, ox, x, y, dy, dx, done, mask);
}

// Training's Conv2D -> MaxPooling2D fusion keeps, instead of the conv output z, one byte per
// pooled output: the window position (r * PW + c) of the first maximum in row-major order, the
// input that max_pool_backward_image hands dy to, or kPoolNoGradient where dy reaches no input
// (no element equals the maximum, as with NaN, or the folded activation's derivative at the
// maximum is 0; mask as in max_pool_backward_image). Only for windows that tile the input from
// its top-left corner (stride = window, no padding before), of at most kPoolMaxWindow inputs.
inline constexpr uint8_t kPoolNoGradient = 0xFF;
inline constexpr int64_t kPoolMaxWindow = 254;
inline bool pool_index_applies(const PoolGeometry& p) {
  return p.ph == p.sh && p.pw == p.sw && p.pad_top == 0 && p.pad_left == 0 &&
         p.ph * p.pw <= kPoolMaxWindow;
}

// 16 channels in GCC vectors (each ISA's instance splits them into its registers).
typedef float PoolF16 __attribute__((vector_size(64)));
typedef int32_t PoolI16 __attribute__((vector_size(64)));
typedef uint8_t PoolU16 __attribute__((vector_size(16)));
// (Vectors go by reference: a function taking or returning a 64-byte vector by value has no
// ABI without AVX-512, which the generic instances lack.)
MOODNET_ALWAYS_INLINE void load16(const float* p, PoolF16& v) { std::memcpy(&v, p, sizeof v); }
// k where dy passes the activation at the maxima m, else kPoolNoGradient.
template <class I, class V>
MOODNET_ALWAYS_INLINE void pool_live(I& k, const V& m, int mask) {
  // Each comparison straight into a select: a comparison result kept as a vector and tested
  // again (live ? k : ...) went through scalar code, 10 % of Winograd's pooled forward.
  if (mask == 0) return;
  const I none = I{} + kPoolNoGradient;
  k = m > V{} ? k : none;
  if (mask == 2) k = m < V{} + 6.0f ? k : none;
}
// The low byte of each of k's lanes to dst[0, N) (N = k's lane count: 16, 8 or 4).
template <class VI>
MOODNET_ALWAYS_INLINE void store_index_bytes(const VI& k, uint8_t* dst) {
  typedef uint8_t U8x8 __attribute__((vector_size(8)));
  typedef uint8_t U8x4 __attribute__((vector_size(4)));
  if constexpr (sizeof(VI) == 64) {
    const PoolU16 b = __builtin_convertvector(k, PoolU16);
    std::memcpy(dst, &b, sizeof b);
  } else if constexpr (sizeof(VI) == 32) {
    const U8x8 b = __builtin_convertvector(k, U8x8);
    std::memcpy(dst, &b, sizeof b);
  } else {
    static_assert(sizeof(VI) == 16, "16, 8 or 4 lanes of int32");
    const U8x4 b = __builtin_convertvector(k, U8x4);
    std::memcpy(dst, &b, sizeof b);
  }
}

// One image: y:(OH,OW,C) as max_pool_forward_image, and idx:(OH,OW,C) as described above.
MOODNET_ALWAYS_INLINE void max_pool_forward_index_image(const PoolGeometry& p, const float* x,
                                                        float* y, uint8_t* idx, int mask) {
  const int64_t c = p.c, row = p.w * c;
  if (is_pool_2x2_stride2(p)) {
    const auto whole = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      const float* x0 = x + (2 * oy * p.w + 2 * ox) * c;
      float* yp = y + (oy * p.ow + ox) * c;
      uint8_t* ip = idx + (oy * p.ow + ox) * c;
      // 16 channels a step in explicit vectors: with byte stores in the loop, GCC's vectoriser
      // picked 64 lanes and ran C = 16 or 32 through its scalar remainder.
      int64_t i = 0;
      for (; i + 16 <= c; i += 16) {
        PoolF16 v0, v1, v2, v3;
        load16(x0 + i, v0), load16(x0 + c + i, v1), load16(x0 + row + i, v2);
        load16(x0 + row + c + i, v3);
        PoolF16 m;
        window_max4(v0, v1, v2, v3, m);
        std::memcpy(yp + i, &m, sizeof m);
        PoolI16 k = v3 == m ? PoolI16{} + 3 : PoolI16{} + kPoolNoGradient;
        k = v2 == m ? PoolI16{} + 2 : k;
        k = v1 == m ? PoolI16{} + 1 : k;
        k = v0 == m ? PoolI16{} : k;
        pool_live(k, m, mask);
        store_index_bytes(k, ip + i);
      }
      for (; i < c; ++i) {
        // The max as max_pool_forward_image takes it (same bits), then its first position.
        const float v0 = x0[i], v1 = x0[c + i], v2 = x0[row + i], v3 = x0[row + c + i];
        float m;
        window_max4(v0, v1, v2, v3, m);
        yp[i] = m;
        const int k = v0 == m ? 0 : v1 == m ? 1 : v2 == m ? 2 : v3 == m ? 3 : kPoolNoGradient;
        ip[i] = static_cast<uint8_t>(pool_dy_live(m, mask) ? k : kPoolNoGradient);
      }
    };
    const auto cut = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      max_pool_forward_window(p, oy, ox, x, y);
    };
    for_each_2x2_window(p, whole, cut);
  } else {
    for (int64_t oy = 0; oy < p.oh; ++oy)
      for (int64_t ox = 0; ox < p.ow; ++ox) max_pool_forward_window(p, oy, ox, x, y);
  }
  // The positions: a second pass over the windows (all of them but the 2x2 whole ones).
  const auto positions = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
    const float* yp = y + (oy * p.ow + ox) * c;
    uint8_t* ip = idx + (oy * p.ow + ox) * c;
    std::fill(ip, ip + c, kPoolNoGradient);
    const int64_t iy0 = oy * p.sh, ix0 = ox * p.sw;
    for (int64_t iy = iy0; iy < std::min(iy0 + p.ph, p.h); ++iy)
      for (int64_t ix = ix0; ix < std::min(ix0 + p.pw, p.w); ++ix) {
        const float* xp = x + (iy * p.w + ix) * c;
        const auto k = static_cast<uint8_t>((iy - iy0) * p.pw + (ix - ix0));
        for (int64_t i = 0; i < c; ++i)
          ip[i] = ip[i] == kPoolNoGradient && xp[i] == yp[i] ? k : ip[i];
      }
    for (int64_t i = 0; i < c; ++i) ip[i] = pool_dy_live(yp[i], mask) ? ip[i] : kPoolNoGradient;
  };
  if (is_pool_2x2_stride2(p))
    for_each_2x2_window(p, [](int64_t, int64_t) __attribute__((always_inline)){}, positions);
  else
    for (int64_t oy = 0; oy < p.oh; ++oy)
      for (int64_t ox = 0; ox < p.ow; ++ox) positions(oy, ox);
}

// One image: dx:(H,W,C) = dy:(OH,OW,C) at the position idx holds, 0 elsewhere (inputs no
// window covers too): max_pool_backward_image's result from the index max_pool_forward_index
// kept.
MOODNET_ALWAYS_INLINE void max_pool_backward_index_image(const PoolGeometry& p, const uint8_t* idx,
                                                         const float* dy, float* dx) {
  const int64_t c = p.c, row = p.w * c;
  const auto window = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
    const float* dyp = dy + (oy * p.ow + ox) * c;
    const uint8_t* ip = idx + (oy * p.ow + ox) * c;
    const int64_t iy0 = oy * p.sh, ix0 = ox * p.sw;
    for (int64_t iy = iy0; iy < std::min(iy0 + p.ph, p.h); ++iy)
      for (int64_t ix = ix0; ix < std::min(ix0 + p.pw, p.w); ++ix) {
        float* dxp = dx + (iy * p.w + ix) * c;
        const auto k = static_cast<uint8_t>((iy - iy0) * p.pw + (ix - ix0));
        MOODNET_OMP(omp simd)
        for (int64_t i = 0; i < c; ++i) dxp[i] = ip[i] == k ? dyp[i] : 0.0f;
      }
  };
  if (is_pool_2x2_stride2(p)) {
    const auto whole = [&](int64_t oy, int64_t ox) __attribute__((always_inline)) {
      const float* dyp = dy + (oy * p.ow + ox) * c;
      const uint8_t* ip = idx + (oy * p.ow + ox) * c;
      float* d0 = dx + (2 * oy * p.w + 2 * ox) * c;
      int64_t i = 0;
      for (; i + 16 <= c; i += 16) {  // explicit vectors, as in max_pool_forward_index_image
        PoolU16 kb;
        std::memcpy(&kb, ip + i, sizeof kb);
        const PoolI16 k = __builtin_convertvector(kb, PoolI16);
        PoolF16 g;
        load16(dyp + i, g);
        const PoolF16 zero = {};
        const PoolF16 o[4] = {k == 0 ? g : zero, k == 1 ? g : zero, k == 2 ? g : zero,
                              k == 3 ? g : zero};
        std::memcpy(d0 + i, &o[0], sizeof g);
        std::memcpy(d0 + c + i, &o[1], sizeof g);
        std::memcpy(d0 + row + i, &o[2], sizeof g);
        std::memcpy(d0 + row + c + i, &o[3], sizeof g);
      }
      for (; i < c; ++i) {
        const int k = ip[i];
        const float g = dyp[i];
        d0[i] = k == 0 ? g : 0.0f;
        d0[c + i] = k == 1 ? g : 0.0f;
        d0[row + i] = k == 2 ? g : 0.0f;
        d0[row + c + i] = k == 3 ? g : 0.0f;
      }
    };
    for_each_2x2_window(p, whole, window);
  } else {
    for (int64_t oy = 0; oy < p.oh; ++oy)
      for (int64_t ox = 0; ox < p.ow; ++ox) window(oy, ox);
  }
  // Inputs no window covers (an odd last row or column under 'valid') get no gradient.
  for (int64_t iy = 0; iy < p.h; ++iy) {
    const int64_t from = iy < p.oh * p.sh ? std::min(p.ow * p.sw, p.w) : 0;
    std::fill(dx + (iy * p.w + from) * c, dx + (iy + 1) * row, 0.0f);
  }
}

// The mask argument of max_pool_backward_image for the input activation a pool folds in.
inline int folded_activation_mask(Activation input_act) {
  return input_act == Activation::relu ? 1 : input_act == Activation::relu6 ? 2 : 0;
}

// dz = dy where the output y is inside ReLU's (or ReLU6's) linear range, else 0.
MOODNET_ALWAYS_INLINE void relu_backward_span(int64_t n, bool relu6, const float* y,
                                              const float* dy, float* dz) {
  MOODNET_OMP(omp simd)
  for (int64_t i = 0; i < n; ++i) dz[i] = (y[i] > 0.0f && (!relu6 || y[i] < 6.0f)) ? dy[i] : 0.0f;
}

#define MOODNET_ELEMENTWISE_VARIANTS(suffix, target)                                              \
  target inline void max_pool_forward_##suffix(const PoolGeometry& p, const float* x, float* y) { \
    max_pool_forward_image(p, x, y);                                                              \
  }                                                                                               \
  target inline void max_pool_backward_##suffix(const PoolGeometry& p, const float* x,            \
                                                const float* y, const float* dy, float* dx,       \
                                                float* done, int mask) {                          \
    max_pool_backward_image(p, x, y, dy, dx, done, mask);                                         \
  }                                                                                               \
  target inline void relu_backward_##suffix(int64_t n, bool relu6, const float* y,                \
                                            const float* dy, float* dz) {                         \
    relu_backward_span(n, relu6, y, dy, dz);                                                      \
  }                                                                                               \
  target inline void max_pool_forward_index_##suffix(const PoolGeometry& p, const float* x,       \
                                                     float* y, uint8_t* idx, int mask) {          \
    max_pool_forward_index_image(p, x, y, idx, mask);                                             \
  }                                                                                               \
  target inline void max_pool_backward_index_##suffix(const PoolGeometry& p, const uint8_t* idx,  \
                                                      const float* dy, float* dx) {               \
    max_pool_backward_index_image(p, idx, dy, dx);                                                \
  }

MOODNET_ELEMENTWISE_VARIANTS(generic, )
#if MOODNET_SGEMM_X86
MOODNET_ELEMENTWISE_VARIANTS(avx2, MOODNET_TARGET_AVX2)
MOODNET_ELEMENTWISE_VARIANTS(avx512, MOODNET_TARGET_AVX512)
#endif
#undef MOODNET_ELEMENTWISE_VARIANTS

struct ElementwiseKernels {
  void (*max_pool_forward)(const PoolGeometry&, const float*, float*);
  void (*max_pool_backward)(const PoolGeometry&, const float*, const float*, const float*, float*,
                            float*, int);
  void (*relu_backward)(int64_t, bool, const float*, const float*, float*);
  void (*max_pool_forward_index)(const PoolGeometry&, const float*, float*, uint8_t*, int);
  void (*max_pool_backward_index)(const PoolGeometry&, const uint8_t*, const float*, float*);
};

inline ElementwiseKernels elementwise_kernels() {
  switch (active_isa()) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      return {&max_pool_forward_avx512, &max_pool_backward_avx512, &relu_backward_avx512,
              &max_pool_forward_index_avx512, &max_pool_backward_index_avx512};
    case Isa::avx2:
      return {&max_pool_forward_avx2, &max_pool_backward_avx2, &relu_backward_avx2,
              &max_pool_forward_index_avx2, &max_pool_backward_index_avx2};
#endif
    default:
      return {&max_pool_forward_generic, &max_pool_backward_generic, &relu_backward_generic,
              &max_pool_forward_index_generic, &max_pool_backward_index_generic};
  }
}

}  // namespace detail

// ops<Cpu> derives from this table; it replaces the naive float loops it speeds up.
struct elementwise_ops : naive_ops<float> {
  // x:(N,H,W,C) y:(N,OH,OW,C)
  static void max_pool2d_forward(const PoolGeometry& p, const float* x, float* y) {
    const auto k = detail::elementwise_kernels();
    const bool par = p.n * p.oh * p.ow * p.c * p.ph * p.pw > 65536;
    (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t n = 0; n < p.n; ++n)
  k.max_pool_forward(p, x + n * p.h * p.w * p.c, y + n * p.oh * p.ow * p.c);
  }
  // dx:(N,H,W,C) overwritten
  static void max_pool2d_backward(const PoolGeometry& p, const float* x, const float* y,
                                  const float* dy, float* dx,
                                  Activation input_act = Activation::linear) {
    const auto k = detail::elementwise_kernels();
    const int mask = detail::folded_activation_mask(input_act);
    const bool par = p.n * p.oh * p.ow * p.c * p.ph * p.pw > 65536;
    (void)par;
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t n = 0; n < p.n; ++n) {
  static thread_local std::vector<float> done_buf;
  float* done = detail::scratch(done_buf, static_cast<size_t>(p.c));
  k.max_pool_backward(p, x + n * p.h * p.w * p.c, y + n * p.oh * p.ow * p.c,
                      dy + n * p.oh * p.ow * p.c, dx + n * p.h * p.w * p.c, done, mask);
}
  }
  // The pool's backward from the index conv2d_forward_max_pool kept (training's Conv2D ->
  // MaxPooling2D fusion). idx, dy:(N,OH,OW,C) dx:(N,H,W,C) overwritten
  static void max_pool2d_backward_index(const PoolGeometry& p, const uint8_t* idx, const float* dy,
                                        float* dx) {
    MOODNET_CHECK(detail::pool_index_applies(p), "max_pool2d_backward_index: pool windows ", p.ph,
                  "x", p.pw, " / ", p.sh, "x", p.sw, " do not tile the input");
    const auto k = detail::elementwise_kernels();
    const bool par = p.n * p.oh * p.ow * p.c * p.ph * p.pw > 65536;
    (void)par;
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t n = 0; n < p.n; ++n)
  k.max_pool_backward_index(p, idx + n * p.oh * p.ow * p.c, dy + n * p.oh * p.ow * p.c,
                            dx + n * p.h * p.w * p.c);
  }
  // x, xhat, y:(rows, c) gamma, beta, mean, var, inv_std:(c)
  static void batch_norm_train_forward(int64_t rows, int64_t c, float eps, const float* x,
                                       const float* gamma, const float* beta, float* mean,
                                       float* var, float* inv_std, float* xhat, float* y) {
    cpu::batch_norm_train_forward(rows, c, eps, x, gamma, beta, mean, var, inv_std, xhat, y);
  }
  static void batch_norm_infer_forward(int64_t rows, int64_t c, float eps, const float* x,
                                       const float* gamma, const float* beta,
                                       const float* moving_mean, const float* moving_var,
                                       float* y) {
    cpu::batch_norm_infer_forward(rows, c, eps, x, gamma, beta, moving_mean, moving_var, y);
  }
  static void batch_norm_backward(int64_t rows, int64_t c, const float* dy, const float* xhat,
                                  const float* gamma, const float* inv_std, float* dx,
                                  float* dgamma, float* dbeta, float* scratch) {
    cpu::batch_norm_backward(rows, c, dy, xhat, gamma, inv_std, dx, dgamma, dbeta, scratch);
  }
  static void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x,
                              float* mask, float* y) {
    cpu::dropout_forward(n, rate, seed, stream, x, mask, y);
  }
  static void activation_backward(Activation a, int64_t rows, int64_t cols, const float* y,
                                  const float* dy, float* dz) {
    if (a != Activation::relu && a != Activation::relu6)
      return naive_ops<float>::activation_backward(a, rows, cols, y, dy, dz);
    const auto k = detail::elementwise_kernels();
    const int64_t n = rows * cols, chunk = 1 << 16;
    const bool relu6 = a == Activation::relu6;
MOODNET_OMP(omp parallel for schedule(static) if (n > 2 * chunk))
for (int64_t i = 0; i < n; i += chunk)
  k.relu_backward(std::min(chunk, n - i), relu6, y + i, dy + i, dz + i);
  }
};

}  // namespace moodnet::cpu
