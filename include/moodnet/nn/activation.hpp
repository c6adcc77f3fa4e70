// Stand-alone activation layers (ReLU, ReLU6, Sigmoid, Softmax), Dropout and Rescaling.
#pragma once

#include "common.hpp"

namespace moodnet {

namespace detail {
template <class D, class Derived, Activation A>
class ActivationLayer : public LayerBase<D, Derived> {
 public:
  ActivationLayer() { act_.kind = A; }
  Shape build(const std::vector<Shape>& in) override { return this->single_input(in, -1); }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    y.resize(x[0]->shape());
    if constexpr (kElementwise) {
      // One pass from x to y (no copy first).
      ops<D>::activation_forward(A, rows(y), cols(y), x[0]->data(), y.data());
    } else {
      ops<D>::copy(x[0]->size(), x[0]->data(), y.data());
      act_.apply(y);
    }
  }
  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep&) override {
    if constexpr (kElementwise) return call(x, y);
    y.resize(x[0]->shape());
    ops<D>::copy(x[0]->size(), x[0]->data(), y.data());
    act_.apply_train(y);
  }
  void backward(typename Layer<D>::Inputs, const Tensor<D>& y, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool dy_is_preactivation) override {
    if (!dx[0]) return;
    if (kElementwise && !dy_is_preactivation) {
      // Straight into dx (no intermediate dz and copy).
      dx[0]->resize(y.shape());
      ops<D>::activation_backward(A, rows(y), cols(y), y.data(), dy.data(), dx[0]->data());
      return;
    }
    const Tensor<D>& dz = act_.backward(y, dy, dy_is_preactivation);
    dx[0]->resize(y.shape());
    ops<D>::copy(dz.size(), dz.data(), dx[0]->data());
  }
  Activation activation() const override { return A; }
  const Tensor<D>* preactivation() const override { return act_.logits(); }
  Value config() const override { return Value::object(); }
  static Derived from_config(const Value&) { return Derived(); }

 protected:
  // ReLU and ReLU6 act element by element and keep nothing for backward.
  static constexpr bool kElementwise = A == Activation::relu || A == Activation::relu6;
  static int64_t cols(const Tensor<D>& y) { return y.rank() ? y.dim(-1) : 1; }
  static int64_t rows(const Tensor<D>& y) { return y.size() / std::max<int64_t>(cols(y), 1); }
  OutputActivation<D> act_;
};
}  // namespace detail

template <class D>
class ReLU : public detail::ActivationLayer<D, ReLU<D>, Activation::relu> {
 public:
  explicit ReLU(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "ReLU"; }
};
template <class D>
class ReLU6 : public detail::ActivationLayer<D, ReLU6<D>, Activation::relu6> {
 public:
  explicit ReLU6(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "ReLU6"; }
};
template <class D>
class Sigmoid : public detail::ActivationLayer<D, Sigmoid<D>, Activation::sigmoid> {
 public:
  explicit Sigmoid(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "Sigmoid"; }
};
template <class D>
class Softmax : public detail::ActivationLayer<D, Softmax<D>, Activation::softmax> {
 public:
  explicit Softmax(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "Softmax"; }
};

// Inverted dropout: identity at inference; in training each element is kept with probability
// 1 - rate and scaled by 1/(1 - rate). The mask is keyed by (seed, layer, step, index).
template <class D>
class Dropout : public LayerBase<D, Dropout<D>> {
 public:
  using T = typename D::value_type;
  explicit Dropout(double rate, std::string name = {}) : rate_(rate) {
    MOODNET_CHECK(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got ", rate);
    this->name_ = std::move(name);
  }
  std::string type() const override { return "Dropout"; }
  double rate() const { return rate_; }
  Shape build(const std::vector<Shape>& in) override { return this->single_input(in, -1); }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    y.resize(x[0]->shape());
    ops<D>::copy(x[0]->size(), x[0]->data(), y.data());
  }
  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep& step) override {
    y.resize(x[0]->shape());
    mask_.resize(x[0]->shape());
    ops<D>::dropout_forward(x[0]->size(), T(rate_), step.seed, stream_id(stream_, step.step),
                            x[0]->data(), mask_.data(), y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    if (!dx[0]) return;
    dx[0]->resize(x[0]->shape());
    ops<D>::multiply(dy.size(), dy.data(), mask_.data(), dx[0]->data());
  }
  // The model sets a distinct stream per layer so two Dropout layers never share a mask.
  void set_stream(uint64_t s) { stream_ = s; }
  uint64_t stream() const { return stream_; }
  Value config() const override { return {{"rate", rate_}}; }
  static Dropout from_config(const Value& j) { return Dropout(j.at("rate").get<double>()); }

 private:
  double rate_;
  uint64_t stream_ = 0;
  Tensor<D> mask_;
};

// y = x * scale + offset (Keras Rescaling, e.g. 1/255).
template <class D>
class Rescaling : public LayerBase<D, Rescaling<D>> {
 public:
  using T = typename D::value_type;
  explicit Rescaling(double scale, double offset = 0, std::string name = {})
      : scale_(scale), offset_(offset) {
    this->name_ = std::move(name);
  }
  std::string type() const override { return "Rescaling"; }
  Shape build(const std::vector<Shape>& in) override { return this->single_input(in, -1); }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    y.resize(x[0]->shape());
    ops<D>::scale_shift(x[0]->size(), T(scale_), T(offset_), x[0]->data(), y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    if (!dx[0]) return;
    dx[0]->resize(x[0]->shape());
    ops<D>::scale_shift(dy.size(), T(scale_), T(0), dy.data(), dx[0]->data());
  }
  Value config() const override { return {{"scale", scale_}, {"offset", offset_}}; }
  static Rescaling from_config(const Value& j) {
    return Rescaling(j.at("scale").get<double>(), j.value("offset", 0.0));
  }

 private:
  double scale_, offset_;
};

// Element-wise sum of two or more inputs of one shape (residual connections).
template <class D>
class Add : public LayerBase<D, Add<D>> {
 public:
  explicit Add(std::string name = {}) { this->name_ = std::move(name); }
  std::string type() const override { return "Add"; }
  int num_inputs() const override { return -1; }  // any number >= 2
  Shape build(const std::vector<Shape>& in) override {
    MOODNET_CHECK(in.size() >= 2, "Add '", this->name_, "': needs at least 2 inputs, got ",
                  in.size());
    for (const Shape& s : in)
      MOODNET_CHECK(s == in[0], "Add '", this->name_, "': input shapes differ: ", in[0].to_string(),
                    " vs ", s.to_string());
    return in[0];
  }
  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    y.resize(x[0]->shape());
    ops<D>::add(y.size(), x[0]->data(), x[1]->data(), y.data());
    for (size_t i = 2; i < x.size(); ++i) ops<D>::add_inplace(y.size(), x[i]->data(), y.data());
  }
  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    for (size_t i = 0; i < x.size(); ++i)
      if (dx[i]) {
        dx[i]->resize(x[i]->shape());
        ops<D>::copy(dy.size(), dy.data(), dx[i]->data());
      }
  }
  Value config() const override { return Value::object(); }
  static Add from_config(const Value&) { return Add(); }
};

}  // namespace moodnet
