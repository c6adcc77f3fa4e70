// The Layer interface every layer implements, and Parameter (a weight with its gradient).
//
// Gradient contract: backward() OVERWRITES the input gradients dx and ACCUMULATES (+=) into
// parameter gradients; the model sums where the graph branches; the optimizer zeroes.
// A null dx pointer means the caller needs no input gradient (e.g. the first layer).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../core/init.hpp"
#include "../core/tensor.hpp"
#include "../core/value.hpp"
#include "../kernels/contract.hpp"

namespace moodnet {

namespace detail {
// While a model is rebuilt from a file: how many more weight values its layers may allocate (the
// file holds no more). A damaged or crafted architecture then fails with an Error instead of
// allocating memory the file could never fill. -1: no limit.
inline thread_local int64_t parameter_budget = -1;

struct ScopedParameterBudget {
  int64_t saved = parameter_budget;
  explicit ScopedParameterBudget(int64_t n) { parameter_budget = n; }
  ~ScopedParameterBudget() { parameter_budget = saved; }
  ScopedParameterBudget(const ScopedParameterBudget&) = delete;
  ScopedParameterBudget& operator=(const ScopedParameterBudget&) = delete;
};
}  // namespace detail

template <class D>
struct Parameter {
  std::string name;          // Keras weight name: kernel, bias, gamma, moving_mean, ...
  Tensor<D> value;           // the weight
  Tensor<D> grad;            // dL/dvalue, accumulated by backward (trainable weights only)
  bool trainable = true;     // false for state such as BatchNorm's moving statistics
  double l2 = 0;             // L2 penalty factor: loss += l2 * sum(value^2)
  double lr_multiplier = 1;  // the optimizer's learning rate is scaled by this (fine-tuning)
  Initializer initializer = Initializer::zeros;
};

// What a training forward pass may depend on besides its inputs.
struct TrainStep {
  uint64_t seed = 0;  // the run's seed
  uint64_t step = 0;  // global batch counter: keys dropout masks
};

template <class D>
class Layer {
 public:
  using T = typename D::value_type;
  using Inputs = std::span<const Tensor<D>* const>;
  using InputGrads = std::span<Tensor<D>* const>;

  virtual ~Layer() = default;

  // The Keras class name ("Conv2D") and the layer's name ("conv2d_1").
  virtual std::string type() const = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  virtual int num_inputs() const { return 1; }

  // Creates the weights for these per-sample input shapes (no batch dim); returns the per-sample
  // output shape. Throws moodnet::Error naming the layer when the shapes do not fit.
  virtual Shape build(const std::vector<Shape>& input_shapes) = 0;

  // Inference: const, no state touched, safe from many threads.
  virtual void call(Inputs x, Tensor<D>& y) const = 0;

  // Training forward; may cache what backward needs (masks, batch statistics, logits).
  virtual void forward_train(Inputs x, Tensor<D>& y, const TrainStep&) { call(x, y); }

  // dy = dL/dy, or dL/d(pre-activation) when dy_is_preactivation (the fused sigmoid/softmax +
  // cross-entropy path). Uses the x and y of the last forward_train.
  virtual void backward(Inputs x, const Tensor<D>& y, const Tensor<D>& dy, InputGrads dx,
                        bool dy_is_preactivation) = 0;

  // The layer's final activation (for the fused loss) and, after forward_train, its
  // pre-activation output when kept (sigmoid/softmax heads), else null.
  virtual Activation activation() const { return Activation::linear; }
  virtual const Tensor<D>* preactivation() const { return nullptr; }

  // Asked by the model when this layer's only input comes from a layer ending in `act` (ReLU or
  // ReLU6) that feeds nothing else: a layer that can fold act's derivative into its own backward
  // (max pooling: one test per window instead of a pass over the whole input) does so from now
  // on and returns true, and the model then gives the producer dL/d(pre-activation). linear
  // turns the folding off.
  virtual bool fold_input_activation(Activation) { return false; }

