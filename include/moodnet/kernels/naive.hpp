// Naive, obviously correct kernels, templated on the scalar type. ops<Reference> runs them in
// double as the test oracle; ops<Cpu> reuses the cheap elementwise ones in float. Loops
// parallelise only over independent outputs, and every reduction runs in a fixed order, so
// results are identical for any thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "../core/random.hpp"
#include "contract.hpp"

namespace moodnet::naive {

// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, row-major; beta == 0 ignores C's contents.
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
MOODNET_OMP(omp parallel for schedule(static) if (M * N * K > 32768))
for (int64_t i = 0; i < M; ++i)
  for (int64_t j = 0; j < N; ++j) {
    T s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
    C[i * ldc + j] = alpha * s + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
  }
}

// x:(N,H,W,C) w:(KH,KW,C,F) b:(F)|null y:(N,OH,OW,F)
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw * g.c > 32768))
for (int64_t n = 0; n < g.n; ++n)
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t f = 0; f < g.f; ++f) {
        T s = b ? b[f] : T(0);
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          int64_t iy = oy * g.sh - g.pad_top + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            int64_t ix = ox * g.sw - g.pad_left + kx;
            if (ix < 0 || ix >= g.w) continue;
            for (int64_t c = 0; c < g.c; ++c)
              s += x[((n * g.h + iy) * g.w + ix) * g.c + c] *
                   w[((ky * g.kw + kx) * g.c + c) * g.f + f];
          }
        }
        y[((n * g.oh + oy) * g.ow + ox) * g.f + f] = s;
      }
}

// dy:(N,OH,OW,F) w:(KH,KW,C,F) -> dx:(N,H,W,C) (overwritten)
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
MOODNET_OMP(omp parallel for schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw * g.c > 32768))
for (int64_t n = 0; n < g.n; ++n) {
  std::fill(dx + n * g.h * g.w * g.c, dx + (n + 1) * g.h * g.w * g.c, T(0));
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        int64_t iy = oy * g.sh - g.pad_top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          int64_t ix = ox * g.sw - g.pad_left + kx;
          if (ix < 0 || ix >= g.w) continue;
          for (int64_t c = 0; c < g.c; ++c) {
            T s = 0;
            for (int64_t f = 0; f < g.f; ++f)
              s += dy[((n * g.oh + oy) * g.ow + ox) * g.f + f] *
                   w[((ky * g.kw + kx) * g.c + c) * g.f + f];
            dx[((n * g.h + iy) * g.w + ix) * g.c + c] += s;
          }
        }
      }
}
}

// x:(N,H,W,C) dy:(N,OH,OW,F) -> dw:(KH,KW,C,F) += , db:(F) +=
template <class T>
void conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* db) {
MOODNET_OMP(omp parallel for collapse(3) schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw * g.c > 32768))
for (int64_t ky = 0; ky < g.kh; ++ky)
  for (int64_t kx = 0; kx < g.kw; ++kx)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t f = 0; f < g.f; ++f) {
        T s = 0;
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t oy = 0; oy < g.oh; ++oy) {
            int64_t iy = oy * g.sh - g.pad_top + ky;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              int64_t ix = ox * g.sw - g.pad_left + kx;
              if (ix < 0 || ix >= g.w) continue;
              s += x[((n * g.h + iy) * g.w + ix) * g.c + c] *
                   dy[((n * g.oh + oy) * g.ow + ox) * g.f + f];
            }
          }
        dw[((ky * g.kw + kx) * g.c + c) * g.f + f] += s;
      }
if (db)
  for (int64_t f = 0; f < g.f; ++f) {
    T s = 0;
    for (int64_t i = 0; i < g.n * g.oh * g.ow; ++i) s += dy[i * g.f + f];
    db[f] += s;
  }
}

