// Batch normalisation (training forward and backward) and dropout for the Cpu device.
//   batch norm  the per-channel sums run over a fixed number of row chunks (a function of the
//               shape only), each vectorised over channels, inside one parallel region; the
//               chunk partials are added in chunk order in double. Same bits for any thread count,
//               and more accurate than one float running sum over N*H*W rows. The statistics
//               take one pass over x (sums and sums of squares of x minus its first row).
//   dropout     the reference's mask (random_uniform(seed, stream, i) < rate) drawn with integer
//               arithmetic: u = (bits >> 11) * 2^-53 < rate  <=>  (bits >> 11) < ceil(rate * 2^53),
//               so the per-element double conversion goes and the loop vectorises (AVX-512DQ has
//               the 64-bit multiply). Bitwise the reference's mask.
// Each body is compiled for AVX-512, AVX2 and the baseline and picked at run time.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "../../core/random.hpp"
#include "depthwise.hpp"
#include "gemm.hpp"

namespace moodnet::cpu {

namespace detail {

// Rows [r0, r1) of x shifted by `center` (x's first row, so that the sums stay small next to
// the spread): acc[0..c) = sum of x(r, k) - center[k], acc[c..2c) = sum of the squares.
MOODNET_ALWAYS_INLINE void bn_sum_rows(int64_t r0, int64_t r1, int64_t c, const float* x,
                                       const float* center, float* __restrict acc) {
  float* __restrict s1 = acc;
  float* __restrict s2 = acc + c;
  for (int64_t k = 0; k < c; ++k) s1[k] = s2[k] = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) {
      const float d = xr[k] - center[k];
      s1[k] += d;
      s2[k] += d * d;
    }
  }
}

// Rows [r0, r1): xhat = (x - mean) * inv_std, y = gamma * xhat + beta.
MOODNET_ALWAYS_INLINE void bn_normalize_rows(int64_t r0, int64_t r1, int64_t c, const float* x,
                                             const float* mean, const float* inv_std,
                                             const float* gamma, const float* beta,
                                             float* __restrict xhat, float* __restrict y) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    float* __restrict hr = xhat + r * c;
    float* __restrict yr = y + r * c;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) {
      const float h = (xr[k] - mean[k]) * inv_std[k];
      hr[k] = h;
      yr[k] = gamma[k] * h + beta[k];
    }
  }
}

// Inference, rows [r0, r1): y = gamma * (x - mean) / sd + beta with sd = sqrt(var + eps) per
// channel, the reference's operations in its order (so the same bits), vectorised over channels.
MOODNET_ALWAYS_INLINE void bn_infer_rows(int64_t r0, int64_t r1, int64_t c, const float* x,
                                         const float* mean, const float* sd, const float* gamma,
                                         const float* beta, float* __restrict y) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    float* __restrict yr = y + r * c;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) yr[k] = gamma[k] * (xr[k] - mean[k]) / sd[k] + beta[k];
  }
}

// acc[0..c) = sum of dy(r, k), acc[c..2c) = sum of dy(r, k) * xhat(r, k), rows [r0, r1).
MOODNET_ALWAYS_INLINE void bn_grad_sums(int64_t r0, int64_t r1, int64_t c, const float* dy,
                                        const float* xhat, float* __restrict acc) {
  float* __restrict s1 = acc;
  float* __restrict s2 = acc + c;
  for (int64_t k = 0; k < c; ++k) s1[k] = s2[k] = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict dr = dy + r * c;
    const float* __restrict hr = xhat + r * c;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) {
      s1[k] += dr[k];
      s2[k] += dr[k] * hr[k];
    }
  }
}

