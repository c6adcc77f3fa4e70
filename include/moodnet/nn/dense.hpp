// Dense (on the last axis, as Keras) and Flatten (Keras' row-major NHWC order).
#pragma once

#include "common.hpp"

namespace moodnet {

struct DenseOptions {
  int64_t units = 0;
  Activation activation = Activation::linear;
  bool use_bias = true;
  double l2 = 0;  // kernel_regularizer=l2(l2)
  Initializer kernel_initializer = Initializer::glorot_uniform;
  Initializer bias_initializer = Initializer::zeros;
  std::string name{};
};

// x:(..., in) kernel:(in, units) bias:(units) y:(..., units)
template <class D>
class Dense : public LayerBase<D, Dense<D>> {
 public:
  explicit Dense(DenseOptions o) : opt_(std::move(o)) {
    MOODNET_CHECK(opt_.units > 0, "Dense: units must be positive, got ", opt_.units);
    this->name_ = opt_.name;
    act_.kind = opt_.activation;
  }
  std::string type() const override { return "Dense"; }

  Shape build(const std::vector<Shape>& in) override {
    MOODNET_CHECK(in.size() == 1 && in[0].rank() >= 1, "Dense '", this->name_,
                  "': expects one input");
    in_ = in[0][-1];
    this->clear_parameters();
    this->add_parameter("kernel", {in_, opt_.units}, opt_.kernel_initializer, true, opt_.l2);
    if (opt_.use_bias) this->add_parameter("bias", {opt_.units}, opt_.bias_initializer);
    Shape out = in[0];
    out[-1] = opt_.units;
    return out;
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
    const int64_t rows = x[0]->size() / in_;
    if (this->wants_param_grads())
      ops<D>::dense_backward_params(rows, in_, opt_.units, x[0]->data(), dz.data(),
                                    this->params_[0]->grad.data(),
                                    opt_.use_bias ? this->params_[1]->grad.data() : nullptr);
    if (dx[0]) {
      dx[0]->resize(x[0]->shape());
      ops<D>::dense_backward_data(rows, in_, opt_.units, dz.data(), this->params_[0]->value.data(),
                                  dx[0]->data());
    }
  }
  Activation activation() const override { return opt_.activation; }
  const Tensor<D>* preactivation() const override { return act_.logits(); }

  Value config() const override {
    return {{"units", opt_.units},
            {"activation", to_string(opt_.activation)},
            {"use_bias", opt_.use_bias},
            {"l2", opt_.l2}};
  }
  static Dense from_config(const Value& j) {
    DenseOptions o;
    o.units = j.at("units").get<int64_t>();
    o.activation = activation_from_string(j.at("activation").get<std::string>());
    o.use_bias = j.at("use_bias").get<bool>();
    o.l2 = j.value("l2", 0.0);
    return Dense(o);
  }

  // Changes kernel_regularizer=l2(l2) after construction (also what config() saves).
  void set_l2(double l2) {
    opt_.l2 = l2;
    if (!this->params_.empty()) this->params_[0]->l2 = l2;
  }

 private:
  void forward_linear(const Tensor<D>& x, Tensor<D>& y) const {
    MOODNET_CHECK(x.rank() >= 2 && x.dim(-1) == in_, "Dense '", this->name_, "': input ",
                  x.shape().to_string(), " does not end in ", in_, " features");
    Shape out = x.shape();
    out[-1] = opt_.units;
    y.resize(out);
    ops<D>::dense_forward(x.size() / in_, in_, opt_.units, x.data(), this->params_[0]->value.data(),
                          opt_.use_bias ? this->params_[1]->value.data() : nullptr, y.data());
  }
  DenseOptions opt_;
  int64_t in_ = 0;
  OutputActivation<D> act_;
};

// (N, d1, d2, ...) -> (N, d1*d2*...), in memory order (so Keras weights transfer unchanged).
template <class D>
class Flatten : public LayerBase<D, Flatten<D>> {
 public:
  explicit Flatten(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "Flatten"; }
  Shape build(const std::vector<Shape>& in) override {
    MOODNET_CHECK(in.size() == 1, "Flatten '", this->name_, "': expects one input");
    return {in[0].num_elements()};
  }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    y.resize({x[0]->dim(0), x[0]->size() / std::max<int64_t>(x[0]->dim(0), 1)});
    ops<D>::copy(x[0]->size(), x[0]->data(), y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    if (!dx[0]) return;
    dx[0]->resize(x[0]->shape());
    ops<D>::copy(dy.size(), dy.data(), dx[0]->data());
  }
  Value config() const override { return Value::object(); }
  static Flatten from_config(const Value&) { return Flatten(); }
};

}  // namespace moodnet
