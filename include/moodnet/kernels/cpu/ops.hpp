// ops<Cpu>: float32 kernels. Convolutions run as direct register tiles or, for 3x3 stride 1,
// Winograd F(4x4, 3x3) or F(2x2, 3x3) (conv.hpp, winograd4*.hpp, winograd*.hpp), depthwise
// convolutions directly (depthwise.hpp), dense layers as one GEMM; pooling, normalisation,
// activations, losses and optimizer updates come from elementwise.hpp.
// Parameter-gradient reductions over the batch use a fixed number of image groups summed in a
// fixed order, so results are bitwise identical for any thread count.
#pragma once

#include <algorithm>
#include <vector>

#include "../../core/device.hpp"
#include "../reference.hpp"
#include "conv.hpp"
#include "depthwise.hpp"
#include "elementwise.hpp"
#include "gemm.hpp"
#include "winograd4_grad.hpp"
#include "winograd_grad.hpp"

namespace moodnet {

template <>
struct ops<Cpu> : cpu::elementwise_ops {
  using T = float;

  static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    cpu::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }

  // x:(N,H,W,C) w:(KH,KW,C,F) b:(F)|null y:(N,OH,OW,F)
  static void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
    cpu::conv2d_forward_fused(g, x, w, b, Activation::linear, y);
  }
  static void conv2d_forward_act(const ConvGeometry& g, const T* x, const T* w, const T* b,
                                 Activation act, T* y) {
    cpu::conv2d_forward_fused(g, x, w, b, act, y);
  }

  // Fusion of Conv2D -> MaxPooling2D (Conv2D::call_max_pooled and forward_train_max_pooled find
  // these by name; devices without them run the two layers apart). y:(N,POH,POW,F); training
  // passes idx:(N,POH,POW,F), each window's first maximum, for max_pool2d_backward_index and
  // conv2d_backward_params_max_pool (the conv output never goes to memory).
  static bool conv2d_max_pool_applies(const ConvGeometry& g, const PoolGeometry& p) {
    return cpu::conv2d_max_pool_applies(g, p);
  }
  static bool conv2d_max_pool_index_applies(const ConvGeometry& g, const PoolGeometry& p) {
    return cpu::conv2d_max_pool_applies(g, p) && cpu::detail::pool_index_applies(p);
  }
  static void conv2d_forward_max_pool(const ConvGeometry& g, const T* x, const T* w, const T* b,
                                      Activation act, const PoolGeometry& p, T* y,
                                      uint8_t* idx = nullptr) {
    cpu::conv2d_forward_max_pool(g, x, w, b, act, p, y, idx);
  }

  // dy:(N,OH,OW,F) w:(KH,KW,C,F) -> dx:(N,H,W,C)
  static void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
    if (g.sh == 1 && g.sw == 1) return cpu::conv_backward_data_stride1(g, dy, w, dx);
    const int64_t kkc = g.kh * g.kw * g.c, pix = g.oh * g.ow;
MOODNET_OMP(omp parallel for schedule(static))
for (int64_t n = 0; n < g.n; ++n) {
  static thread_local std::vector<float> col_buf;
  float* col = cpu::detail::scratch(col_buf, static_cast<size_t>(pix * kkc));
  cpu::gemm(false, true, pix, kkc, g.f, 1.0f, dy + n * pix * g.f, g.f, w, g.f, 0.0f, col, kkc,
            false);
  float* dxn = dx + n * g.h * g.w * g.c;
  std::fill(dxn, dxn + g.h * g.w * g.c, 0.0f);
  cpu::col2im_add(g, col, dxn);
}
  }

  // dw:(KH,KW,C,F) += sum over images of patches^T * dy; db:(F) += column sums of dy.
  // Fixed image groups, each summed on one thread, then added in group order: bitwise the same
  // for any thread count.
  static void conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* db) {
    if (cpu::winograd4_grad_applies(g))
      return cpu::conv_backward_params_winograd4(g, x, dy, dw, db);
    if (cpu::winograd_grad_applies(g)) return cpu::conv_backward_params_winograd(g, x, dy, dw, db);
    cpu::conv_backward_params_direct(g, x, dy, dw, db);
  }

  // Training fusion of Conv2D -> MaxPooling2D where the conv needs no input gradient: the weight
  // gradient from the pool's gradient and the index of the fused forward, without the conv's dy
  // in memory. idx, dy:(N,POH,POW,F)
  static bool conv2d_backward_params_max_pool_applies(const ConvGeometry& g,
                                                      const PoolGeometry& p) {
    return cpu::conv_backward_params_max_pool_fits(g, p) && !cpu::winograd4_grad_applies(g) &&
           !cpu::winograd_grad_applies(g);
  }
  static void conv2d_backward_params_max_pool(const ConvGeometry& g, const T* x,
                                              const PoolGeometry& p, const uint8_t* idx,
                                              const T* dy, T* dw, T* db) {
    MOODNET_CHECK(conv2d_backward_params_max_pool_applies(g, p),
                  "conv2d_backward_params_max_pool: the conv runs Winograd or does not fit");
    cpu::conv_backward_params_max_pool(g, x, p, idx, dy, dw, db);
  }

  // x:(N,H,W,C) w:(KH,KW,C,M) b:(C*M)|null y:(N,OH,OW,C*M)
  static void depthwise_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b,
                                       T* y) {
    cpu::depthwise_conv2d_forward(g, x, w, b, y);
  }
  static void depthwise_conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w,
                                             T* dx) {
    cpu::depthwise_conv2d_backward_data(g, dy, w, dx);
  }
  static void depthwise_conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy,
                                               T* dw, T* db) {
    cpu::depthwise_conv2d_backward_params(g, x, dy, dw, db);
  }

  // x:(N,in) w:(in,out) b:(out)|null y:(N,out)
  static void dense_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b,
                            T* y) {
    cpu::gemm(false, false, n, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
    cpu::add_bias_rows(n, out, b, y);
  }
  static void dense_backward_data(int64_t n, int64_t in, int64_t out, const T* dy, const T* w,
                                  T* dx) {
    cpu::gemm(false, true, n, in, out, 1.0f, dy, out, w, out, 0.0f, dx, in);
  }
  static void dense_backward_params(int64_t n, int64_t in, int64_t out, const T* x, const T* dy,
                                    T* dw, T* db) {
    cpu::gemm(true, false, in, out, n, 1.0f, x, in, dy, out, 1.0f, dw, out);
    cpu::bias_grad(n, out, dy, db);
  }
};

}  // namespace moodnet
