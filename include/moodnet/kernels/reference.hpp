// ops<Reference>: the naive kernels in double precision, the oracle for every test.
#pragma once

#include "../core/device.hpp"
#include "naive.hpp"

namespace moodnet {

// Every op of the contract, forwarding to the naive kernels with scalar type T. Devices derive
// from it and replace what they implement faster.
template <class T>
struct naive_ops {
  static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
    naive::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  static void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
    naive::conv2d_forward(g, x, w, b, y);
  }
  static void conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w, T* dx) {
    naive::conv2d_backward_data(g, dy, w, dx);
  }
  // conv2d_forward followed by a ReLU/ReLU6 (or nothing); fast devices fuse it into the epilogue.
  static void conv2d_forward_act(const ConvGeometry& g, const T* x, const T* w, const T* b,
                                 Activation act, T* y) {
    naive::conv2d_forward(g, x, w, b, y);
    if (act != Activation::linear) naive::activation_forward(act, g.n * g.oh * g.ow, g.f, y, y);
  }
  static void conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy, T* dw, T* db) {
    naive::conv2d_backward_params(g, x, dy, dw, db);
  }
  static void depthwise_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b,
                                       T* y) {
    naive::depthwise_conv2d_forward(g, x, w, b, y);
  }
  static void depthwise_conv2d_backward_data(const ConvGeometry& g, const T* dy, const T* w,
                                             T* dx) {
    naive::depthwise_conv2d_backward_data(g, dy, w, dx);
  }
  static void depthwise_conv2d_backward_params(const ConvGeometry& g, const T* x, const T* dy,
                                               T* dw, T* db) {
    naive::depthwise_conv2d_backward_params(g, x, dy, dw, db);
  }
  static void max_pool2d_forward(const PoolGeometry& p, const T* x, T* y) {
    naive::max_pool2d_forward(p, x, y);
  }
  static void max_pool2d_backward(const PoolGeometry& p, const T* x, const T* y, const T* dy, T* dx,
                                  Activation input_act = Activation::linear) {
    naive::max_pool2d_backward(p, x, y, dy, dx, input_act);
  }
  static void avg_pool2d_forward(const PoolGeometry& p, const T* x, T* y) {
    naive::avg_pool2d_forward(p, x, y);
  }
  static void avg_pool2d_backward(const PoolGeometry& p, const T* dy, T* dx) {
    naive::avg_pool2d_backward(p, dy, dx);
  }
  static void global_avg_pool_forward(int64_t n, int64_t hw, int64_t c, const T* x, T* y) {
    naive::global_avg_pool_forward(n, hw, c, x, y);
  }
  static void global_avg_pool_backward(int64_t n, int64_t hw, int64_t c, const T* dy, T* dx) {
    naive::global_avg_pool_backward(n, hw, c, dy, dx);
  }
  static void dense_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b,
                            T* y) {
    naive::dense_forward(n, in, out, x, w, b, y);
  }
  static void dense_backward_data(int64_t n, int64_t in, int64_t out, const T* dy, const T* w,
                                  T* dx) {
    naive::dense_backward_data(n, in, out, dy, w, dx);
  }
  static void dense_backward_params(int64_t n, int64_t in, int64_t out, const T* x, const T* dy,
                                    T* dw, T* db) {
    naive::dense_backward_params(n, in, out, x, dy, dw, db);
  }
  static void activation_forward(Activation a, int64_t rows, int64_t cols, const T* z, T* y) {
    naive::activation_forward(a, rows, cols, z, y);
  }
  static void activation_backward(Activation a, int64_t rows, int64_t cols, const T* y, const T* dy,
                                  T* dz) {
    naive::activation_backward(a, rows, cols, y, dy, dz);
  }
  static void batch_norm_train_forward(int64_t rows, int64_t c, T eps, const T* x, const T* gamma,
                                       const T* beta, T* mean, T* var, T* inv_std, T* xhat, T* y) {
    naive::batch_norm_train_forward(rows, c, eps, x, gamma, beta, mean, var, inv_std, xhat, y);
  }
  static void batch_norm_infer_forward(int64_t rows, int64_t c, T eps, const T* x, const T* gamma,
                                       const T* beta, const T* moving_mean, const T* moving_var,
                                       T* y) {
    naive::batch_norm_infer_forward(rows, c, eps, x, gamma, beta, moving_mean, moving_var, y);
  }
  static void batch_norm_backward(int64_t rows, int64_t c, const T* dy, const T* xhat,
                                  const T* gamma, const T* inv_std, T* dx, T* dgamma, T* dbeta,
                                  T* scratch) {
    naive::batch_norm_backward(rows, c, dy, xhat, gamma, inv_std, dx, dgamma, dbeta, scratch);
  }
  static void moving_average_update(int64_t n, T momentum, const T* batch_value, T* moving) {
    naive::moving_average_update(n, momentum, batch_value, moving);
  }
  static void dropout_forward(int64_t n, T rate, uint64_t seed, uint64_t stream, const T* x,
                              T* mask, T* y) {
    naive::dropout_forward(n, rate, seed, stream, x, mask, y);
  }
  static void multiply(int64_t n, const T* a, const T* b, T* y) { naive::multiply(n, a, b, y); }
  static void scale_shift(int64_t n, T scale, T offset, const T* x, T* y) {
    naive::scale_shift(n, scale, offset, x, y);
  }
  static void copy(int64_t n, const T* x, T* y) { naive::copy(n, x, y); }
  static void add(int64_t n, const T* a, const T* b, T* y) { naive::add(n, a, b, y); }
  static void add_inplace(int64_t n, const T* x, T* y) { naive::add_inplace(n, x, y); }
  static void axpy(int64_t n, T alpha, const T* x, T* y) { naive::axpy(n, alpha, x, y); }
  static void fill(int64_t n, T value, T* y) { std::fill(y, y + n, value); }
  static double sum_squares(int64_t n, const T* x) { return naive::sum_squares(n, x); }
  static double bce_from_logits(int64_t n, const T* z, const T* t, T* dz, T grad_scale) {
    return naive::bce_from_logits(n, z, t, dz, grad_scale);
  }
  static double bce_from_probabilities(int64_t n, const T* p, const T* t, T* dp, T grad_scale) {
    return naive::bce_from_probabilities(n, p, t, dp, grad_scale);
  }
  static double softmax_cce(int64_t rows, int64_t k, const T* z, const T* t, T* dz, T grad_scale) {
    return naive::softmax_cce(rows, k, z, t, dz, grad_scale);
  }
  static void sgd_update(int64_t n, T lr, T momentum, bool nesterov, T* w, const T* g, T* v) {
    naive::sgd_update(n, lr, momentum, nesterov, w, g, v);
  }
  static void rmsprop_update(int64_t n, T lr, T rho, T eps, T* w, const T* g, T* ms) {
    naive::rmsprop_update(n, lr, rho, eps, w, g, ms);
  }
  static void adam_update(int64_t n, T lr_t, T beta1, T beta2, T eps, T* w, const T* g, T* m,
                          T* v) {
    naive::adam_update(n, lr_t, beta1, beta2, eps, w, g, m, v);
  }
};

template <>
struct ops<Reference> : naive_ops<double> {};

}  // namespace moodnet
