// The op contract: the geometry structs every kernel takes and the list of ops each device's
// kernel table ops<D> must provide. Layers call only these; a device missing an op fails to
// compile. Pointers are raw device pointers, tensors NHWC, weights in Keras layout.
//
// Conventions: *_forward overwrites its output; *_backward_data overwrites dx;
// *_backward_params ACCUMULATES (+=) into parameter gradients.
//
// ops<D> provides, with T = D::value_type:
//   gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)   C = alpha*op(A)*op(B) + beta*C
//   conv2d_forward(g, x, w, b|null, y)        x:(N,H,W,C) w:(KH,KW,C,F) b:(F) y:(N,OH,OW,F)
//   conv2d_forward_act(g, x, w, b|null, act, y)   the same, then act in {linear, relu, relu6}
//   conv2d_backward_data(g, dy, w, dx)        dy:(N,OH,OW,F) -> dx:(N,H,W,C)
//   conv2d_backward_params(g, x, dy, dw, db|null)
//   depthwise_conv2d_forward(g, x, w, b|null, y)   w:(KH,KW,C,M) y:(N,OH,OW,C*M)
//   depthwise_conv2d_backward_data(g, dy, w, dx), depthwise_conv2d_backward_params(g, x, dy, dw,
//   db) max_pool2d_forward(p, x, y), max_pool2d_backward(p, x, y, dy, dx, input_act)
//   avg_pool2d_forward(p, x, y), avg_pool2d_backward(p, dy, dx)   ('same' excludes padding)
//   global_avg_pool_forward(n, hw, c, x, y), global_avg_pool_backward(n, hw, c, dy, dx)
//   dense_forward(n, in, out, x, w, b|null, y) x:(N,in) w:(in,out) y:(N,out) dense_backward_data(n,
//   in, out, dy, w, dx), dense_backward_params(n, in, out, x, dy, dw, db) activation_forward(a,
//   rows, cols, z, y), activation_backward(a, rows, cols, y, dy, dz) batch_norm_train_forward(rows,
//   c, eps, x, gamma, beta, mean, var, inv_std, xhat, y) batch_norm_infer_forward(rows, c, eps, x,
//   gamma, beta, moving_mean, moving_var, y) batch_norm_backward(rows, c, dy, xhat, gamma, inv_std,
//   dx, dgamma, dbeta) moving_average_update(n, momentum, batch_value, moving)   moving = m*moving
//   + (1-m)*batch dropout_forward(n, rate, seed, stream, x, mask, y), multiply(n, a, b, y)
//   scale_shift(n, scale, offset, x, y), copy(n, x, y), add(n, a, b, y), add_inplace(n, x, y)
//   axpy(n, alpha, x, y), sum_squares(n, x) -> double
//   bce_from_logits(n, z, t, dz, grad_scale) -> sum of losses; bce_from_probabilities(...)
//   softmax_cce(rows, k, logits, t, dz, grad_scale) -> sum of losses
//   sgd_update, rmsprop_update, adam_update (see optim/optimizers.hpp for the formulas)
// Optional (layers look for them with a requires-expression and run the plain ops otherwise):
//   conv2d_max_pool_applies(g, p) -> bool, conv2d_forward_max_pool(g, x, w, b|null, act, p, y)
//   a conv then max pool p in one pass, y:(N,POH,POW,F) (Cpu: kernels/cpu/conv.hpp)
//   conv2d_max_pool_index_applies(g, p) -> bool, conv2d_forward_max_pool(..., y, idx) training's
//   form, idx:(N,POH,POW,F) bytes: each window's first maximum; max_pool2d_backward_index(p, idx,
//   dy, dx), conv2d_backward_params_max_pool_applies(g, p) -> bool,
//   conv2d_backward_params_max_pool(g, x, p, idx, dy, dw, db|null) its backward (Cpu: ops.hpp)
#pragma once

#include <cstdint>

#include "../core/shape.hpp"

namespace moodnet {

// A 2-D convolution or depthwise convolution, NHWC. For depthwise, f = c * depth_multiplier.
struct ConvGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input
  int64_t kh = 0, kw = 0;              // kernel
  int64_t sh = 1, sw = 1;              // strides
  int64_t oh = 0, ow = 0, f = 0;       // output
  int64_t pad_top = 0, pad_left = 0;   // the rest of the 'same' padding is bottom/right

  static ConvGeometry make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw,
                           int64_t sh, int64_t sw, int64_t f, Padding padding) {
    ConvGeometry g;
    g.n = n, g.h = h, g.w = w, g.c = c, g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.f = f;
    Window1D wy = window_1d(h, kh, sh, padding), wx = window_1d(w, kw, sw, padding);
    g.oh = wy.out, g.ow = wx.out, g.pad_top = wy.pad_before, g.pad_left = wx.pad_before;
    return g;
  }
  int64_t flops() const { return 2 * n * oh * ow * f * c * kh * kw; }
};

struct PoolGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t ph = 2, pw = 2, sh = 2, sw = 2;
  int64_t oh = 0, ow = 0;
  int64_t pad_top = 0, pad_left = 0;

  static PoolGeometry make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t ph, int64_t pw,
                           int64_t sh, int64_t sw, Padding padding) {
    PoolGeometry g;
    g.n = n, g.h = h, g.w = w, g.c = c, g.ph = ph, g.pw = pw, g.sh = sh, g.sw = sw;
    Window1D wy = window_1d(h, ph, sh, padding), wx = window_1d(w, pw, sw, padding);
    g.oh = wy.out, g.ow = wx.out, g.pad_top = wy.pad_before, g.pad_left = wx.pad_before;
    return g;
  }
};

enum class Activation { linear, relu, relu6, sigmoid, softmax, tanh };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::linear:
      return "linear";
    case Activation::relu:
      return "relu";
    case Activation::relu6:
      return "relu6";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::softmax:
      return "softmax";
    case Activation::tanh:
      return "tanh";
  }
  return "?";
}
inline Activation activation_from_string(const std::string& s) {
  for (Activation a : {Activation::linear, Activation::relu, Activation::relu6, Activation::sigmoid,
                       Activation::softmax, Activation::tanh})
    if (s == to_string(a)) return a;
  MOODNET_FAIL("unknown activation '", s,
               "' (expected linear, relu, relu6, sigmoid, softmax or tanh)");
}

// The kernel table of a device; specialised in kernels/reference.hpp and kernels/cpu/ops.hpp.
template <class D>
struct ops;

}  // namespace moodnet
