// Conv2D kernels for the Cpu device: im2col + packed SGEMM (sgemm.hpp).
#pragma once

#include <algorithm>
#include <vector>

#include "../contract.hpp"
#include "gemm.hpp"

namespace moodnet {

namespace cpu {

// One image's patches: x:(H,W,C) -> col:(OH*OW, KH*KW*C); padding reads as zero.
inline void im2col(const ConvGeometry& g, const float* x, float* col) {
  const int64_t kkc = g.kh * g.kw * g.c;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      float* row = col + (oy * g.ow + ox) * kkc;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.pad_top + ky;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.sw - g.pad_left + kx;
          float* dst = row + (ky * g.kw + kx) * g.c;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w)
            std::fill(dst, dst + g.c, 0.0f);
          else
            std::copy(x + (iy * g.w + ix) * g.c, x + (iy * g.w + ix + 1) * g.c, dst);
        }
      }
    }
}

// The adjoint of im2col: dx:(H,W,C) += scattered col:(OH*OW, KH*KW*C).
inline void col2im_add(const ConvGeometry& g, const float* col, float* dx) {
  const int64_t kkc = g.kh * g.kw * g.c;
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const float* row = col + (oy * g.ow + ox) * kkc;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.sh - g.pad_top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.sw - g.pad_left + kx;
          if (ix < 0 || ix >= g.w) continue;
          const float* src = row + (ky * g.kw + kx) * g.c;
          float* dst = dx + (iy * g.w + ix) * g.c;
          for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
}

// A 1x1, stride-1 convolution is a plain GEMM on the input as stored.
inline bool is_pointwise(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pad_top == 0 && g.pad_left == 0;
}

inline void add_bias_rows(int64_t rows, int64_t f, const float* b, float* y) {
  if (!b) return;
MOODNET_OMP(omp parallel for schedule(static) if (rows * f > 65536))
for (int64_t r = 0; r < rows; ++r)
  for (int64_t j = 0; j < f; ++j) y[r * f + j] += b[j];
}

// db(F) += column sums of dy(rows, F), in row order.
inline void bias_grad(int64_t rows, int64_t f, const float* dy, float* db) {
  if (!db) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < f; ++j) db[j] += dy[r * f + j];
}

// Number of fixed image groups for batch reductions; independent of the thread count.
inline int64_t reduction_groups(int64_t n) { return std::min<int64_t>(n, 8); }

}  // namespace cpu

}  // namespace moodnet