// Rows [r0, r1): dx = scale * (dy - shift - xhat * slope) (per channel k; the reference's form,
// so that a constant channel gives exactly zero).
MOODNET_ALWAYS_INLINE void bn_dx_rows(int64_t r0, int64_t r1, int64_t c, const float* dy,
                                      const float* xhat, const float* scale, const float* shift,
                                      const float* slope, float* __restrict dx) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict dr = dy + r * c;
    const float* __restrict hr = xhat + r * c;
    float* __restrict xr = dx + r * c;
    MOODNET_OMP(omp simd)
    for (int64_t k = 0; k < c; ++k) xr[k] = scale[k] * (dr[k] - shift[k] - hr[k] * slope[k]);
  }
}

MOODNET_ALWAYS_INLINE void dropout_span(int64_t i0, int64_t i1, uint64_t key, uint64_t threshold,
                                        float keep, const float* x, float* __restrict mask,
                                        float* __restrict y) {
  MOODNET_OMP(omp simd)
  for (int64_t i = i0; i < i1; ++i) {
    const float m = (mix64(key ^ static_cast<uint64_t>(i)) >> 11) < threshold ? 0.0f : keep;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

#define MOODNET_BN_VARIANTS(suffix, target)                                                       \
  target inline void bn_sum_rows_##suffix(int64_t r0, int64_t r1, int64_t c, const float* x,      \
                                          const float* center, float* acc) {                      \
    bn_sum_rows(r0, r1, c, x, center, acc);                                                       \
  }                                                                                               \
  target inline void bn_normalize_rows_##suffix(                                                  \
      int64_t r0, int64_t r1, int64_t c, const float* x, const float* mean, const float* inv_std, \
      const float* gamma, const float* beta, float* xhat, float* y) {                             \
    bn_normalize_rows(r0, r1, c, x, mean, inv_std, gamma, beta, xhat, y);                         \
  }                                                                                               \
  target inline void bn_infer_rows_##suffix(int64_t r0, int64_t r1, int64_t c, const float* x,    \
                                            const float* mean, const float* sd,                   \
                                            const float* gamma, const float* beta, float* y) {    \
    bn_infer_rows(r0, r1, c, x, mean, sd, gamma, beta, y);                                        \
  }                                                                                               \
  target inline void bn_grad_sums_##suffix(int64_t r0, int64_t r1, int64_t c, const float* dy,    \
                                           const float* xhat, float* acc) {                       \
    bn_grad_sums(r0, r1, c, dy, xhat, acc);                                                       \
  }                                                                                               \
  target inline void bn_dx_rows_##suffix(int64_t r0, int64_t r1, int64_t c, const float* dy,      \
                                         const float* xhat, const float* scale,                   \
                                         const float* shift, const float* slope, float* dx) {     \
    bn_dx_rows(r0, r1, c, dy, xhat, scale, shift, slope, dx);                                     \
  }                                                                                               \
  target inline void dropout_span_##suffix(int64_t i0, int64_t i1, uint64_t key,                  \
                                           uint64_t threshold, float keep, const float* x,        \
                                           float* mask, float* y) {                               \
    dropout_span(i0, i1, key, threshold, keep, x, mask, y);                                       \
  }

MOODNET_BN_VARIANTS(generic, )
#if MOODNET_SGEMM_X86
MOODNET_BN_VARIANTS(avx2, MOODNET_TARGET_AVX2)
MOODNET_BN_VARIANTS(avx512, MOODNET_TARGET_AVX512)
#endif
#undef MOODNET_BN_VARIANTS

struct BatchNormKernels {
  void (*sum_rows)(int64_t, int64_t, int64_t, const float*, const float*, float*);
  void (*normalize_rows)(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                         const float*, const float*, float*, float*);
  void (*infer_rows)(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                     const float*, const float*, float*);
  void (*grad_sums)(int64_t, int64_t, int64_t, const float*, const float*, float*);
  void (*dx_rows)(int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*,
                  const float*, float*);
  void (*dropout)(int64_t, int64_t, uint64_t, uint64_t, float, const float*, float*, float*);
};