// Depthwise: g.f = g.c * M. x:(N,H,W,C) w:(KH,KW,C,M) b:(C*M)|null y:(N,OH,OW,C*M)
template <class T>
void depthwise_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t m = g.f / g.c;
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw > 32768))
for (int64_t n = 0; n < g.n; ++n)
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t c = 0; c < g.c; ++c)
        for (int64_t j = 0; j < m; ++j) {
          T s = b ? b[c * m + j] : T(0);
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            int64_t iy = oy * g.sh - g.pad_top + ky;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              int64_t ix = ox * g.sw - g.pad_left + kx;
              if (ix < 0 || ix >= g.w) continue;
              s += x[((n * g.h + iy) * g.w + ix) * g.c + c] *
                   w[((ky * g.kw + kx) * g.c + c) * m + j];
            }
          }
          y[((n * g.oh + oy) * g.ow + ox) * g.f + c * m + j] = s;
        }
}

template <class T>
void depthwise_conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
  const int64_t m = g.f / g.c;
MOODNET_OMP(omp parallel for schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw > 32768))
for (int64_t n = 0; n < g.n; ++n) {
  std::fill(dx + n * g.h * g.w * g.c, dx + (n + 1) * g.h * g.w * g.c, T(0));
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox)
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        int64_t iy = oy * g.sh - g.pad_top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          int64_t ix = ox * g.sw - g.pad_left + kx;
          if (ix < 0 || ix >= g.w) continue;
          for (int64_t c = 0; c < g.c; ++c)
            for (int64_t j = 0; j < m; ++j)
              dx[((n * g.h + iy) * g.w + ix) * g.c + c] +=
                  dy[((n * g.oh + oy) * g.ow + ox) * g.f + c * m + j] *
                  w[((ky * g.kw + kx) * g.c + c) * m + j];
        }
      }
}
}

template <class T>
void depthwise_conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy, T* dw,
                                      T* db) {
  const int64_t m = g.f / g.c;
MOODNET_OMP(omp parallel for collapse(3) schedule(static) if (g.n * g.oh * g.ow * g.f * g.kh * g.kw > 32768))
for (int64_t ky = 0; ky < g.kh; ++ky)
  for (int64_t kx = 0; kx < g.kw; ++kx)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t j = 0; j < m; ++j) {
        T s = 0;
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t oy = 0; oy < g.oh; ++oy) {
            int64_t iy = oy * g.sh - g.pad_top + ky;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              int64_t ix = ox * g.sw - g.pad_left + kx;
              if (ix < 0 || ix >= g.w) continue;
              s += x[((n * g.h + iy) * g.w + ix) * g.c + c] *
                   dy[((n * g.oh + oy) * g.ow + ox) * g.f + c * m + j];
            }
          }
        dw[((ky * g.kw + kx) * g.c + c) * m + j] += s;
      }
if (db)
  for (int64_t f = 0; f < g.f; ++f) {
    T s = 0;
    for (int64_t i = 0; i < g.n * g.oh * g.ow; ++i) s += dy[i * g.f + f];
    db[f] += s;
  }
}

// Max pooling; padding counts as -inf (never selected). Ties go to the first element in scan order.
// x:(N,H,W,C) y:(N,OH,OW,C)
template <class T>
void max_pool2d_forward(const PoolGeometry& p, const T* x, T* y) {
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (p.n * p.oh * p.ow * p.c * p.ph * p.pw > 32768))
for (int64_t n = 0; n < p.n; ++n)
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t c = 0; c < p.c; ++c) {
        T best = -std::numeric_limits<T>::infinity();
        for (int64_t ky = 0; ky < p.ph; ++ky) {
          int64_t iy = oy * p.sh - p.pad_top + ky;
          if (iy < 0 || iy >= p.h) continue;
          for (int64_t kx = 0; kx < p.pw; ++kx) {
            int64_t ix = ox * p.sw - p.pad_left + kx;
            if (ix < 0 || ix >= p.w) continue;
            best = std::max(best, x[((n * p.h + iy) * p.w + ix) * p.c + c]);
          }
        }
        y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = best;
      }
}

