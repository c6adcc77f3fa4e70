// Conv2D, DepthwiseConv2D and SeparableConv2D with Keras semantics and weight layouts.
#pragma once

#include "common.hpp"

namespace moodnet {

struct Conv2DOptions {
  int64_t filters = 0;
  Size2 kernel_size = 3;
  Size2 strides = 1;
  Padding padding = Padding::valid;
  Activation activation = Activation::linear;
  bool use_bias = true;
  double l2 = 0;  // kernel_regularizer=l2(l2)
  Initializer kernel_initializer = Initializer::glorot_uniform;
  Initializer bias_initializer = Initializer::zeros;
  std::string name{};
};

// x:(N,H,W,C) kernel:(KH,KW,C,F) bias:(F) y:(N,OH,OW,F)
template <class D>
class Conv2D : public LayerBase<D, Conv2D<D>> {
 public:
  explicit Conv2D(Conv2DOptions o) : opt_(std::move(o)) {
    MOODNET_CHECK(opt_.filters > 0, "Conv2D: filters must be positive, got ", opt_.filters);
    this->name_ = opt_.name;
    act_.kind = opt_.activation;
  }
  std::string type() const override { return "Conv2D"; }
  const Conv2DOptions& options() const { return opt_; }

  Shape build(const std::vector<Shape>& in) override {
    const Shape& s = this->single_input(in, 3);
    c_ = s[2];
    this->clear_parameters();
    this->add_parameter("kernel", {opt_.kernel_size.h, opt_.kernel_size.w, c_, opt_.filters},
                        opt_.kernel_initializer, true, opt_.l2);
    if (opt_.use_bias) this->add_parameter("bias", {opt_.filters}, opt_.bias_initializer);
    ConvGeometry g = geometry(1, s[0], s[1]);
    return {g.oh, g.ow, g.f};
  }

  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    if (!forward_fused(*x[0], y)) act_.apply(y);
  }
  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep&) override {
    if (!forward_fused(*x[0], y)) act_.apply_train(y);
  }
  bool call_max_pooled(typename Layer<D>::Inputs x, const PoolGeometry& p,
                       Tensor<D>& y) const override {
    if constexpr (requires { ops<D>::conv2d_max_pool_applies(ConvGeometry{}, p); }) {
      const Tensor<D>& in = *x[0];
      const Activation a = opt_.activation;
      if (in.rank() != 4 || in.dim(3) != c_ ||
          (a != Activation::linear && a != Activation::relu && a != Activation::relu6))
        return false;
      const ConvGeometry g = geometry(in.dim(0), in.dim(1), in.dim(2));
      if (!ops<D>::conv2d_max_pool_applies(g, p)) return false;
      y.resize({g.n, p.oh, p.ow, g.f});
      ops<D>::conv2d_forward_max_pool(g, in.data(), this->params_[0]->value.data(),
                                      opt_.use_bias ? this->params_[1]->value.data() : nullptr, a,
                                      p, y.data());
      return true;
    } else {
      (void)x, (void)p, (void)y;
      return false;
    }
  }
  bool forward_train_max_pooled(typename Layer<D>::Inputs x, const PoolGeometry& p,
                                Tensor<D>& pooled, const TrainStep&) override {
    if constexpr (requires { ops<D>::conv2d_max_pool_index_applies(ConvGeometry{}, p); }) {
      const Tensor<D>& in = *x[0];
      const Activation a = opt_.activation;
      if (in.rank() != 4 || in.dim(3) != c_ ||
          (a != Activation::linear && a != Activation::relu && a != Activation::relu6))
        return false;
      const ConvGeometry g = geometry(in.dim(0), in.dim(1), in.dim(2));
      if (!ops<D>::conv2d_max_pool_index_applies(g, p)) return false;
      pooled.resize({g.n, p.oh, p.ow, g.f});
      pool_index_.resize(static_cast<size_t>(pooled.size()));
      ops<D>::conv2d_forward_max_pool(g, in.data(), kernel().value.data(),
                                      opt_.use_bias ? bias().value.data() : nullptr, a, p,
                                      pooled.data(), pool_index_.data());
      pool_ = p;
      return true;
    } else {
      (void)x, (void)p, (void)pooled;
      return false;
    }
  }
  void backward_max_pooled(typename Layer<D>::Inputs x, const Tensor<D>& dpooled,
                           typename Layer<D>::InputGrads dx) override {
    if constexpr (requires {
                    ops<D>::conv2d_backward_params_max_pool_applies(ConvGeometry{}, pool_);
                  }) {
      const Tensor<D>& in = *x[0];
      const ConvGeometry g = geometry(in.dim(0), in.dim(1), in.dim(2));
      MOODNET_CHECK(pool_.n == g.n && static_cast<int64_t>(pool_index_.size()) == dpooled.size() &&
                        dpooled.size() == pool_.n * pool_.oh * pool_.ow * pool_.c,
                    "Conv2D '", this->name(), "': backward_max_pooled does not follow a pooled ",
                    "forward of this batch (pooled gradient ", dpooled.shape().to_string(), ")");
      // A first layer: the weight gradient reads the pool's gradient a block of rows at a time.
      if (!dx[0] && this->wants_param_grads() &&
          ops<D>::conv2d_backward_params_max_pool_applies(g, pool_))
        return ops<D>::conv2d_backward_params_max_pool(
            g, in.data(), pool_, pool_index_.data(), dpooled.data(), kernel().grad.data(),
            opt_.use_bias ? bias().grad.data() : nullptr);
      if (!dx[0] && !this->wants_param_grads()) return;
      // The index holds the activation's derivative: dz is the pre-activation gradient.
      dz_.resize({g.n, g.oh, g.ow, g.f});
      ops<D>::max_pool2d_backward_index(pool_, pool_index_.data(), dpooled.data(), dz_.data());
      backward_from_preactivation(g, in, dz_, dx);
    } else {
      (void)x, (void)dpooled, (void)dx;
      MOODNET_CHECK(false, "Conv2D '", this->name(), "': no pooled forward on this device");
    }
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>& y, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool dy_is_preactivation) override {
    const Tensor<D>& dz = act_.backward(y, dy, dy_is_preactivation);
    backward_from_preactivation(geometry(x[0]->dim(0), x[0]->dim(1), x[0]->dim(2)), *x[0], dz, dx);
  }
  Activation activation() const override { return opt_.activation; }
  const Tensor<D>* preactivation() const override { return act_.logits(); }

  Value config() const override {
    return {{"filters", opt_.filters},
            {"kernel_size", opt_.kernel_size.to_value()},
            {"strides", opt_.strides.to_value()},
            {"padding", to_string(opt_.padding)},
            {"activation", to_string(opt_.activation)},
            {"use_bias", opt_.use_bias},
            {"l2", opt_.l2}};
  }
  static Conv2D from_config(const Value& j) {
    Conv2DOptions o;
    o.filters = j.at("filters").get<int64_t>();
    o.kernel_size = Size2::from_value(j.at("kernel_size"));
    o.strides = Size2::from_value(j.at("strides"));
    o.padding = padding_from_string(j.at("padding").get<std::string>());
    o.activation = activation_from_string(j.at("activation").get<std::string>());
    o.use_bias = j.at("use_bias").get<bool>();
    o.l2 = j.value("l2", 0.0);
    return Conv2D(o);
  }

  Parameter<D>& kernel() { return *this->params_[0]; }
  Parameter<D>& bias() { return *this->params_[1]; }
  const Parameter<D>& kernel() const { return *this->params_[0]; }

  // Changes kernel_regularizer=l2(l2) after construction (also what config() saves).
  void set_l2(double l2) {
    opt_.l2 = l2;
    if (!this->params_.empty()) kernel().l2 = l2;
  }

 private:
  ConvGeometry geometry(int64_t n, int64_t h, int64_t w) const {
    return ConvGeometry::make(n, h, w, c_, opt_.kernel_size.h, opt_.kernel_size.w, opt_.strides.h,
                              opt_.strides.w, opt_.filters, opt_.padding);
  }
  // Runs the convolution with bias, and a ReLU/ReLU6 fused into it; returns whether the
  // activation was applied (other activations are left to act_).
  bool forward_fused(const Tensor<D>& x, Tensor<D>& y) const {
    MOODNET_CHECK(x.rank() == 4 && x.dim(3) == c_, "Conv2D '", this->name_, "': input ",
                  x.shape().to_string(), " does not have ", c_, " channels");
    const ConvGeometry g = geometry(x.dim(0), x.dim(1), x.dim(2));
    y.resize({g.n, g.oh, g.ow, g.f});
    const Activation a = opt_.activation;
    const bool fuse = a == Activation::linear || a == Activation::relu || a == Activation::relu6;
    ops<D>::conv2d_forward_act(g, x.data(), this->params_[0]->value.data(),
                               opt_.use_bias ? this->params_[1]->value.data() : nullptr,
                               fuse ? a : Activation::linear, y.data());
    return fuse;
  }
  // The parameter and input gradients from dz = dL/d(pre-activation).
  void backward_from_preactivation(const ConvGeometry& g, const Tensor<D>& x, const Tensor<D>& dz,
                                   typename Layer<D>::InputGrads dx) {
    if (this->wants_param_grads())
      ops<D>::conv2d_backward_params(g, x.data(), dz.data(), kernel().grad.data(),
                                     opt_.use_bias ? bias().grad.data() : nullptr);
    if (dx[0]) {
      dx[0]->resize(x.shape());
      ops<D>::conv2d_backward_data(g, dz.data(), kernel().value.data(), dx[0]->data());
    }
  }

  Conv2DOptions opt_;
  int64_t c_ = 0;
  OutputActivation<D> act_;
  // Training's fusion with a max pool after it (forward_train_max_pooled): the pool, each window's
  // first maximum (instead of this layer's output), and dL/d(pre-activation) for backward.
  PoolGeometry pool_{};
  std::vector<uint8_t> pool_index_;
  Tensor<D> dz_;
};

