// MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D (Keras semantics: 'same' max pooling
// pads with -inf, 'same' average pooling averages only the real elements).
#pragma once

#include "common.hpp"

namespace moodnet {

struct Pooling2DOptions {
  Size2 pool_size = 2;
  Size2 strides = 0;  // 0 = pool_size, as Keras' strides=None
  Padding padding = Padding::valid;
  std::string name{};
};

namespace detail {
template <class D, class Derived, bool IsMax>
class Pooling2D : public LayerBase<D, Derived> {
 public:
  explicit Pooling2D(Pooling2DOptions o) : opt_(std::move(o)) {
    if (opt_.strides.h == 0) opt_.strides = opt_.pool_size;
    this->name_ = opt_.name;
  }
  Shape build(const std::vector<Shape>& in) override {
    const Shape& s = this->single_input(in, 3);
    PoolGeometry p = geometry(1, s[0], s[1], s[2]);
    return {p.oh, p.ow, p.c};
  }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    const Tensor<D>& in = *x[0];
    MOODNET_CHECK(in.rank() == 4, this->type(), " '", this->name_, "': expects (N,H,W,C), got ",
                  in.shape().to_string());
    const PoolGeometry p = geometry(in.dim(0), in.dim(1), in.dim(2), in.dim(3));
    y.resize({p.n, p.oh, p.ow, p.c});
    if constexpr (IsMax)
      ops<D>::max_pool2d_forward(p, in.data(), y.data());
    else
      ops<D>::avg_pool2d_forward(p, in.data(), y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>& y, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    if (!dx[0]) return;
    const Tensor<D>& in = *x[0];
    const PoolGeometry p = geometry(in.dim(0), in.dim(1), in.dim(2), in.dim(3));
    dx[0]->resize(in.shape());
    if constexpr (IsMax)
      ops<D>::max_pool2d_backward(p, in.data(), y.data(), dy.data(), dx[0]->data(), folded_);
    else
      ops<D>::avg_pool2d_backward(p, dy.data(), dx[0]->data());
  }
  std::optional<PoolGeometry> max_pool_geometry(const Shape& in) const override {
    if (!IsMax || in.rank() != 4) return std::nullopt;
    return geometry(in[0], in[1], in[2], in[3]);
  }
  bool fold_input_activation(Activation a) override {
    if (!IsMax || (a != Activation::linear && a != Activation::relu && a != Activation::relu6))
      return false;
    folded_ = a;
    return a != Activation::linear;
  }
  // The producer's activation this layer's backward folds in (linear: none).
  Activation folded_input_activation() const { return folded_; }
  Value config() const override {
    return {{"pool_size", opt_.pool_size.to_value()},
            {"strides", opt_.strides.to_value()},
            {"padding", to_string(opt_.padding)}};
  }
  static Derived from_config(const Value& j) {
    Pooling2DOptions o;
    o.pool_size = Size2::from_value(j.at("pool_size"));
    o.strides = Size2::from_value(j.at("strides"));
    o.padding = padding_from_string(j.at("padding").get<std::string>());
    return Derived(o);
  }

 private:
  PoolGeometry geometry(int64_t n, int64_t h, int64_t w, int64_t c) const {
    return PoolGeometry::make(n, h, w, c, opt_.pool_size.h, opt_.pool_size.w, opt_.strides.h,
                              opt_.strides.w, opt_.padding);
  }
  Pooling2DOptions opt_;
  Activation folded_ = Activation::linear;  // set by the model (fold_input_activation)
};
}  // namespace detail

template <class D>
class MaxPooling2D : public detail::Pooling2D<D, MaxPooling2D<D>, true> {
 public:
  explicit MaxPooling2D(Pooling2DOptions o = {})
      : detail::Pooling2D<D, MaxPooling2D<D>, true>(std::move(o)) {}
  std::string type() const override { return "MaxPooling2D"; }
};

template <class D>
class AveragePooling2D : public detail::Pooling2D<D, AveragePooling2D<D>, false> {
 public:
  explicit AveragePooling2D(Pooling2DOptions o = {})
      : detail::Pooling2D<D, AveragePooling2D<D>, false>(std::move(o)) {}
  std::string type() const override { return "AveragePooling2D"; }
};

// (N,H,W,C) -> (N,C)
template <class D>
class GlobalAveragePooling2D : public LayerBase<D, GlobalAveragePooling2D<D>> {
 public:
  explicit GlobalAveragePooling2D(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "GlobalAveragePooling2D"; }
  Shape build(const std::vector<Shape>& in) override { return {this->single_input(in, 3)[2]}; }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    const Tensor<D>& in = *x[0];
    y.resize({in.dim(0), in.dim(3)});
    ops<D>::global_avg_pool_forward(in.dim(0), in.dim(1) * in.dim(2), in.dim(3), in.data(),
                                    y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    if (!dx[0]) return;
    const Tensor<D>& in = *x[0];
    dx[0]->resize(in.shape());
    ops<D>::global_avg_pool_backward(in.dim(0), in.dim(1) * in.dim(2), in.dim(3), dy.data(),
                                     dx[0]->data());
  }
  Value config() const override { return Value::object(); }
  static GlobalAveragePooling2D from_config(const Value&) { return GlobalAveragePooling2D(); }
};

}  // namespace moodnet