// dx overwritten; each output's gradient goes to its (first) argmax. input_act (relu or relu6)
// folds the derivative of the activation that produced x into dx: the model then hands its
// producer dL/d(pre-activation) and skips that pass (x is the activation's output).
template <class T>
void max_pool2d_backward(const PoolGeometry& p, const T* x, const T* y, const T* dy, T* dx,
                         Activation input_act = Activation::linear) {
MOODNET_OMP(omp parallel for schedule(static) if (p.n * p.oh * p.ow * p.c * p.ph * p.pw > 32768))
for (int64_t n = 0; n < p.n; ++n) {
  std::fill(dx + n * p.h * p.w * p.c, dx + (n + 1) * p.h * p.w * p.c, T(0));
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t c = 0; c < p.c; ++c) {
        const int64_t o = ((n * p.oh + oy) * p.ow + ox) * p.c + c;
        bool done = false;
        for (int64_t ky = 0; ky < p.ph && !done; ++ky) {
          int64_t iy = oy * p.sh - p.pad_top + ky;
          if (iy < 0 || iy >= p.h) continue;
          for (int64_t kx = 0; kx < p.pw; ++kx) {
            int64_t ix = ox * p.sw - p.pad_left + kx;
            if (ix < 0 || ix >= p.w) continue;
            const int64_t i = ((n * p.h + iy) * p.w + ix) * p.c + c;
            if (x[i] == y[o]) {
              dx[i] += dy[o];
              done = true;
              break;
            }
          }
        }
      }
  if (input_act == Activation::relu || input_act == Activation::relu6)
    for (int64_t i = n * p.h * p.w * p.c; i < (n + 1) * p.h * p.w * p.c; ++i) {
      const bool live = x[i] > T(0) && (input_act == Activation::relu || x[i] < T(6));
      dx[i] = live ? dx[i] : T(0);
    }
}
}

// Average pooling over the valid (unpadded) elements of each window, as TensorFlow does.
template <class T>
void avg_pool2d_forward(const PoolGeometry& p, const T* x, T* y) {
MOODNET_OMP(omp parallel for collapse(2) schedule(static) if (p.n * p.oh * p.ow * p.c * p.ph * p.pw > 32768))
for (int64_t n = 0; n < p.n; ++n)
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t c = 0; c < p.c; ++c) {
        T s = 0;
        int64_t count = 0;
        for (int64_t ky = 0; ky < p.ph; ++ky) {
          int64_t iy = oy * p.sh - p.pad_top + ky;
          if (iy < 0 || iy >= p.h) continue;
          for (int64_t kx = 0; kx < p.pw; ++kx) {
            int64_t ix = ox * p.sw - p.pad_left + kx;
            if (ix < 0 || ix >= p.w) continue;
            s += x[((n * p.h + iy) * p.w + ix) * p.c + c];
            ++count;
          }
        }
        y[((n * p.oh + oy) * p.ow + ox) * p.c + c] = s / T(count);
      }
}

template <class T>
void avg_pool2d_backward(const PoolGeometry& p, const T* dy, T* dx) {
MOODNET_OMP(omp parallel for schedule(static) if (p.n * p.oh * p.ow * p.c * p.ph * p.pw > 32768))
for (int64_t n = 0; n < p.n; ++n) {
  std::fill(dx + n * p.h * p.w * p.c, dx + (n + 1) * p.h * p.w * p.c, T(0));
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox) {
      int64_t y0 = std::max<int64_t>(oy * p.sh - p.pad_top, 0);
      int64_t y1 = std::min<int64_t>(oy * p.sh - p.pad_top + p.ph, p.h);
      int64_t x0 = std::max<int64_t>(ox * p.sw - p.pad_left, 0);
      int64_t x1 = std::min<int64_t>(ox * p.sw - p.pad_left + p.pw, p.w);
      const T inv = T(1) / T((y1 - y0) * (x1 - x0));
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix)
          for (int64_t c = 0; c < p.c; ++c)
            dx[((n * p.h + iy) * p.w + ix) * p.c + c] +=
                dy[((n * p.oh + oy) * p.ow + ox) * p.c + c] * inv;
    }
}
}

