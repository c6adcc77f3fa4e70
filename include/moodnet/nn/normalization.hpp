// BatchNormalization over the last axis with Keras defaults (momentum 0.99, epsilon 1e-3).
// Training uses batch statistics (biased variance) and updates the moving averages; inference and
// frozen layers use the moving statistics.
#pragma once

#include "common.hpp"

namespace moodnet {

struct BatchNormalizationOptions {
  double momentum = 0.99;
  double epsilon = 1e-3;
  std::string name{};
};

// x, y:(..., C) gamma, beta, moving_mean, moving_variance:(C)
template <class D>
class BatchNormalization : public LayerBase<D, BatchNormalization<D>> {
 public:
  using T = typename D::value_type;
  explicit BatchNormalization(BatchNormalizationOptions o = {}) : opt_(std::move(o)) {
    this->name_ = opt_.name;
  }
  std::string type() const override { return "BatchNormalization"; }

  Shape build(const std::vector<Shape>& in) override {
    MOODNET_CHECK(in.size() == 1 && in[0].rank() >= 1, "BatchNormalization '", this->name_,
                  "': expects one input with a channel axis");
    const int64_t c = in[0][-1];
    this->clear_parameters();
    this->add_parameter("gamma", {c}, Initializer::ones);
    this->add_parameter("beta", {c}, Initializer::zeros);
    this->add_parameter("moving_mean", {c}, Initializer::zeros, false);
    this->add_parameter("moving_variance", {c}, Initializer::ones, false);
    return in[0];
  }

  void call(typename Layer<D>::Inputs x, Tensor<D>& y) const override {
    const Tensor<D>& in = *x[0];
    const int64_t c = channels(in);
    y.resize(in.shape());
    ops<D>::batch_norm_infer_forward(in.size() / c, c, T(opt_.epsilon), in.data(),
                                     p(0).value.data(), p(1).value.data(), p(2).value.data(),
                                     p(3).value.data(), y.data());
  }

  void forward_train(typename Layer<D>::Inputs x, Tensor<D>& y, const TrainStep&) override {
    if (!this->trainable_) return call(x, y);
    const Tensor<D>& in = *x[0];
    const int64_t c = channels(in), rows = in.size() / c;
    y.resize(in.shape());
    xhat_.resize(in.shape());
    for (Tensor<D>* t : {&mean_, &var_, &inv_std_}) t->resize({c});
    ops<D>::batch_norm_train_forward(rows, c, T(opt_.epsilon), in.data(), p(0).value.data(),
                                     p(1).value.data(), mean_.data(), var_.data(), inv_std_.data(),
                                     xhat_.data(), y.data());
    ops<D>::moving_average_update(c, T(opt_.momentum), mean_.data(), p(2).value.data());
    ops<D>::moving_average_update(c, T(opt_.momentum), var_.data(), p(3).value.data());
  }

  void backward(typename Layer<D>::Inputs x, const Tensor<D>&, const Tensor<D>& dy,
                typename Layer<D>::InputGrads dx, bool) override {
    const Tensor<D>& in = *x[0];
    const int64_t c = channels(in), rows = in.size() / c;
    if (!this->trainable_) {
      // Frozen: y = gamma * (x - mean) / sqrt(var + eps) + beta with constants, so
      // dx = gamma / sqrt(var + eps) * dy: the inference kernel with zero mean and beta.
      if (!dx[0]) return;
      zeros_.resize({c});
      ops<D>::fill(c, T(0), zeros_.data());
      dx[0]->resize(in.shape());
      ops<D>::batch_norm_infer_forward(rows, c, T(opt_.epsilon), dy.data(), p(0).value.data(),
                                       zeros_.data(), zeros_.data(), p(3).value.data(),
                                       dx[0]->data());
      return;
    }
    scratch_.resize({2 * c});
    // The kernel always produces dx; route it to a scratch buffer when the caller needs none.
    Tensor<D>& out = dx[0] ? *dx[0] : dx_scratch_;
    out.resize(in.shape());
    ops<D>::batch_norm_backward(rows, c, dy.data(), xhat_.data(), p(0).value.data(),
                                inv_std_.data(), out.data(), p(0).grad.data(), p(1).grad.data(),
                                scratch_.data());
  }

  Value config() const override { return {{"momentum", opt_.momentum}, {"epsilon", opt_.epsilon}}; }
  static BatchNormalization from_config(const Value& j) {
    BatchNormalizationOptions o;
    o.momentum = j.at("momentum").get<double>();
    o.epsilon = j.at("epsilon").get<double>();
    return BatchNormalization(o);
  }

 private:
  Parameter<D>& p(int i) { return *this->params_[static_cast<size_t>(i)]; }
  const Parameter<D>& p(int i) const { return *this->params_[static_cast<size_t>(i)]; }
  int64_t channels(const Tensor<D>& in) const {
    const int64_t c = p(0).value.size();
    MOODNET_CHECK(in.rank() >= 2 && in.dim(-1) == c, "BatchNormalization '", this->name_,
                  "': input ", in.shape().to_string(), " does not have ", c, " channels");
    return c;
  }
  BatchNormalizationOptions opt_;
  Tensor<D> xhat_, mean_, var_, inv_std_, scratch_, zeros_, dx_scratch_;
};

}  // namespace moodnet
