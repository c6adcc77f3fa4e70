// Transfer learning on frozen pretrained backbones (zoo_pretrained.hpp):
//   - frozen_prefix_length / layers_before / layers_from: the frozen, deterministic first layers
//     of a model (its backbone) and the trainable rest (its head), as separate models;
//   - cache_features: the backbone's output for every sample of a dataset, computed once;
//   - fit_cached: fit() that trains the head on cached features (for data without augmentation:
//     the backbone then runs once per image instead of once per image and epoch) and writes the
//     trained weights back into the whole model;
//   - unfreeze_last_blocks: fine-tuning, the last K backbone blocks trainable at a lower rate.
// With augmentation, plain fit() already runs a frozen prefix forward only: Model::backward
// skips every layer with no trainable weight upstream (no backward-data, no weight gradients).
// Not included by <moodnet/moodnet.hpp>.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "../nn/model.hpp"
#include "dataset.hpp"
#include "fit.hpp"

namespace moodnet {

// The fraction of the head's learning rate that fine-tuned backbone layers learn at.
inline constexpr double fine_tune_lr_factor = 0.1;

namespace detail {
// A layer whose training forward equals its inference forward and that learns nothing: frozen
// (BatchNorm then uses its moving statistics), or without weights; never Dropout (random).
template <class D>
bool frozen_and_deterministic(const Layer<D>& l) {
  return l.type() != "Dropout" && (!l.trainable() || l.parameters().empty());
}

// Copies weights and their settings (not the gradients) from one layer to its clone.
template <class D>
void copy_parameters(const Layer<D>& from, Layer<D>& to) {
  auto a = from.parameters();
  auto b = to.parameters();
  MOODNET_CHECK(a.size() == b.size(), "copy_parameters: layer '", from.name(), "' has ", a.size(),
                " weights, its copy ", b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    b[i]->value = a[i]->value;
    b[i]->trainable = a[i]->trainable;
    b[i]->l2 = a[i]->l2;
    b[i]->lr_multiplier = a[i]->lr_multiplier;
  }
}

// Appends a copy of m's layer i to out, fed by out's nodes `inputs` (same weights, same Dropout
// stream, so training the copy draws the same masks).
template <class D>
void append_copy(const Model<D>& m, size_t i, Model<D>& out, std::vector<int> inputs) {
  const Layer<D>& src = m.layer(i);
  const auto id = out.add(src.clone(), std::move(inputs));
  Layer<D>& dst = out.layer(static_cast<size_t>(id) - 1);
  copy_parameters(src, dst);
  if (const auto* d = dynamic_cast<const Dropout<D>*>(&src))
    static_cast<Dropout<D>&>(dst).set_stream(d->stream());
}
}  // namespace detail

// The number k of first layers that form a frozen, deterministic prefix whose last output is the
// only thing the later layers read (a clean cut of the graph after layer k-1). 0 when there is
// none; always less than num_layers() (a head remains to train).
template <class D>
size_t frozen_prefix_length(const Model<D>& m) {
  size_t k_max = 0;
  while (k_max + 1 < m.num_layers() && detail::frozen_and_deterministic(m.layer(k_max))) ++k_max;
  for (size_t k = k_max; k > 0; --k) {
    bool clean = true;  // layers k.. read node k (layer k-1's output) and later nodes only
    for (size_t j = k; j < m.num_layers() && clean; ++j)
      for (int in : m.layer_inputs(j)) clean = clean && in >= static_cast<int>(k);
    if (clean) return k;
  }
  return 0;
}

// The first k layers of m as a model of their own (copied weights).
template <class D>
Model<D> layers_before(const Model<D>& m, size_t k) {
  MOODNET_CHECK(k >= 1 && k <= m.num_layers(), "layers_before: k must be in 1..", m.num_layers(),
                ", got ", k);
  Model<D> out(m.input_shape(), m.seed(), m.name() + "-prefix");
  for (size_t i = 0; i < k; ++i) detail::append_copy(m, i, out, m.layer_inputs(i));
  return out;
}

// Layers k.. of m as a model whose input is layer k-1's output (copied weights, the same
// metadata). Needs a clean cut: layers k.. read nothing before node k.
template <class D>
Model<D> layers_from(const Model<D>& m, size_t k) {
  MOODNET_CHECK(k >= 1 && k < m.num_layers(), "layers_from: k must be in 1..", m.num_layers() - 1,
                ", got ", k);
  Model<D> out(m.layer_output_shape(k - 1), m.seed(), m.name() + "-head");
  for (size_t i = k; i < m.num_layers(); ++i) {
    std::vector<int> inputs;
    for (int in : m.layer_inputs(i)) {
      MOODNET_CHECK(in >= static_cast<int>(k), "layers_from: layer '", m.layer(i).name(),
                    "' reads a layer before the cut after layer ", k - 1);
      inputs.push_back(in - static_cast<int>(k));
    }
    detail::append_copy(m, i, out, std::move(inputs));
  }
  out.metadata() = m.metadata();
  return out;
}

// prefix's output for every sample of `data` (its epoch-0 batches, in order) with the targets:
// a dataset for training what follows the prefix.
template <class D>
TensorDataset cache_features(const Model<D>& prefix, Dataset& data, int64_t batch_size = 32) {
  MOODNET_CHECK(batch_size > 0, "cache_features: batch_size must be positive");
  MOODNET_CHECK(data.sample_shape() == prefix.input_shape(), "cache_features: samples of shape ",
                data.sample_shape().to_string(), " do not fit the model input ",
                prefix.input_shape().to_string());
  const int64_t n = data.size();
  const int64_t fs = prefix.output_shape().num_elements();
  const int64_t ts = data.target_shape().num_elements();
  Tensor<Cpu> features(prefix.output_shape().with_batch(n));
  Tensor<Cpu> targets(data.target_shape().with_batch(n));
  Tensor<Cpu> xh, yh;
  Tensor<D> xs, out;
  std::vector<int64_t> idx;
  for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
    idx.clear();
    for (int64_t i = b0; i < std::min(n, b0 + batch_size); ++i) idx.push_back(i);
    data.load_batch(idx, 0, xh, yh);
    prefix.predict(detail::on_device<D>(xh, xs), out, batch_size);
    const auto bn = static_cast<int64_t>(idx.size());
    if constexpr (std::is_same_v<D, Cpu>) {
      std::copy(out.data(), out.data() + bn * fs, features.data() + b0 * fs);
    } else {
      const Tensor<Cpu> host = to<Cpu>(out);
      std::copy(host.data(), host.data() + bn * fs, features.data() + b0 * fs);
    }
    std::copy(yh.data(), yh.data() + bn * ts, targets.data() + b0 * ts);
  }
  return TensorDataset(std::move(features), std::move(targets));
}

