// DepthwiseConv2D kernels for the Cpu device.
#pragma once

#include "../naive.hpp"

namespace moodnet::cpu {

// x:(N,H,W,C) w:(KH,KW,C,M) b:(C*M)|null y:(N,OH,OW,C*M)
inline void depthwise_conv2d_forward(const ConvGeometry& g, const float* x, const float* w,
                                     const float* b, float* y) {
  naive::depthwise_conv2d_forward(g, x, w, b, y);
}
// dy:(N,OH,OW,C*M) w:(KH,KW,C,M) -> dx:(N,H,W,C), overwritten
inline void depthwise_conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w,
                                           float* dx) {
  naive::depthwise_conv2d_backward_data(g, dy, w, dx);
}
// dw:(KH,KW,C,M) += ..., db:(C*M)|null += ...
inline void depthwise_conv2d_backward_params(const ConvGeometry& g, const float* x, const float* dy,
                                             float* dw, float* db) {
  naive::depthwise_conv2d_backward_params(g, x, dy, dw, db);
}

}  // namespace moodnet::cpu