// x:(N,HW,C) -> y:(N,C)
template <class T>
void global_avg_pool_forward(int64_t n, int64_t hw, int64_t c, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < c; ++k) y[i * c + k] = 0;
    for (int64_t s = 0; s < hw; ++s)
      for (int64_t k = 0; k < c; ++k) y[i * c + k] += x[(i * hw + s) * c + k];
    for (int64_t k = 0; k < c; ++k) y[i * c + k] /= T(hw);
  }
}

template <class T>
void global_avg_pool_backward(int64_t n, int64_t hw, int64_t c, const T* dy, T* dx) {
MOODNET_OMP(omp parallel for schedule(static) if (n * hw * c > 32768))
for (int64_t i = 0; i < n; ++i)
  for (int64_t s = 0; s < hw; ++s)
    for (int64_t k = 0; k < c; ++k) dx[(i * hw + s) * c + k] = dy[i * c + k] / T(hw);
}

// x:(N,in) w:(in,out) b:(out)|null y:(N,out)
template <class T>
void dense_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n * in * out > 32768))
for (int64_t i = 0; i < n; ++i)
  for (int64_t o = 0; o < out; ++o) {
    T s = b ? b[o] : T(0);
    for (int64_t k = 0; k < in; ++k) s += x[i * in + k] * w[k * out + o];
    y[i * out + o] = s;
  }
}

template <class T>
void dense_backward_data(int64_t n, int64_t in, int64_t out, const T* dy, const T* w, T* dx) {
MOODNET_OMP(omp parallel for schedule(static) if (n * in * out > 32768))
for (int64_t i = 0; i < n; ++i)
  for (int64_t k = 0; k < in; ++k) {
    T s = 0;
    for (int64_t o = 0; o < out; ++o) s += dy[i * out + o] * w[k * out + o];
    dx[i * in + k] = s;
  }
}

template <class T>
void dense_backward_params(int64_t n, int64_t in, int64_t out, const T* x, const T* dy, T* dw,
                           T* db) {
MOODNET_OMP(omp parallel for schedule(static) if (n * in * out > 32768))
for (int64_t k = 0; k < in; ++k)
  for (int64_t o = 0; o < out; ++o) {
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += x[i * in + k] * dy[i * out + o];
    dw[k * out + o] += s;
  }
if (db)
  for (int64_t o = 0; o < out; ++o) {
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += dy[i * out + o];
    db[o] += s;
  }
}

template <class T>
T sigmoid(T z) {
  // Two branches keep exp() from overflowing.
  if (z >= 0) return T(1) / (T(1) + std::exp(-z));
  T e = std::exp(z);
  return e / (T(1) + e);
}

// z, y:(rows, cols); in place allowed (z == y). Softmax runs along cols.
template <class T>
void activation_forward(Activation a, int64_t rows, int64_t cols, const T* z, T* y) {
  const int64_t n = rows * cols;
  switch (a) {
    case Activation::linear:
      if (y != z) std::copy(z, z + n, y);
      return;
    case Activation::relu:
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] = z[i] > T(0) ? z[i] : T(0);
return;
    case Activation::relu6:
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(z[i], T(0)), T(6));
return;
    case Activation::sigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(z[i]);
      return;
    case Activation::tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(z[i]);
      return;
    case Activation::softmax:
      for (int64_t r = 0; r < rows; ++r) {
        const T* zr = z + r * cols;
        T* yr = y + r * cols;
        T m = *std::max_element(zr, zr + cols), s = 0;
        for (int64_t k = 0; k < cols; ++k) s += (yr[k] = std::exp(zr[k] - m));
        for (int64_t k = 0; k < cols; ++k) yr[k] /= s;
      }
      return;
  }
}