inline BatchNormKernels batchnorm_kernels() {
  switch (active_isa()) {
#if MOODNET_SGEMM_X86
    case Isa::avx512:
      return {&bn_sum_rows_avx512,  &bn_normalize_rows_avx512, &bn_infer_rows_avx512,
              &bn_grad_sums_avx512, &bn_dx_rows_avx512,        &dropout_span_avx512};
    case Isa::avx2:
      return {&bn_sum_rows_avx2,  &bn_normalize_rows_avx2, &bn_infer_rows_avx2,
              &bn_grad_sums_avx2, &bn_dx_rows_avx2,        &dropout_span_avx2};
#endif
    default:
      return {&bn_sum_rows_generic,  &bn_normalize_rows_generic, &bn_infer_rows_generic,
              &bn_grad_sums_generic, &bn_dx_rows_generic,        &dropout_span_generic};
  }
}

// The fixed row chunks of a batch-norm reduction: about 2^14 values each, at most 64, and a
// function of (rows, c) only.
inline int64_t bn_chunks(int64_t rows, int64_t c) {
  return std::clamp<int64_t>(rows * c / 16384, 1, std::min<int64_t>(64, rows));
}
inline int64_t bn_chunk_begin(int64_t ch, int64_t chunks, int64_t rows) {
  return ch * rows / chunks;
}

}  // namespace detail

namespace detail {
// Channel j's two sums over the chunk partials (chunk ch holds 2c values: c firsts, c seconds),
// added in chunk order in double: the same result for any thread count.
inline std::pair<double, double> sum_partials(const float* part, int64_t chunks, int64_t c,
                                              int64_t j) {
  double s1 = 0, s2 = 0;
  for (int64_t ch = 0; ch < chunks; ++ch)
    s1 += part[ch * 2 * c + j], s2 += part[ch * 2 * c + c + j];
  return {s1, s2};
}
}  // namespace detail

// Training forward: batch mean and biased variance over rows (one pass over x: shifted sums and
// sums of squares), then xhat and y. x, xhat, y:(rows, c) gamma, beta, mean, var, inv_std:(c)
inline void batch_norm_train_forward(int64_t rows, int64_t c, float eps, const float* x,
                                     const float* gamma, const float* beta, float* mean, float* var,
                                     float* inv_std, float* xhat, float* y) {
  const auto k = detail::batchnorm_kernels();
  const int64_t chunks = detail::bn_chunks(rows, c);
  static thread_local std::vector<float> part_buf;
  float* part = detail::scratch(part_buf, static_cast<size_t>(chunks * 2 * c));
  const bool par = rows * c > 65536;
  (void)par;  // only read by the OpenMP pragmas
  MOODNET_OMP(omp parallel if (par)) {
    MOODNET_OMP(omp for schedule(static))
    for (int64_t ch = 0; ch < chunks; ++ch)
      k.sum_rows(detail::bn_chunk_begin(ch, chunks, rows),
                 detail::bn_chunk_begin(ch + 1, chunks, rows), c, x, x, part + ch * 2 * c);
    // The chunk partials added in chunk order, in double.
    MOODNET_OMP(omp single)
    for (int64_t j = 0; j < c; ++j) {
      const auto [s1, s2] = detail::sum_partials(part, chunks, c, j);
      const double m = s1 / double(rows), v = std::max(0.0, s2 / double(rows) - m * m);
      mean[j] = static_cast<float>(double(x[j]) + m);
      var[j] = static_cast<float>(v);
      inv_std[j] = static_cast<float>(1.0 / std::sqrt(v + double(eps)));
    }
    MOODNET_OMP(omp for schedule(static))
    for (int64_t ch = 0; ch < chunks; ++ch)
      k.normalize_rows(detail::bn_chunk_begin(ch, chunks, rows),
                       detail::bn_chunk_begin(ch + 1, chunks, rows), c, x, mean, inv_std, gamma,
                       beta, xhat, y);
  }
}