struct DepthwiseConv2DOptions {
  Size2 kernel_size = 3;
  Size2 strides = 1;
  Padding padding = Padding::valid;
  int64_t depth_multiplier = 1;
  Activation activation = Activation::linear;
  bool use_bias = true;
  double l2 = 0;  // depthwise_regularizer=l2(l2)
  Initializer depthwise_initializer = Initializer::glorot_uniform;
  std::string name{};
};

// x:(N,H,W,C) depthwise_kernel:(KH,KW,C,M) bias:(C*M) y:(N,OH,OW,C*M)
template <class D>
class DepthwiseConv2D : public LayerBase<D, DepthwiseConv2D<D>> {
 public:
  explicit DepthwiseConv2D(DepthwiseConv2DOptions o) : opt_(std::move(o)) {
    MOODNET_CHECK(opt_.depth_multiplier > 0, "DepthwiseConv2D: depth_multiplier must be positive");
    this->name_ = opt_.name;
    act_.kind = opt_.activation;
  }
  std::string type() const override { return "DepthwiseConv2D"; }

  Shape build(const std::vector<Shape>& in) override {
    const Shape& s = this->single_input(in, 3);
    c_ = s[2];
    this->clear_parameters();
    this->add_parameter("depthwise_kernel",
                        {opt_.kernel_size.h, opt_.kernel_size.w, c_, opt_.depth_multiplier},
                        opt_.depthwise_initializer, true, opt_.l2);
    if (opt_.use_bias)
      this->add_parameter("bias", {c_ * opt_.depth_multiplier}, Initializer::zeros);
    ConvGeometry g = geometry(1, s[0], s[1]);
    return {g.oh, g.ow, g.f};
  }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    forward_linear(*x[0], y);
    act_.apply(y);
  }
  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep&) override {
    forward_linear(*x[0], y);
    act_.apply_train(y);
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>& y, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool dy_is_preactivation) override {
    const Tensor<D>& dz = act_.backward(y, dy, dy_is_preactivation);
    const ConvGeometry g = geometry(x[0]->dim(0), x[0]->dim(1), x[0]->dim(2));
    if (this->wants_param_grads())
      ops<D>::depthwise_conv2d_backward_params(
          g, x[0]->data(), dz.data(), this->params_[0]->grad.data(),
          opt_.use_bias ? this->params_[1]->grad.data() : nullptr);
    if (dx[0]) {
      dx[0]->resize(x[0]->shape());
      ops<D>::depthwise_conv2d_backward_data(g, dz.data(), this->params_[0]->value.data(),
                                             dx[0]->data());
    }
  }
  Activation activation() const override { return opt_.activation; }
  const Tensor<D>* preactivation() const override { return act_.logits(); }

  Value config() const override {
    return {{"kernel_size", opt_.kernel_size.to_value()},
            {"strides", opt_.strides.to_value()},
            {"padding", to_string(opt_.padding)},
            {"depth_multiplier", opt_.depth_multiplier},
            {"activation", to_string(opt_.activation)},
            {"use_bias", opt_.use_bias},
            {"l2", opt_.l2}};
  }
  static DepthwiseConv2D from_config(const Value& j) {
    DepthwiseConv2DOptions o;
    o.kernel_size = Size2::from_value(j.at("kernel_size"));
    o.strides = Size2::from_value(j.at("strides"));
    o.padding = padding_from_string(j.at("padding").get<std::string>());
    o.depth_multiplier = j.at("depth_multiplier").get<int64_t>();
    o.activation = activation_from_string(j.at("activation").get<std::string>());
    o.use_bias = j.at("use_bias").get<bool>();
    o.l2 = j.value("l2", 0.0);
    return DepthwiseConv2D(o);
  }

 private:
  ConvGeometry geometry(int64_t n, int64_t h, int64_t w) const {
    return ConvGeometry::make(n, h, w, c_, opt_.kernel_size.h, opt_.kernel_size.w, opt_.strides.h,
                              opt_.strides.w, c_ * opt_.depth_multiplier, opt_.padding);
  }
  void forward_linear(const Tensor<D>& x, Tensor<D>& y) const {
    MOODNET_CHECK(x.rank() == 4 && x.dim(3) == c_, "DepthwiseConv2D '", this->name_, "': input ",
                  x.shape().to_string(), " does not have ", c_, " channels");
    const ConvGeometry g = geometry(x.dim(0), x.dim(1), x.dim(2));
    y.resize({g.n, g.oh, g.ow, g.f});
    ops<D>::depthwise_conv2d_forward(g, x.data(), this->params_[0]->value.data(),
                                     opt_.use_bias ? this->params_[1]->value.data() : nullptr,
                                     y.data());
  }

  DepthwiseConv2DOptions opt_;
  int64_t c_ = 0;
  OutputActivation<D> act_;
};