// dz = dL/dz from the activation's OUTPUT y and dy = dL/dy (no need to keep z).
template <class T>
void activation_backward(Activation a, int64_t rows, int64_t cols, const T* y, const T* dy, T* dz) {
  const int64_t n = rows * cols;
  switch (a) {
    case Activation::linear:
      if (dz != dy) std::copy(dy, dy + n, dz);
      return;
    case Activation::relu:
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) dz[i] = y[i] > T(0) ? dy[i] : T(0);
return;
    case Activation::relu6:
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) dz[i] = (y[i] > T(0) && y[i] < T(6)) ? dy[i] : T(0);
return;
    case Activation::sigmoid:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * y[i] * (T(1) - y[i]);
      return;
    case Activation::tanh:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * (T(1) - y[i] * y[i]);
      return;
    case Activation::softmax:
      for (int64_t r = 0; r < rows; ++r) {
        const T* yr = y + r * cols;
        const T* dyr = dy + r * cols;
        T dot = 0;
        for (int64_t k = 0; k < cols; ++k) dot += yr[k] * dyr[k];
        for (int64_t k = 0; k < cols; ++k) dz[r * cols + k] = yr[k] * (dyr[k] - dot);
      }
      return;
  }
}

// Batch statistics per channel over rows = N*H*W (biased variance, as Keras uses for
// normalisation). x, xhat, y:(rows, c); mean, var, inv_std:(c)
template <class T>
void batch_norm_train_forward(int64_t rows, int64_t c, T eps, const T* x, const T* gamma,
                              const T* beta, T* mean, T* var, T* inv_std, T* xhat, T* y) {
  for (int64_t k = 0; k < c; ++k) mean[k] = var[k] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) mean[k] += x[r * c + k];
  for (int64_t k = 0; k < c; ++k) mean[k] /= T(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) {
      T d = x[r * c + k] - mean[k];
      var[k] += d * d;
    }
  for (int64_t k = 0; k < c; ++k) {
    var[k] /= T(rows);
    inv_std[k] = T(1) / std::sqrt(var[k] + eps);
  }
MOODNET_OMP(omp parallel for schedule(static) if (rows * c > 65536))
for (int64_t r = 0; r < rows; ++r)
  for (int64_t k = 0; k < c; ++k) {
    T h = (x[r * c + k] - mean[k]) * inv_std[k];
    xhat[r * c + k] = h;
    y[r * c + k] = gamma[k] * h + beta[k];
  }
}

template <class T>
void batch_norm_infer_forward(int64_t rows, int64_t c, T eps, const T* x, const T* gamma,
                              const T* beta, const T* moving_mean, const T* moving_var, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (rows * c > 65536))
for (int64_t r = 0; r < rows; ++r)
  for (int64_t k = 0; k < c; ++k)
    y[r * c + k] =
        gamma[k] * (x[r * c + k] - moving_mean[k]) / std::sqrt(moving_var[k] + eps) + beta[k];
}

// dx overwritten; dgamma, dbeta accumulated. Uses the saved xhat and inv_std of the forward pass.
template <class T>
void batch_norm_backward(int64_t rows, int64_t c, const T* dy, const T* xhat, const T* gamma,
                         const T* inv_std, T* dx, T* dgamma, T* dbeta, T* scratch /* 2c */) {
  T* sum_dy = scratch;
  T* sum_dy_xhat = scratch + c;
  for (int64_t k = 0; k < c; ++k) sum_dy[k] = sum_dy_xhat[k] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) {
      sum_dy[k] += dy[r * c + k];
      sum_dy_xhat[k] += dy[r * c + k] * xhat[r * c + k];
    }
  for (int64_t k = 0; k < c; ++k) {
    dgamma[k] += sum_dy_xhat[k];
    dbeta[k] += sum_dy[k];
  }
  const T inv_rows = T(1) / T(rows);
MOODNET_OMP(omp parallel for schedule(static) if (rows * c > 65536))
for (int64_t r = 0; r < rows; ++r)
  for (int64_t k = 0; k < c; ++k)
    dx[r * c + k] =
        gamma[k] * inv_std[k] *
        (dy[r * c + k] - inv_rows * sum_dy[k] - xhat[r * c + k] * inv_rows * sum_dy_xhat[k]);
}

template <class T>
void moving_average_update(int64_t n, T momentum, const T* batch_value, T* moving) {
  for (int64_t i = 0; i < n; ++i)
    moving[i] = momentum * moving[i] + (T(1) - momentum) * batch_value[i];
}