// What fit_cached did besides training.
struct FeatureCacheInfo {
  size_t frozen_layers = 0;  // layers whose output was cached (0: plain fit, nothing cached)
  Shape feature_shape;       // per sample
  int64_t samples = 0;       // training + validation samples cached
  double seconds = 0;        // time spent computing the cache
};

// fit() for a model with a frozen prefix (frozen_prefix_length > 0) on data without random
// augmentation: the prefix runs once per sample (training and validation sets), the rest of the
// model trains on the cached features with the same shuffling, dropout masks and optimizer
// steps as fit() on the whole model would use, and the trained weights are copied back into
// `model`. Callbacks see the head model (layers after the prefix). With no frozen prefix this is
// plain fit(). The data must give the same sample every epoch (no augmentation).
template <class D>
History fit_cached(Model<D>& model, Optimizer<D>& optimizer, const Loss& loss, Dataset& train,
                   const FitOptions& opt, const std::vector<Callback<D>*>& callbacks = {},
                   FeatureCacheInfo* info = nullptr) {
  const size_t k = frozen_prefix_length(model);
  if (info) *info = FeatureCacheInfo{};
  if (k == 0) return fit(model, optimizer, loss, train, opt, callbacks);
  const auto t0 = std::chrono::steady_clock::now();
  const Model<D> prefix = layers_before(model, k);
  Model<D> head = layers_from(model, k);
  TensorDataset train_features = cache_features(prefix, train, opt.batch_size);
  std::optional<TensorDataset> val_features;
  FitOptions head_opt = opt;
  if (opt.validation) {
    val_features.emplace(cache_features(prefix, *opt.validation, opt.batch_size));
    head_opt.validation = &*val_features;
  }
  if (info) {
    info->frozen_layers = k;
    info->feature_shape = prefix.output_shape();
    info->samples = train.size() + (opt.validation ? opt.validation->size() : 0);
    info->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  History h = fit(head, optimizer, loss, train_features, head_opt, callbacks);
  for (size_t i = k; i < model.num_layers(); ++i)
    detail::copy_parameters(head.layer(i - k), model.layer(i));
  return h;
}

// Fine-tuning: makes the last `k` blocks of a pretrained backbone trainable, learning at
// lr_factor times the optimizer's rate (Parameter::lr_multiplier); the head keeps the full rate.
// The blocks are metadata()["backbone_blocks"] (lists of layer names, set by the zoo's pretrained
// models: MobileNetV1 has 14, the expression net 4). BatchNormalization layers stay frozen (on
// their moving statistics, as Keras' fine-tuning guide keeps them): only convolutions unfreeze.
// Returns the names of the layers made trainable.
template <class D>
std::vector<std::string> unfreeze_last_blocks(Model<D>& m, int k,
                                              double lr_factor = fine_tune_lr_factor) {
  const Value& meta = m.metadata();
  MOODNET_CHECK(meta.contains("backbone_blocks") && meta["backbone_blocks"].is_array(),
                "fine-tuning: model '", m.name(),
                "' has no pretrained backbone blocks (metadata backbone_blocks)");
  const auto blocks = meta["backbone_blocks"].get<std::vector<std::vector<std::string>>>();
  const int n = static_cast<int>(blocks.size());
  MOODNET_CHECK(k >= 0 && k <= n, "fine-tuning: model '", m.name(), "' has ", n,
                " backbone blocks, cannot unfreeze ", k);
  MOODNET_CHECK(lr_factor > 0, "fine-tuning: the learning-rate factor must be positive, got ",
                lr_factor);
  std::vector<std::string> unfrozen;
  for (int b = n - k; b < n; ++b)
    for (const std::string& name : blocks[static_cast<size_t>(b)]) {
      Layer<D>& l = m.layer(name);
      if (l.type() == "BatchNormalization") continue;
      bool learns = false;
      l.for_each_parameter([&](Parameter<D>& p) {
        learns = learns || p.trainable;
        p.lr_multiplier = lr_factor;
      });
      if (!learns) continue;  // ReLU6, Add, pooling: nothing to train
      l.set_trainable(true);
      unfrozen.push_back(name);
    }
  return unfrozen;
}

}  // namespace moodnet
