// Small pieces shared by the layers: square-or-pair sizes and the fused output activation.
#pragma once

#include "../kernels/cpu/ops.hpp"
#include "../kernels/reference.hpp"
#include "layer.hpp"

namespace moodnet {

// A kernel, stride or pool size: `3` means 3x3, `{3, 5}` means 3 high and 5 wide.
struct Size2 {
  int64_t h = 1, w = 1;
  Size2() = default;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: implicit on purpose, as Keras' int-or-tuple
  Size2(int64_t hh, int64_t ww) : h(hh), w(ww) {}
  Value to_value() const { return Value::array({h, w}); }
  static Size2 from_value(const Value& j) {
    if (j.is_integer()) return Size2(j.get<int64_t>());
    return Size2(j.at(0).get<int64_t>(), j.at(1).get<int64_t>());
  }
};

// The activation a Conv2D/Dense applies to its own output. Backward needs only the output y;
// sigmoid/softmax heads also keep their logits so the loss can be computed from them stably.
template <class D>
class OutputActivation {
 public:
  using T = typename D::value_type;
  Activation kind = Activation::linear;

  void apply(Tensor<D>& y) const {
    ops<D>::activation_forward(kind, rows(y), cols(y), y.data(), y.data());
  }
  void apply_train(Tensor<D>& y) {
    if (kind == Activation::sigmoid || kind == Activation::softmax) {
      logits_.resize(y.shape());
      ops<D>::copy(y.size(), y.data(), logits_.data());
    }
    apply(y);
  }
  // dL/d(pre-activation); returns dy itself when there is nothing to do.
  const Tensor<D>& backward(const Tensor<D>& y, const Tensor<D>& dy, bool dy_is_preactivation) {
    if (dy_is_preactivation || kind == Activation::linear) return dy;
    dz_.resize(y.shape());
    ops<D>::activation_backward(kind, rows(y), cols(y), y.data(), dy.data(), dz_.data());
    return dz_;
  }
  const Tensor<D>* logits() const {
    return (kind == Activation::sigmoid || kind == Activation::softmax) && !logits_.empty()
               ? &logits_
               : nullptr;
  }

 private:
  static int64_t cols(const Tensor<D>& y) { return y.rank() ? y.dim(-1) : 1; }
  static int64_t rows(const Tensor<D>& y) { return y.size() / std::max<int64_t>(cols(y), 1); }
  Tensor<D> logits_, dz_;
};

}  // namespace moodnet
