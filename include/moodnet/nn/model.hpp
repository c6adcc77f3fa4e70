// Model<D>: a network built at run time as a graph of layers (a chain for Sequential models, with
// Add nodes for residual connections). It owns every activation and gradient buffer and reuses
// them batch after batch; predict() is const and thread-safe.
#pragma once

#include <concepts>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "activation.hpp"
#include "layer.hpp"

namespace moodnet {

// Keras' automatic layer names: "MaxPooling2D" -> "max_pooling2d", "ReLU" -> "re_lu" (an
// underscore before a capital that starts a lower-case word, or follows a lower-case letter).
inline std::string keras_snake_case(const std::string& type) {
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower_or_digit = [&](char c) { return lower(c) || (c >= '0' && c <= '9'); };
  std::string s;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    if (i > 0 && upper(c) &&
        (lower(type[i - 1]) || (i + 1 < type.size() && lower_or_digit(type[i + 1]))))
      s += '_';
    s += upper(c) ? char(c - 'A' + 'a') : c;
  }
  return s;
}

// "1234567" -> "1,234,567" (Keras' summary format).
inline std::string with_thousands(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct ParamCounts {
  int64_t total = 0, trainable = 0, non_trainable = 0;
};

template <class D>
class Model {
 public:
  using T = typename D::value_type;
  using NodeId = int;  // 0 is the model input

  explicit Model(Shape input_shape, uint64_t seed = 0, std::string name = "model")
      : input_shape_(std::move(input_shape)), seed_(seed), name_(std::move(name)) {
    nodes_.push_back(Node{});
    nodes_[0].shape = input_shape_;
  }
  Model(const Model& o) { *this = o; }
  Model& operator=(const Model& o) {
    if (this == &o) return *this;
    input_shape_ = o.input_shape_;
    seed_ = o.seed_;
    name_ = o.name_;
    name_counts_ = o.name_counts_;
    metadata_ = o.metadata_;
    nodes_.clear();
    for (const Node& n : o.nodes_) {
      Node c;
      c.layer = n.layer ? n.layer->clone() : nullptr;
      c.inputs = n.inputs;
      c.shape = n.shape;
      nodes_.push_back(std::move(c));
    }
    return *this;
  }
  Model(Model&& o) noexcept { *this = std::move(o); }
  Model& operator=(Model&& o) noexcept {
    input_shape_ = std::move(o.input_shape_);
    seed_ = o.seed_;
    name_ = std::move(o.name_);
    nodes_ = std::move(o.nodes_);
    name_counts_ = std::move(o.name_counts_);
    metadata_ = std::move(o.metadata_);
    input_ = nullptr;  // forward() state does not travel
    return *this;
  }

  NodeId input() const { return 0; }
  NodeId output() const { return static_cast<NodeId>(nodes_.size()) - 1; }

  // Appends a layer after the last one (Sequential style).
  template <class L>
  requires std::derived_from<L, Layer<D>> NodeId add(L layer) {
    return add(std::make_unique<L>(std::move(layer)), {output()});
  }
  // Adds a layer fed by the given nodes (functional style, e.g. Add of two branches).
  template <class L>
  requires std::derived_from<L, Layer<D>> NodeId add(L layer, std::vector<NodeId> inputs) {
    return add(std::make_unique<L>(std::move(layer)), std::move(inputs));
  }
  NodeId add(std::unique_ptr<Layer<D>> layer, std::vector<NodeId> inputs) {
    MOODNET_CHECK(layer != nullptr, "Model::add: null layer");
    MOODNET_CHECK(!inputs.empty(), "Model::add: layer '", layer->type(), "' has no inputs");
    std::vector<Shape> shapes;
    for (NodeId i : inputs) {
      MOODNET_CHECK(i >= 0 && i < static_cast<NodeId>(nodes_.size()), "Model::add: input node ", i,
                    " does not exist");
      shapes.push_back(nodes_[static_cast<size_t>(i)].shape);
    }
    if (layer->name().empty()) layer->set_name(unique_name(keras_snake_case(layer->type())));
    for (size_t i = 1; i < nodes_.size(); ++i)
      MOODNET_CHECK(nodes_[i].layer->name() != layer->name(), "Model::add: a layer named '",
                    layer->name(), "' already exists");
    Node n;
    n.shape = layer->build(shapes);
    const auto id = static_cast<NodeId>(nodes_.size());
    layer->initialize(seed_, static_cast<uint64_t>(id));
    if (auto* d = dynamic_cast<Dropout<D>*>(layer.get()))
      d->set_stream(stream_id(0xd0, static_cast<uint64_t>(id)));
    n.layer = std::move(layer);
    n.inputs = std::move(inputs);
    nodes_.push_back(std::move(n));
    return id;
  }

  // Re-draws every weight from its initializer (BatchNorm statistics reset too).
  void initialize(uint64_t seed) {
    seed_ = seed;
    for (size_t i = 1; i < nodes_.size(); ++i) nodes_[i].layer->initialize(seed, i);
  }
  uint64_t seed() const { return seed_; }
  // Free-form facts saved with the model (class names, colour mode, input scaling...).
  Value& metadata() { return metadata_; }
  const Value& metadata() const { return metadata_; }
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  size_t num_layers() const { return nodes_.size() - 1; }
  Layer<D>& layer(size_t i) { return *nodes_.at(i + 1).layer; }
  const Layer<D>& layer(size_t i) const { return *nodes_.at(i + 1).layer; }
  Layer<D>& layer(const std::string& name) {
    for (size_t i = 1; i < nodes_.size(); ++i)
      if (nodes_[i].layer->name() == name) return *nodes_[i].layer;
    MOODNET_FAIL("model has no layer named '", name, "'");
  }
  const std::vector<NodeId>& layer_inputs(size_t i) const { return nodes_.at(i + 1).inputs; }
  Shape layer_output_shape(size_t i) const { return nodes_.at(i + 1).shape; }
  // Whether backward() hands layer i dL/d(pre-activation) rather than dL/d(output): its only
  // consumer folds the ReLU derivative into its own backward (Conv2D(relu) -> MaxPooling2D).
  // For tools that drive the layers one by one, as backward() does.
  bool layer_grad_is_preactivation(size_t i) {
    plan_gradients();
    return nodes_.at(i + 1).grad_is_preactivation;
  }
  // Whether the last forward() ran layer i together with the max pool after it
  // (Layer::forward_train_max_pooled: layer i's own output never materialised), and whether the
  // last backward() then ran both layers' backward as one (Layer::backward_max_pooled).
  // (Layer i is node i + 1; its pool, the node after it, carries the flags.)
  bool layer_forward_fused_with_pool(size_t i) const {
    return i + 2 < nodes_.size() && nodes_[i + 2].fused_forward;
  }
  bool layer_backward_fused_with_pool(size_t i) const {
    return i + 2 < nodes_.size() && nodes_[i + 2].fused_backward;
  }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return nodes_.back().shape; }
  const Layer<D>& output_layer() const {
    MOODNET_CHECK(nodes_.size() > 1, "model has no layers");
    return *nodes_.back().layer;
  }
  bool is_sequential() const {
    for (size_t i = 1; i < nodes_.size(); ++i)
      if (nodes_[i].inputs.size() != 1 || nodes_[i].inputs[0] != static_cast<NodeId>(i) - 1)
        return false;
    return true;
  }

  std::vector<Parameter<D>*> parameters() {
    std::vector<Parameter<D>*> out;
    for (size_t i = 1; i < nodes_.size(); ++i)
      for (auto* p : nodes_[i].layer->parameters()) out.push_back(p);
    return out;
  }
  // Visits every weight of every layer, in parameters() order, without allocating.
  template <class F>
  void for_each_parameter(F&& f) {
    for (size_t i = 1; i < nodes_.size(); ++i) nodes_[i].layer->for_each_parameter(f);
  }
  // The weights the optimizer updates: trainable weights of trainable layers.
  std::vector<Parameter<D>*> trainable_parameters() {
    std::vector<Parameter<D>*> out;
    for (size_t i = 1; i < nodes_.size(); ++i)
      if (nodes_[i].layer->trainable())
        for (auto* p : nodes_[i].layer->parameters())
          if (p->trainable) out.push_back(p);
    return out;
  }
  ParamCounts count_params() const {
    ParamCounts c;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      const Layer<D>& l = *nodes_[i].layer;
      for (const auto* p : l.parameters()) {
        const int64_t n = p->value.size();
        c.total += n;
        (p->trainable && l.trainable() ? c.trainable : c.non_trainable) += n;
      }
    }
    return c;
  }
  void set_trainable(bool t) {
    for (size_t i = 1; i < nodes_.size(); ++i) nodes_[i].layer->set_trainable(t);
  }

  // Training forward pass; keeps every activation for backward(). x:(N, input_shape...)
  const Tensor<D>& forward(const Tensor<D>& x, const TrainStep& step) {
    check_input(x);
    input_ = &x;
    for (auto& n : nodes_) n.fused_forward = false;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      gather(i, ins_);
      // A layer whose output only a max pool reads may run with the pool (Conv2D ->
      // MaxPooling2D on the Cpu device: the conv output never goes to memory, and the pool's
      // backward needs only the position of each window's maximum).
      if (i + 1 < nodes_.size() && only_consumer(i) == i + 1)
        if (const auto pool =
                nodes_[i + 1].layer->max_pool_geometry(nodes_[i].shape.with_batch(x.dim(0))))
          if (nodes_[i].layer->forward_train_max_pooled(ins_, *pool, nodes_[i + 1].out, step)) {
            nodes_[i + 1].fused_forward = true;
            ++i;
            continue;
          }
      nodes_[i].layer->forward_train(ins_, nodes_[i].out, step);
    }
    return nodes_.back().out;
  }
  // The output layer's pre-activation after forward() (sigmoid/softmax heads), else null.
  const Tensor<D>* output_logits() const { return nodes_.back().layer->preactivation(); }

  // Backpropagates dL/doutput (or dL/dlogits when dy_is_preactivation) through the graph of the
  // last forward(); accumulates into the parameter gradients.
  void backward(const Tensor<D>& dy, bool dy_is_preactivation = false) {
    MOODNET_CHECK(input_ != nullptr, "Model::backward called before forward");
    const size_t last = nodes_.size() - 1;
    plan_gradients();
    for (auto& n : nodes_) n.has_grad = n.fused_backward = false;
    for (size_t i = last; i >= 1; --i) {
      Node& node = nodes_[i];
      if (!node.needs_backward) continue;
      const Tensor<D>* g = (i == last) ? &dy : (node.has_grad ? &node.grad : nullptr);
      if (!g) continue;  // no path from this node to the loss
      if (node.fused_forward) {
        // A max pool run together with the layer before it: that layer's backward_max_pooled
        // stands for both (the layer feeds only the pool, so no other gradient reaches it).
        const auto j = static_cast<size_t>(node.inputs[0]);
        node.fused_backward = true;
        gather(j, ins_);
        prepare_input_grads(nodes_[j]);
        nodes_[j].layer->backward_max_pooled(ins_, *g, dx_);
        route_input_grads(nodes_[j]);
        continue;
      }
      gather(i, ins_);
      prepare_input_grads(node);
      node.layer->backward(ins_, node.out, *g, dx_,
                           (i == last && dy_is_preactivation) || node.grad_is_preactivation);
      route_input_grads(node);
    }
  }

  void zero_grad() {
    for (auto* p : trainable_parameters()) ops<D>::fill(p->grad.size(), T(0), p->grad.data());
  }

  // Inference in batches; const and safe to call from several threads at once.
  Tensor<D> predict(const Tensor<D>& x, int64_t batch_size = 32) const {
    Tensor<D> result;
    predict(x, result, batch_size);
    return result;
  }
  // predict() into a caller's tensor: with a reused `result`, repeated calls allocate nothing
  // (activation buffers come from a pool, one workspace per concurrent call).
  void predict(const Tensor<D>& x, Tensor<D>& result, int64_t batch_size = 32) const {
    check_input(x);
    MOODNET_CHECK(batch_size > 0, "predict: batch_size must be positive");
    const int64_t n = x.dim(0), in_elems = input_shape_.num_elements();
    const int64_t out_elems = output_shape().num_elements();
    result.resize(output_shape().with_batch(n));
    auto ws = pool_.acquire();
    ws->outs.resize(nodes_.size());
    for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
      const int64_t bn = std::min(batch_size, n - b0);
      const Tensor<D>* xb = &x;  // one batch: fed as it is
      if (bn < n) {
        ws->xb.resize(input_shape_.with_batch(bn));
        ops<D>::copy(bn * in_elems, x.data() + b0 * in_elems, ws->xb.data());
        xb = &ws->xb;
      }
      for (size_t i = 1; i < nodes_.size(); ++i) {
        ws->ins.clear();
        for (NodeId j : nodes_[i].inputs)
          ws->ins.push_back(j == 0 ? xb : &ws->outs[static_cast<size_t>(j)]);
        // A layer whose output only a max pool reads may hand over the pooled output directly
        // (Conv2D -> MaxPooling2D on the Cpu device: the conv output never goes to memory).
        if (i + 1 < nodes_.size() && only_consumer(i) == i + 1)
          if (const auto pool =
                  nodes_[i + 1].layer->max_pool_geometry(nodes_[i].shape.with_batch(bn)))
            if (nodes_[i].layer->call_max_pooled(ws->ins, *pool, ws->outs[i + 1])) {
              ++i;
              continue;
            }
        nodes_[i].layer->call(ws->ins, ws->outs[i]);
      }
      ops<D>::copy(bn * out_elems, ws->outs.back().data(), result.data() + b0 * out_elems);
    }
    pool_.release(std::move(ws));
  }

  // A Keras-style table: layer (type), output shape, param #, and for graphs the inputs.
  std::string summary() const {
    const bool graph = !is_sequential();
    const int w1 = 29, w2 = 26, w3 = 11;
    const int width = graph ? 98 : 65;
    auto pad = [](std::string s, int w) {
      if (static_cast<int>(s.size()) < w) s.append(static_cast<size_t>(w) - s.size(), ' ');
      return s;
    };
    std::string out =
        "Model: \"" + name_ + "\"\n" + std::string(static_cast<size_t>(width), '_') + "\n";
    out += pad(" Layer (type)", w1) + pad("Output Shape", w2) + pad("Param #", w3) +
           (graph ? "Connected to" : "") + "\n";
    out += std::string(static_cast<size_t>(width), '=') + "\n";
    if (graph)
      out += pad(" input (InputLayer)", w1) + pad(input_shape_.to_string(true), w2) + pad("0", w3) +
             "\n";
    for (size_t i = 1; i < nodes_.size(); ++i) {
      const Layer<D>& l = *nodes_[i].layer;
      int64_t n = 0;
      for (const auto* p : l.parameters()) n += p->value.size();
      // Columns as Keras; a long name pushes the rest right rather than touching it.
      std::string line = pad(" " + l.name() + " (" + l.type() + ")", w1 - 1) + " ";
      line += pad(nodes_[i].shape.to_string(true), w2 - 1) + " " + pad(std::to_string(n), w3);
      if (graph) {
        std::string conn;
        for (NodeId j : nodes_[i].inputs)
          conn += (conn.empty() ? "" : ", ") +
                  (j == 0 ? std::string("input") : nodes_[static_cast<size_t>(j)].layer->name());
        line += conn;
      }
      out += line + "\n";
    }
    const ParamCounts c = count_params();
    out += std::string(static_cast<size_t>(width), '=') + "\n";
    out += "Total params: " + with_thousands(c.total) + "\n";
    out += "Trainable params: " + with_thousands(c.trainable) + "\n";
    out += "Non-trainable params: " + with_thousands(c.non_trainable) + "\n";
    out += std::string(static_cast<size_t>(width), '_') + "\n";
    return out;
  }

 private:
  struct Node {
    std::unique_ptr<Layer<D>> layer;  // null for the input node
    std::vector<NodeId> inputs;
    Shape shape;                        // per sample
    Tensor<D> out, grad;                // training buffers, reused
    std::vector<Tensor<D>> slot_grads;  // one per input, reused
    bool has_grad = false, wants_grad = false, needs_backward = false;
    // grad is dL/d(pre-activation): its only consumer folded the activation's derivative in.
    bool grad_is_preactivation = false;
    // A max pool that the last forward() ran together with the layer before it, and that the
    // last backward() then ran as one with it.
    bool fused_forward = false, fused_backward = false;
  };

  // The next free "base", "base_1", ... (skipping names the user or a model file chose).
  std::string unique_name(const std::string& base) {
    int& k = name_counts_[base];
    for (;; ++k) {
      std::string n = k == 0 ? base : base + "_" + std::to_string(k);
      bool taken = false;
      for (size_t i = 1; i < nodes_.size(); ++i) taken = taken || nodes_[i].layer->name() == n;
      if (!taken) {
        ++k;
        return n;
      }
    }
  }
  void check_input(const Tensor<D>& x) const {
    MOODNET_CHECK(x.rank() == input_shape_.rank() + 1 && x.shape().without_batch() == input_shape_,
                  "model '", name_, "' expects input (N, ", input_shape_.to_string().substr(1),
                  " but got ", x.shape().to_string());
  }
  void gather(size_t i, std::vector<const Tensor<D>*>& ins) const {
    ins.clear();
    for (NodeId j : nodes_[i].inputs)
      ins.push_back(j == 0 ? input_ : &nodes_[static_cast<size_t>(j)].out);
  }
  // dx_: a slot in node.slot_grads for each input that wants a gradient, else null.
  void prepare_input_grads(Node& node) {
    const size_t k = node.inputs.size();
    if (node.slot_grads.size() < k) node.slot_grads.resize(k);
    dx_.assign(k, nullptr);
    for (size_t j = 0; j < k; ++j)
      if (nodes_[static_cast<size_t>(node.inputs[j])].wants_grad) dx_[j] = &node.slot_grads[j];
  }
  // Routes each input gradient in dx_ to its source node, summing where a node feeds several.
  void route_input_grads(Node& node) {
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      if (!dx_[j]) continue;
      Node& src = nodes_[static_cast<size_t>(node.inputs[j])];
      if (!src.has_grad) {
        src.grad.swap(node.slot_grads[j]);
        src.has_grad = true;
      } else {
        ops<D>::add_inplace(src.grad.size(), node.slot_grads[j].data(), src.grad.data());
      }
    }
  }

  // A node needs backward if it has trainable weights or an upstream node does; a node wants its
  // output gradient if it needs backward. The input node never does, so the first layer skips
  // backward-data and frozen prefixes cost nothing.
  void plan_gradients() {
    for (size_t i = 1; i < nodes_.size(); ++i) {
      Node& n = nodes_[i];
      bool own = false;
      if (n.layer->trainable())
        n.layer->for_each_parameter([&](const Parameter<D>& p) { own = own || p.trainable; });
      bool upstream = false;
      for (NodeId j : n.inputs) upstream = upstream || nodes_[static_cast<size_t>(j)].wants_grad;
      n.needs_backward = own || upstream;
      n.wants_grad = n.needs_backward;
    }
    // A ReLU/ReLU6 output read only by a layer that folds the activation's derivative into its
    // own backward (Conv2D(relu) -> MaxPooling2D): the producer skips its activation pass.
    consumers_.assign(nodes_.size(), 0);
    for (size_t i = 1; i < nodes_.size(); ++i)
      for (NodeId j : nodes_[i].inputs) ++consumers_[static_cast<size_t>(j)];
    for (auto& n : nodes_) n.grad_is_preactivation = false;
    for (size_t i = 1; i < nodes_.size(); ++i) {
      Node& n = nodes_[i];
      const auto j = n.inputs.size() == 1 ? static_cast<size_t>(n.inputs[0]) : size_t{0};
      Activation a =
          j >= 1 && consumers_[j] == 1 ? nodes_[j].layer->activation() : Activation::linear;
      if (a != Activation::relu && a != Activation::relu6) a = Activation::linear;
      if (n.layer->fold_input_activation(a)) nodes_[j].grad_is_preactivation = true;
    }
  }

  Shape input_shape_;
  uint64_t seed_ = 0;
  std::string name_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> name_counts_;
  Value metadata_ = Value::object();
  const Tensor<D>* input_ = nullptr;
  std::vector<const Tensor<D>*> ins_;
  std::vector<Tensor<D>*> dx_;
  std::vector<int> consumers_;  // per node, reused by plan_gradients

  // The node that reads node i's output, if exactly one node reads it once; else 0.
  size_t only_consumer(size_t i) const {
    size_t found = 0;
    for (size_t j = i + 1; j < nodes_.size(); ++j)
      for (NodeId k : nodes_[j].inputs)
        if (static_cast<size_t>(k) == i) {
          if (found) return 0;
          found = j;
        }
    return found;
  }

  // Activation buffers of one predict() call.
  struct PredictWorkspace {
    std::vector<Tensor<D>> outs;
    Tensor<D> xb;
    std::vector<const Tensor<D>*> ins;
  };
  // Free workspaces; copies and moves of a Model start with an empty pool.
  class WorkspacePool {
   public:
    WorkspacePool() = default;
    WorkspacePool(const WorkspacePool&) {}
    WorkspacePool& operator=(const WorkspacePool&) { return *this; }
    std::unique_ptr<PredictWorkspace> acquire() {
      std::lock_guard<std::mutex> lock(mutex_);
      if (free_.empty()) return std::make_unique<PredictWorkspace>();
      auto ws = std::move(free_.back());
      free_.pop_back();
      return ws;
    }
    void release(std::unique_ptr<PredictWorkspace> ws) {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(std::move(ws));
    }

   private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<PredictWorkspace>> free_;
  };
  mutable WorkspacePool pool_;
};

// Keras' name for a plain layer stack; the same class serves both.
template <class D>
using Sequential = Model<D>;

}  // namespace moodnet
