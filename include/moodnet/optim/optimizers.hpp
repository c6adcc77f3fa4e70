// Optimizers with Keras' defaults and update rules. Each keeps its slots per parameter, created
// on the first step (no allocation afterwards). L2 penalties are applied here: grad += 2*l2*w.
// Each parameter learns at lr * p.lr_multiplier (1 unless set, e.g. for a fine-tuned backbone).
//   SGD:     v = momentum*v - lr*g;  w += v   (nesterov: w += momentum*v - lr*g)
//   RMSprop: s = rho*s + (1-rho)*g^2;  w -= lr*g / (sqrt(s) + eps)
//   Adam:    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//            w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../nn/layer.hpp"

namespace moodnet {

template <class D>
class Optimizer {
 public:
  using T = typename D::value_type;
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  virtual Value config() const = 0;
  virtual std::unique_ptr<Optimizer> clone() const = 0;

  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  int64_t iterations() const { return t_; }

  // One update of every parameter from its accumulated gradient; then zeroes the gradients.
  void step(const std::vector<Parameter<D>*>& params) {
    ++t_;
    if (slots_.size() != params.size()) slots_.assign(params.size(), {});
    begin_step();
    for (size_t i = 0; i < params.size(); ++i) {
      Parameter<D>& p = *params[i];
      if (p.l2 > 0) ops<D>::axpy(p.value.size(), T(2 * p.l2), p.value.data(), p.grad.data());
      auto& s = slots_[i];
      if (s.size() != static_cast<size_t>(num_slots())) {
        s.resize(static_cast<size_t>(num_slots()));
        for (auto& t : s) t = Tensor<D>(p.value.shape(), T(0));
      }
      update(p, s);
      ops<D>::fill(p.grad.size(), T(0), p.grad.data());
    }
  }

  // Slot state for model files (optimizer state is optional there).
  std::vector<std::vector<Tensor<D>>>& slots() { return slots_; }
  void set_iterations(int64_t t) { t_ = t; }

 protected:
  explicit Optimizer(double lr) : lr_(lr) {}
  virtual int num_slots() const = 0;
  virtual void begin_step() {}
  virtual void update(Parameter<D>& p, std::vector<Tensor<D>>& slots) = 0;

  double lr_;
  int64_t t_ = 0;
  std::vector<std::vector<Tensor<D>>> slots_;
};

struct SGDOptions {
  double learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
};

template <class D>
class SGD : public Optimizer<D> {
 public:
  using T = typename D::value_type;
  explicit SGD(SGDOptions o = {}) : Optimizer<D>(o.learning_rate), o_(o) {}
  std::string name() const override { return "SGD"; }
  Value config() const override {
    return {{"learning_rate", this->lr_}, {"momentum", o_.momentum}, {"nesterov", o_.nesterov}};
  }
  std::unique_ptr<Optimizer<D>> clone() const override { return std::make_unique<SGD>(*this); }

 protected:
  int num_slots() const override { return 1; }
  void update(Parameter<D>& p, std::vector<Tensor<D>>& s) override {
    ops<D>::sgd_update(p.value.size(), T(this->lr_ * p.lr_multiplier), T(o_.momentum), o_.nesterov,
                       p.value.data(), p.grad.data(), s[0].data());
  }
  SGDOptions o_;
};

struct RMSpropOptions {
  double learning_rate = 0.001;
  double rho = 0.9;
  double epsilon = 1e-7;
};

template <class D>
class RMSprop : public Optimizer<D> {
 public:
  using T = typename D::value_type;
  explicit RMSprop(RMSpropOptions o = {}) : Optimizer<D>(o.learning_rate), o_(o) {}
  std::string name() const override { return "RMSprop"; }
  Value config() const override {
    return {{"learning_rate", this->lr_}, {"rho", o_.rho}, {"epsilon", o_.epsilon}};
  }
  std::unique_ptr<Optimizer<D>> clone() const override { return std::make_unique<RMSprop>(*this); }

 protected:
  int num_slots() const override { return 1; }
  void update(Parameter<D>& p, std::vector<Tensor<D>>& s) override {
    ops<D>::rmsprop_update(p.value.size(), T(this->lr_ * p.lr_multiplier), T(o_.rho), T(o_.epsilon),
                           p.value.data(), p.grad.data(), s[0].data());
  }
  RMSpropOptions o_;
};

struct AdamOptions {
  double learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
};

template <class D>
class Adam : public Optimizer<D> {
 public:
  using T = typename D::value_type;
  explicit Adam(AdamOptions o = {}) : Optimizer<D>(o.learning_rate), o_(o) {}
  std::string name() const override { return "Adam"; }
  Value config() const override {
    return {{"learning_rate", this->lr_},
            {"beta_1", o_.beta_1},
            {"beta_2", o_.beta_2},
            {"epsilon", o_.epsilon}};
  }
  std::unique_ptr<Optimizer<D>> clone() const override { return std::make_unique<Adam>(*this); }

 protected:
  int num_slots() const override { return 2; }
  void begin_step() override {
    const double t = double(this->t_);
    lr_t_ = this->lr_ * std::sqrt(1 - std::pow(o_.beta_2, t)) / (1 - std::pow(o_.beta_1, t));
  }
  void update(Parameter<D>& p, std::vector<Tensor<D>>& s) override {
    ops<D>::adam_update(p.value.size(), T(lr_t_ * p.lr_multiplier), T(o_.beta_1), T(o_.beta_2),
                        T(o_.epsilon), p.value.data(), p.grad.data(), s[0].data(), s[1].data());
  }
  AdamOptions o_;
  double lr_t_ = 0;
};

// Builds an optimizer from its name and config (model files, command lines).
template <class D>
std::unique_ptr<Optimizer<D>> make_optimizer(const std::string& name,
                                             const Value& cfg = Value::object()) {
  auto get = [&](const char* k, double def) { return cfg.is_object() ? cfg.value(k, def) : def; };
  if (name == "adam" || name == "Adam")
    return std::make_unique<Adam<D>>(AdamOptions{get("learning_rate", 1e-3), get("beta_1", 0.9),
                                                 get("beta_2", 0.999), get("epsilon", 1e-7)});
  if (name == "rmsprop" || name == "RMSprop")
    return std::make_unique<RMSprop<D>>(
        RMSpropOptions{get("learning_rate", 1e-3), get("rho", 0.9), get("epsilon", 1e-7)});
  if (name == "sgd" || name == "SGD")
    return std::make_unique<SGD<D>>(
        SGDOptions{get("learning_rate", 1e-2), get("momentum", 0.0),
                   cfg.is_object() ? cfg.value("nesterov", false) : false});
  MOODNET_FAIL("unknown optimizer '", name, "' (expected adam, rmsprop or sgd)");
}

}  // namespace moodnet