// Inverted dropout: mask = 0 with probability rate, else 1/(1-rate); decided by (seed, stream, i).
template <class T>
void dropout_forward(int64_t n, T rate, uint64_t seed, uint64_t stream, const T* x, T* mask, T* y) {
  const T keep_scale = T(1) / (T(1) - rate);
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) {
  mask[i] =
      random_uniform(seed, stream, static_cast<uint64_t>(i)) < double(rate) ? T(0) : keep_scale;
  y[i] = x[i] * mask[i];
}
}

template <class T>
void multiply(int64_t n, const T* a, const T* b, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
template <class T>
void scale_shift(int64_t n, T scale, T offset, const T* x, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale + offset;
}
template <class T>
void copy(int64_t n, const T* x, T* y) {
  std::copy(x, x + n, y);
}
template <class T>
void add(int64_t n, const T* a, const T* b, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
template <class T>
void add_inplace(int64_t n, const T* x, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}
template <class T>
void axpy(int64_t n, T alpha, const T* x, T* y) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
template <class T>
double sum_squares(int64_t n, const T* x) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

// Binary cross-entropy on logits z (stable form); dz = grad_scale * (sigmoid(z) - t) when dz !=
// null.
template <class T>
double bce_from_logits(int64_t n, const T* z, const T* t, T* dz, T grad_scale) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double zi = double(z[i]), ti = double(t[i]);
    total += std::max(zi, 0.0) - zi * ti + std::log1p(std::exp(-std::fabs(zi)));
    if (dz) dz[i] = grad_scale * (sigmoid(z[i]) - t[i]);
  }
  return total;
}

// Binary cross-entropy on probabilities, clipped to [eps, 1-eps] as Keras does; the gradient is
// zero where the clip is active.
template <class T>
double bce_from_probabilities(int64_t n, const T* p, const T* t, T* dp, T grad_scale,
                              double eps = 1e-7) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double pi = double(p[i]), ti = double(t[i]);
    double pc = std::min(std::max(pi, eps), 1.0 - eps);
    total += -(ti * std::log(pc) + (1 - ti) * std::log(1 - pc));
    if (dp) dp[i] = (pi > eps && pi < 1 - eps) ? T(grad_scale * (pc - ti) / (pc * (1 - pc))) : T(0);
  }
  return total;
}

// Softmax + categorical cross-entropy on logits (rows, k) against targets (rows, k).
template <class T>
double softmax_cce(int64_t rows, int64_t k, const T* z, const T* t, T* dz, T grad_scale) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* zr = z + r * k;
    const T* tr = t + r * k;
    double m = double(*std::max_element(zr, zr + k)), s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(double(zr[j]) - m);
    double lse = m + std::log(s);
    for (int64_t j = 0; j < k; ++j) {
      total -= double(tr[j]) * (double(zr[j]) - lse);
      if (dz) dz[r * k + j] = T(grad_scale * (std::exp(double(zr[j]) - lse) - double(tr[j])));
    }
  }
  return total;
}

// Optimizer updates (Keras formulas, see optim/optimizers.hpp).
template <class T>
void sgd_update(int64_t n, T lr, T momentum, bool nesterov, T* w, const T* g, T* v) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) {
  if (momentum == T(0)) {
    w[i] -= lr * g[i];
  } else {
    v[i] = momentum * v[i] - lr * g[i];
    w[i] += nesterov ? momentum * v[i] - lr * g[i] : v[i];
  }
}
}
template <class T>
void rmsprop_update(int64_t n, T lr, T rho, T eps, T* w, const T* g, T* ms) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) {
  ms[i] = rho * ms[i] + (T(1) - rho) * g[i] * g[i];
  w[i] -= lr * g[i] / (std::sqrt(ms[i]) + eps);
}
}
template <class T>
void adam_update(int64_t n, T lr_t, T beta1, T beta2, T eps, T* w, const T* g, T* m, T* v) {
MOODNET_OMP(omp parallel for schedule(static) if (n > 65536))
for (int64_t i = 0; i < n; ++i) {
  m[i] = beta1 * m[i] + (T(1) - beta1) * g[i];
  v[i] = beta2 * v[i] + (T(1) - beta2) * g[i] * g[i];
  w[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
}
}

}  // namespace moodnet::naive