// Inference with the moving statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta, bitwise
// the reference's (it took a square root and a division per value, scalar: 13 % of seed003's
// batch-1 prediction). x, y:(rows, c) gamma, beta, moving_mean, moving_var:(c)
inline void batch_norm_infer_forward(int64_t rows, int64_t c, float eps, const float* x,
                                     const float* gamma, const float* beta,
                                     const float* moving_mean, const float* moving_var, float* y) {
  const auto k = detail::batchnorm_kernels();
  static thread_local std::vector<float> sd_buf;
  float* sd = detail::scratch(sd_buf, static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) sd[j] = std::sqrt(moving_var[j] + eps);
  const int64_t chunks = detail::bn_chunks(rows, c);
  const bool par = rows * c > 65536;
  (void)par;  // only read by the OpenMP pragma
MOODNET_OMP(omp parallel for schedule(static) if (par))
for (int64_t ch = 0; ch < chunks; ++ch)
  k.infer_rows(detail::bn_chunk_begin(ch, chunks, rows),
               detail::bn_chunk_begin(ch + 1, chunks, rows), c, x, moving_mean, sd, gamma, beta, y);
}

// dx overwritten; dgamma, dbeta accumulated; scratch (2c) gets sum(dy), sum(dy * xhat).
inline void batch_norm_backward(int64_t rows, int64_t c, const float* dy, const float* xhat,
                                const float* gamma, const float* inv_std, float* dx, float* dgamma,
                                float* dbeta, float* scratch) {
  const auto k = detail::batchnorm_kernels();
  const int64_t chunks = detail::bn_chunks(rows, c);
  static thread_local std::vector<float> part_buf;
  float* part = detail::scratch(part_buf, static_cast<size_t>(chunks * 2 * c + 3 * c));
  float *scale = part + chunks * 2 * c, *shift = scale + c, *slope = shift + c;
  const bool par = rows * c > 65536;
  (void)par;  // only read by the OpenMP pragmas
  MOODNET_OMP(omp parallel if (par)) {
    MOODNET_OMP(omp for schedule(static))
    for (int64_t ch = 0; ch < chunks; ++ch)
      k.grad_sums(detail::bn_chunk_begin(ch, chunks, rows),
                  detail::bn_chunk_begin(ch + 1, chunks, rows), c, dy, xhat, part + ch * 2 * c);
    MOODNET_OMP(omp single)
    for (int64_t j = 0; j < c; ++j) {
      const auto [s1, s2] = detail::sum_partials(part, chunks, c, j);
      scratch[j] = static_cast<float>(s1), scratch[c + j] = static_cast<float>(s2);
      dbeta[j] += static_cast<float>(s1);
      dgamma[j] += static_cast<float>(s2);
      const double sc = double(gamma[j]) * double(inv_std[j]);
      scale[j] = static_cast<float>(sc);
      shift[j] = static_cast<float>(s1 / double(rows));
      slope[j] = static_cast<float>(s2 / double(rows));
    }
    MOODNET_OMP(omp for schedule(static))
    for (int64_t ch = 0; ch < chunks; ++ch)
      k.dx_rows(detail::bn_chunk_begin(ch, chunks, rows),
                detail::bn_chunk_begin(ch + 1, chunks, rows), c, dy, xhat, scale, shift, slope, dx);
  }
}

// Inverted dropout, bitwise the reference's mask: x, mask, y:(n)
inline void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x,
                            float* mask, float* y) {
  const auto k = detail::batchnorm_kernels();
  const float keep = 1.0f / (1.0f - rate);
  const uint64_t key = mix64(mix64(seed) ^ (stream * 0xd1b54a32d192ed03ULL));
  // u < rate with u = m * 2^-53 (m an integer < 2^53) <=> m < ceil(rate * 2^53), exactly.
  const auto threshold = static_cast<uint64_t>(std::ceil(double(rate) * 0x1.0p53));
  const int64_t chunk = 1 << 15;
MOODNET_OMP(omp parallel for schedule(static) if (n > 2 * chunk))
for (int64_t i = 0; i < n; i += chunk)
  k.dropout(i, std::min(n, i + chunk), key, threshold, keep, x, mask, y);
}

}  // namespace moodnet::cpu