struct SeparableConv2DOptions {
  int64_t filters = 0;
  Size2 kernel_size = 3;
  Size2 strides = 1;
  Padding padding = Padding::valid;
  int64_t depth_multiplier = 1;
  Activation activation = Activation::linear;
  bool use_bias = true;
  double l2 = 0;  // depthwise_regularizer and pointwise_regularizer = l2(l2)
  std::string name{};
};

// Depthwise KxK (no bias) then pointwise 1x1 + bias, as Keras:
// depthwise_kernel:(KH,KW,C,M) pointwise_kernel:(1,1,C*M,F) bias:(F)
template <class D>
class SeparableConv2D : public LayerBase<D, SeparableConv2D<D>> {
 public:
  explicit SeparableConv2D(SeparableConv2DOptions o) : opt_(std::move(o)) {
    MOODNET_CHECK(opt_.filters > 0, "SeparableConv2D: filters must be positive, got ",
                  opt_.filters);
    this->name_ = opt_.name;
    act_.kind = opt_.activation;
  }
  std::string type() const override { return "SeparableConv2D"; }

  Shape build(const std::vector<Shape>& in) override {
    const Shape& s = this->single_input(in, 3);
    c_ = s[2];
    this->clear_parameters();
    const int64_t cm = c_ * opt_.depth_multiplier;
    this->add_parameter("depthwise_kernel",
                        {opt_.kernel_size.h, opt_.kernel_size.w, c_, opt_.depth_multiplier},
                        Initializer::glorot_uniform, true, opt_.l2);
    this->add_parameter("pointwise_kernel", {1, 1, cm, opt_.filters}, Initializer::glorot_uniform,
                        true, opt_.l2);
    if (opt_.use_bias) this->add_parameter("bias", {opt_.filters}, Initializer::zeros);
    ConvGeometry g = depthwise_geometry(1, s[0], s[1]);
    return {g.oh, g.ow, opt_.filters};
  }

  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    static thread_local Tensor<D> mid;  // per-thread: call() stays const and thread-safe
    forward_linear(*x[0], mid, y);
    act_.apply(y);
  }
  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep&) override {
    forward_linear(*x[0], mid_, y);
    act_.apply_train(y);
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>& y, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool dy_is_preactivation) override {
    const Tensor<D>& dz = act_.backward(y, dy, dy_is_preactivation);
    const ConvGeometry dg = depthwise_geometry(x[0]->dim(0), x[0]->dim(1), x[0]->dim(2));
    const ConvGeometry pg = pointwise_geometry(dg);
    auto& dw = *this->params_[0];
    auto& pw = *this->params_[1];
    if (this->wants_param_grads())
      ops<D>::conv2d_backward_params(pg, mid_.data(), dz.data(), pw.grad.data(),
                                     opt_.use_bias ? this->params_[2]->grad.data() : nullptr);
    dmid_.resize(mid_.shape());
    ops<D>::conv2d_backward_data(pg, dz.data(), pw.value.data(), dmid_.data());
    if (this->wants_param_grads())
      ops<D>::depthwise_conv2d_backward_params(dg, x[0]->data(), dmid_.data(), dw.grad.data(),
                                               nullptr);
    if (dx[0]) {
      dx[0]->resize(x[0]->shape());
      ops<D>::depthwise_conv2d_backward_data(dg, dmid_.data(), dw.value.data(), dx[0]->data());
    }
  }
  Activation activation() const override { return opt_.activation; }
  const Tensor<D>* preactivation() const override { return act_.logits(); }

  Value config() const override {
    return {{"filters", opt_.filters},
            {"kernel_size", opt_.kernel_size.to_value()},
            {"strides", opt_.strides.to_value()},
            {"padding", to_string(opt_.padding)},
            {"depth_multiplier", opt_.depth_multiplier},
            {"activation", to_string(opt_.activation)},
            {"use_bias", opt_.use_bias},
            {"l2", opt_.l2}};
  }
  static SeparableConv2D from_config(const Value& j) {
    SeparableConv2DOptions o;
    o.filters = j.at("filters").get<int64_t>();
    o.kernel_size = Size2::from_value(j.at("kernel_size"));
    o.strides = Size2::from_value(j.at("strides"));
    o.padding = padding_from_string(j.at("padding").get<std::string>());
    o.depth_multiplier = j.at("depth_multiplier").get<int64_t>();
    o.activation = activation_from_string(j.at("activation").get<std::string>());
    o.use_bias = j.at("use_bias").get<bool>();
    o.l2 = j.value("l2", 0.0);
    return SeparableConv2D(o);
  }

 private:
  ConvGeometry depthwise_geometry(int64_t n, int64_t h, int64_t w) const {
    return ConvGeometry::make(n, h, w, c_, opt_.kernel_size.h, opt_.kernel_size.w, opt_.strides.h,
                              opt_.strides.w, c_ * opt_.depth_multiplier, opt_.padding);
  }
  ConvGeometry pointwise_geometry(const ConvGeometry& dg) const {
    return ConvGeometry::make(dg.n, dg.oh, dg.ow, dg.f, 1, 1, 1, 1, opt_.filters, Padding::valid);
  }
  void forward_linear(const Tensor<D>& x, Tensor<D>& mid, Tensor<D>& y) const {
    MOODNET_CHECK(x.rank() == 4 && x.dim(3) == c_, "SeparableConv2D '", this->name_, "': input ",
                  x.shape().to_string(), " does not have ", c_, " channels");
    const ConvGeometry dg = depthwise_geometry(x.dim(0), x.dim(1), x.dim(2));
    const ConvGeometry pg = pointwise_geometry(dg);
    mid.resize({dg.n, dg.oh, dg.ow, dg.f});
    ops<D>::depthwise_conv2d_forward(dg, x.data(), this->params_[0]->value.data(), nullptr,
                                     mid.data());
    y.resize({pg.n, pg.oh, pg.ow, pg.f});
    ops<D>::conv2d_forward(pg, mid.data(), this->params_[1]->value.data(),
                           opt_.use_bias ? this->params_[2]->value.data() : nullptr, y.data());
  }

  SeparableConv2DOptions opt_;
  int64_t c_ = 0;
  Tensor<D> mid_, dmid_;
  OutputActivation<D> act_;
};

}  // namespace moodnet