  // Inference fusion (Model::predict). A max-pooling layer returns its windows over an input of
  // this shape (N,H,W,C); other layers nothing.
  virtual std::optional<PoolGeometry> max_pool_geometry(const Shape&) const { return std::nullopt; }
  // A layer that can compute its output already max-pooled by p, without materialising the
  // unpooled output, does so into y and returns true (Conv2D on the Cpu device, where its
  // kernels allow); otherwise it returns false and leaves y alone.
  virtual bool call_max_pooled(Inputs, const PoolGeometry&, Tensor<D>&) const { return false; }
  // Training fusion (Model::forward and backward), for a layer whose output only a max pool p
  // reads: it may write its output already pooled by p into `pooled`, keeping what the pool's
  // backward needs instead of its own output, and return true (Conv2D on the Cpu device, where
  // its kernels allow: the position of each window's maximum); the model then skips the pool's
  // forward_train, and runs backward_max_pooled in place of both layers' backward. Otherwise it
  // returns false and leaves `pooled` alone.
  virtual bool forward_train_max_pooled(Inputs, const PoolGeometry&, Tensor<D>&, const TrainStep&) {
    return false;
  }
  // After forward_train_max_pooled returned true: this layer's backward and the pool's, from
  // the gradient of the pooled output (dx as in backward).
  virtual void backward_max_pooled(Inputs, const Tensor<D>&, InputGrads) {
    MOODNET_CHECK(false, type(), " '", name_, "': backward_max_pooled without a pooled forward");
  }

  // All weights in Keras order, trainable and not.
  std::vector<Parameter<D>*> parameters() {
    std::vector<Parameter<D>*> out;
    for (auto& p : params_) out.push_back(p.get());
    return out;
  }
  std::vector<const Parameter<D>*> parameters() const {
    std::vector<const Parameter<D>*> out;
    for (auto& p : params_) out.push_back(p.get());
    return out;
  }
  // Visits every weight without building a list (no allocation: runs every training step).
  template <class F>
  void for_each_parameter(F&& f) {
    for (auto& p : params_) f(*p);
  }

  // Frozen layers get no parameter gradients and no optimizer updates (BatchNorm then also runs
  // on its moving statistics, as in Keras).
  bool trainable() const { return trainable_; }
  void set_trainable(bool t) { trainable_ = t; }

  // Keras-style configuration, enough to rebuild the layer (model files).
  virtual Value config() const = 0;

  virtual std::unique_ptr<Layer> clone() const = 0;

  // Fill every weight from its initializer.
  void initialize(uint64_t seed, uint64_t stream) {
    for (size_t i = 0; i < params_.size(); ++i)
      moodnet::initialize(params_[i]->value, params_[i]->initializer, seed, stream_id(stream, i));
  }

 protected:
  Layer() = default;
  Layer(const Layer& o) : name_(o.name_), trainable_(o.trainable_) {
    for (auto& p : o.params_) params_.push_back(std::make_unique<Parameter<D>>(*p));
  }

  Parameter<D>& add_parameter(std::string name, const Shape& shape, Initializer init,
                              bool trainable = true, double l2 = 0) {
    if (detail::parameter_budget >= 0) {
      const int64_t n = shape.num_elements();
      MOODNET_CHECK(n <= detail::parameter_budget, "weight '", name, "' of shape ",
                    shape.to_string(), " needs far more values than the model file holds");
      detail::parameter_budget -= n;
    }
    auto p = std::make_unique<Parameter<D>>();
    p->name = std::move(name);
    p->value.resize(shape);
    p->value.zero();
    if (trainable) {
      p->grad.resize(shape);
      p->grad.zero();
    }
    p->trainable = trainable;
    p->l2 = l2;
    p->initializer = init;
    params_.push_back(std::move(p));
    return *params_.back();
  }
  void clear_parameters() { params_.clear(); }

  // Shape check helpers that name the layer.
  const Shape& single_input(const std::vector<Shape>& in, int rank) const {
    MOODNET_CHECK(in.size() == 1, type(), " '", name_, "' expects 1 input, got ", in.size());
    MOODNET_CHECK(rank < 0 || in[0].rank() == rank, type(), " '", name_, "' expects a rank-", rank,
                  " input (per sample), got ", in[0].to_string());
    return in[0];
  }
  // Parameter gradients are accumulated only when the layer is trainable.
  bool wants_param_grads() const { return trainable_; }

  std::string name_;
  bool trainable_ = true;
  std::vector<std::unique_ptr<Parameter<D>>> params_;
};

// Helper base for layers with a CRTP clone().
template <class D, class Derived>
class LayerBase : public Layer<D> {
 public:
  std::unique_ptr<Layer<D>> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

}  // namespace moodnet
