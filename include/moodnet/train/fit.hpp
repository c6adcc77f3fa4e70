// fit(), evaluate() and predict over Datasets, with Keras' reporting: the training loss is the
// batch-size-weighted mean of (data loss + L2 penalties) over the epoch; accuracy thresholds a
// sigmoid output at 0.5 (a logit at 0) or takes the argmax of a softmax.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../kernels/cpu/denormals.hpp"
#include "../nn/loss.hpp"
#if __has_include(<unistd.h>)
#include <unistd.h>
#endif
#include "callbacks.hpp"
#include "dataset.hpp"
#include "metrics.hpp"
#include "prefetch.hpp"

namespace moodnet {

struct History {
  std::vector<std::string> keys;                      // in first-seen order
  std::map<std::string, std::vector<double>> values;  // key -> one value per epoch
  void append(const Logs& logs) {
    for (const auto& [k, v] : logs) {
      if (!values.count(k)) keys.push_back(k);
      values[k].push_back(v);
    }
  }
  int epochs() const {
    return values.empty() ? 0 : static_cast<int>(values.begin()->second.size());
  }
  const std::vector<double>& operator[](const std::string& k) const {
    auto it = values.find(k);
    MOODNET_CHECK(it != values.end(), "history has no '", k, "'");
    return it->second;
  }
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;              // shuffling and dropout
  Dataset* validation = nullptr;  // evaluated after every epoch (val_loss, val_accuracy)
  // 0: silent; 1: a live progress bar while an epoch runs when `log` is a terminal, and one
  // line per epoch; 2: only the line per epoch.
  int verbose = 1;
  std::ostream* log = &std::cout;
  const std::atomic<bool>* stop_requested = nullptr;  // e.g. set by a SIGINT handler
  // Called after every batch with (batch index, batches per epoch, running logs).
  std::function<void(int, int64_t, int64_t, const Logs&)> on_batch{};
  // Load the next training batch on a background thread while this one trains
  // (BatchPrefetcher); the result is bitwise the same either way. Off by default: on the 2-core
  // build machine training keeps both cores busy and prefetching cost ~5 % (docs/PERFORMANCE.md);
  // it pays when loading waits on disk or network, or cores are left idle. Workers: its OpenMP
  // threads, 0 = as many as training uses.
  bool prefetch = false;
  int prefetch_workers = 0;
  // Keras' class_weight: the loss of a sample of class c counts class_weight[c] times (e.g. from
  // balanced_class_weights() for a folder with far fewer images of one class). Empty: all 1.
  // Training loss only; validation loss and accuracy stay unweighted, as in Keras.
  std::vector<double> class_weight{};
};

// scikit-learn's compute_class_weight("balanced"): n_samples / (n_classes * count of the class),
// so that every class weighs as much in the loss as the others. labels: one class index per
// training sample, 0 <= label < num_classes; a class without samples gets weight 1 (no effect).
inline std::vector<double> balanced_class_weights(std::span<const int> labels, int num_classes) {
  MOODNET_CHECK(num_classes > 0, "balanced_class_weights: num_classes must be positive, got ",
                num_classes);
  std::vector<int64_t> count(static_cast<size_t>(num_classes), 0);
  for (const int l : labels) {
    MOODNET_CHECK(l >= 0 && l < num_classes, "balanced_class_weights: label ", l,
                  " out of range for ", num_classes, " classes");
    ++count[static_cast<size_t>(l)];
  }
  std::vector<double> w(count.size(), 1.0);
  for (size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0) w[c] = double(labels.size()) / (double(num_classes) * double(count[c]));
  return w;
}

struct Evaluation {
  double loss = 0, accuracy = 0;
  int64_t n = 0;
};

namespace detail {

inline bool is_terminal(const std::ostream* os) {
#if __has_include(<unistd.h>)
  return os == &std::cout && ::isatty(STDOUT_FILENO) == 1;
#else
  return false;
#endif
}

// Keras-style live line: " 12/17 [=========>.......] ETA 2s - 245 img/s - loss: ... "
// redrawn in place at most ~10 times a second.
class ProgressBar {
 public:
  ProgressBar(std::ostream& os, int64_t batches) : os_(os), batches_(batches) {}
  void update(int64_t batch, int64_t seen, double loss, double accuracy) {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    if (batch + 1 < batches_ && elapsed - last_draw_ < 0.1) return;
    last_draw_ = elapsed;
    constexpr int width = 24;
    const double done = double(batch + 1) / double(batches_);
    const int filled = static_cast<int>(done * width);
    char bar[width + 1];
    for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : i == filled ? '>' : '.';
    bar[width] = '\0';
    const double eta = done > 0 ? elapsed * (1 - done) / done : 0;
    char line[200];
    std::snprintf(line, sizeof line,
                  "\r%5lld/%lld [%s] ETA %3.0fs - %.0f img/s - loss: %.4f - accuracy: %.4f ",
                  static_cast<long long>(batch + 1), static_cast<long long>(batches_), bar, eta,
                  elapsed > 0 ? double(seen) / elapsed : 0.0, loss, accuracy);
    os_ << line << std::flush;
  }
  void clear() { os_ << "\r" << std::string(100, ' ') << "\r"; }

 private:
  std::ostream& os_;
  int64_t batches_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_draw_ = -1;
};

struct NoDenormalFlush {};

template <class D>
const Tensor<D>& on_device(const Tensor<Cpu>& host, Tensor<D>& staging) {
  if constexpr (std::is_same_v<D, Cpu>) {
    (void)staging;
    return host;
  } else {
    staging = to<D>(host);
    return staging;
  }
}

// Number of correct predictions in a batch. out, target:(B, K)
template <class D>
int64_t count_correct(const Tensor<D>& out, const Tensor<D>& target, bool logits) {
  const int64_t b = out.dim(0), k = out.size() / std::max<int64_t>(b, 1);
  int64_t correct = 0;
  for (int64_t i = 0; i < b; ++i) {
    if (k == 1) {
      const bool pred = logits ? out[i] >= 0 : out[i] >= 0.5;
      correct += pred == (target[i] >= 0.5);
    } else {
      int64_t am = 0, at = 0;
      for (int64_t j = 1; j < k; ++j) {
        if (out[i * k + j] > out[i * k + am]) am = j;
        if (target[i * k + j] > target[i * k + at]) at = j;
      }
      correct += am == at;
    }
  }
  return correct;
}

// One weight per sample of a host batch of targets y:(B, K) (one-unit: class = y >= 0.5; else
// the argmax), looked up in class_weight.
inline void class_sample_weights(const Tensor<Cpu>& y, const std::vector<double>& class_weight,
                                 std::vector<float>& w) {
  const int64_t b = y.dim(0), k = y.size() / std::max<int64_t>(b, 1);
  w.resize(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    int64_t c = 0;
    if (k == 1) {
      c = y[i] >= 0.5f ? 1 : 0;
    } else {
      for (int64_t j = 1; j < k; ++j)
        if (y[i * k + j] > y[i * k + c]) c = j;
    }
    MOODNET_CHECK(c < static_cast<int64_t>(class_weight.size()), "fit: class_weight has ",
                  class_weight.size(), " entries, but a target is of class ", c);
    w[static_cast<size_t>(i)] = static_cast<float>(class_weight[static_cast<size_t>(c)]);
  }
}

template <class D>
double l2_penalty(Model<D>& model) {
  double s = 0;
  model.for_each_parameter([&](const Parameter<D>& p) {
    if (p.l2 > 0) s += p.l2 * ops<D>::sum_squares(p.value.size(), p.value.data());
  });
  return s;
}
}  // namespace detail

template <class D>
Evaluation evaluate(const Model<D>& model, const Loss& loss, Dataset& data,
                    int64_t batch_size = 32) {
  MOODNET_CHECK(data.size() > 0, "evaluate: empty dataset");
  Evaluation e;
  Tensor<Cpu> xh, yh;
  Tensor<D> xs, ys;
  std::vector<int64_t> idx;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b0 = 0; b0 < data.size(); b0 += batch_size) {
    idx.clear();
    for (int64_t i = b0; i < std::min(data.size(), b0 + batch_size); ++i) idx.push_back(i);
    data.load_batch(idx, 0, xh, yh);
    const Tensor<D>& x = detail::on_device<D>(xh, xs);
    const Tensor<D>& y = detail::on_device<D>(yh, ys);
    Tensor<D> out = model.predict(x, batch_size);
    loss_sum += loss_value(loss, out, y) * double(idx.size());
    correct += detail::count_correct(out, y, loss.from_logits);
  }
  e.n = data.size();
  e.loss = loss_sum / double(e.n);
  e.accuracy = double(correct) / double(e.n);
  return e;
}

template <class D>
History fit(Model<D>& model, Optimizer<D>& optimizer, const Loss& loss, Dataset& train,
            const FitOptions& opt, const std::vector<Callback<D>*>& callbacks = {}) {
  MOODNET_CHECK(train.size() > 0, "fit: the training set is empty");
  MOODNET_CHECK(opt.batch_size > 0, "fit: batch_size must be positive, got ", opt.batch_size);
  MOODNET_CHECK(opt.epochs >= 0, "fit: epochs must be >= 0, got ", opt.epochs);
  MOODNET_CHECK(train.sample_shape() == model.input_shape(), "fit: samples of shape ",
                train.sample_shape().to_string(), " do not fit the model input ",
                model.input_shape().to_string());
  MOODNET_CHECK(train.target_shape() == model.output_shape(), "fit: targets of shape ",
                train.target_shape().to_string(), " do not fit the model output ",
                model.output_shape().to_string());
  for (size_t c = 0; c < opt.class_weight.size(); ++c)
    MOODNET_CHECK(std::isfinite(opt.class_weight[c]) && opt.class_weight[c] >= 0,
                  "fit: class_weight[", c, "] must be a finite number >= 0, got ",
                  opt.class_weight[c]);
  if (!opt.class_weight.empty()) {
    const int64_t k = model.output_shape().num_elements();
    const size_t classes = static_cast<size_t>(k == 1 ? 2 : k);
    MOODNET_CHECK(opt.class_weight.size() == classes, "fit: class_weight has ",
                  opt.class_weight.size(), " entries for a model with ", classes, " classes");
  }
  // Denormals flush to zero for the whole fit on the Cpu device (kernels/cpu/denormals.hpp).
  [[maybe_unused]] std::conditional_t<std::is_same_v<D, Cpu>, cpu::ScopedFlushDenormals,
                                      detail::NoDenormalFlush>
      flush_denormals;
  History history;
  TrainingState<D> state{model, optimizer};
  for (auto* cb : callbacks) cb->on_train_begin(state);
  auto params = model.trainable_parameters();
  model.zero_grad();
  Tensor<Cpu> xh, yh;
  Tensor<D> xs, ys, grad;
  std::vector<float> sample_weights;
  if (!opt.class_weight.empty()) sample_weights.reserve(static_cast<size_t>(opt.batch_size));
  const int64_t n = train.size();
  const int64_t batches = (n + opt.batch_size - 1) / opt.batch_size;
  uint64_t step = static_cast<uint64_t>(optimizer.iterations());
  for (int epoch = 0; epoch < opt.epochs && !state.stop; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order;
    if (opt.shuffle) {
      order = shuffled_indices(n, opt.seed, static_cast<uint64_t>(epoch));
    } else {
      order.resize(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
    }
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    bool interrupted = false;
    std::optional<detail::ProgressBar> bar;
    if (opt.verbose == 1 && opt.log && detail::is_terminal(opt.log)) bar.emplace(*opt.log, batches);
    std::optional<BatchPrefetcher> prefetcher;
    if (opt.prefetch)
      prefetcher.emplace(train, std::span<const int64_t>(order), opt.batch_size,
                         static_cast<uint64_t>(epoch), opt.prefetch_workers,
                         std::is_same_v<D, Cpu>);
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t b0 = b * opt.batch_size, b1 = std::min(n, b0 + opt.batch_size);
      if (prefetcher) {
        prefetcher->next(xh, yh);
      } else {
        std::span<const int64_t> idx(order.data() + b0, static_cast<size_t>(b1 - b0));
        train.load_batch(idx, static_cast<uint64_t>(epoch), xh, yh);
      }
      const Tensor<D>& x = detail::on_device<D>(xh, xs);
      const Tensor<D>& y = detail::on_device<D>(yh, ys);
      const Tensor<D>& out = model.forward(x, TrainStep{opt.seed, step++});
      if (!opt.class_weight.empty())
        detail::class_sample_weights(yh, opt.class_weight, sample_weights);
      const LossResult<D> r = compute_loss(loss, model, out, y, &grad, sample_weights);
      model.backward(grad, r.grad_is_preactivation);
      const double penalty = detail::l2_penalty(model);  // before the update, as Keras reports it
      optimizer.step(params);
      loss_sum += (r.value + penalty) * double(b1 - b0);
      correct += detail::count_correct(out, y, loss.from_logits);
      seen += b1 - b0;
      if (bar) bar->update(b, seen, loss_sum / double(seen), double(correct) / double(seen));
      if (opt.on_batch)
        opt.on_batch(
            epoch, b, batches,
            Logs{{"loss", loss_sum / double(seen)}, {"accuracy", double(correct) / double(seen)}});
      if (opt.stop_requested && opt.stop_requested->load()) {
        interrupted = true;
        break;
      }
    }
    prefetcher.reset();  // joined before anything else touches the datasets
    Logs logs{{"loss", loss_sum / double(seen)}, {"accuracy", double(correct) / double(seen)}};
    if (opt.validation && !interrupted) {
      const Evaluation v = evaluate(model, loss, *opt.validation, opt.batch_size);
      logs["val_loss"] = v.loss;
      logs["val_accuracy"] = v.accuracy;
    }
    logs["lr"] = optimizer.learning_rate();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    logs["seconds"] = secs;
    history.append(logs);
    if (bar) bar->clear();
    if (opt.verbose && opt.log) {
      char line[256];
      std::snprintf(line, sizeof line, "Epoch %d/%d - %.2fs - loss: %.4f - accuracy: %.4f",
                    epoch + 1, opt.epochs, secs, logs["loss"], logs["accuracy"]);
      *opt.log << line;
      if (logs.count("val_loss")) {
        std::snprintf(line, sizeof line, " - val_loss: %.4f - val_accuracy: %.4f", logs["val_loss"],
                      logs["val_accuracy"]);
        *opt.log << line;
      }
      *opt.log << std::endl;
    }
    if (interrupted) {
      state.stop = true;
      break;
    }
    for (auto* cb : callbacks) cb->on_epoch_end(epoch, logs, state);
  }
  for (auto* cb : callbacks) cb->on_train_end(state);
  return history;
}

// A classifier's per-sample results over a dataset: true and predicted class, and a score (the
// sigmoid output, i.e. the probability of class 1, for one-unit heads; the predicted class's
// softmax probability otherwise). A one-unit head predicts class 1 at score >= threshold.
struct ClassifierPredictions {
  std::vector<int> truth, predicted;
  std::vector<double> scores;
};

// With hflip_average, each image's output is the mean of the model's outputs on the image and on
// its mirror image (test-time augmentation; class probabilities averaged), for models trained with
// horizontal flips or on data where left and right mean the same.
template <class D>
ClassifierPredictions predict_classes(const Model<D>& model, Dataset& data, int64_t batch_size = 64,
                                      double threshold = 0.5, bool hflip_average = false) {
  MOODNET_CHECK(batch_size > 0, "predict_classes: batch_size must be positive");
  // A model saved for K classes read against a folder of another number of classes would
  // compare its K outputs with targets of another width.
  MOODNET_CHECK(data.target_shape() == model.output_shape(), "the model's output has shape ",
                model.output_shape().to_string(), " but the data's targets have shape ",
                data.target_shape().to_string(),
                " (one unit for 2 classes, else one per class): use a folder with the "
                "model's classes (--classes)");
  ClassifierPredictions r;
  Tensor<Cpu> xh, yh, out_host, flipped, out_flipped;
  Tensor<D> xs, out;
  std::vector<int64_t> idx;
  for (int64_t b0 = 0; b0 < data.size(); b0 += batch_size) {
    idx.clear();
    for (int64_t i = b0; i < std::min(data.size(), b0 + batch_size); ++i) idx.push_back(i);
    data.load_batch(idx, 0, xh, yh);
    model.predict(detail::on_device<D>(xh, xs), out, batch_size);
    const Tensor<Cpu>* o = &out_host;
    if constexpr (std::is_same_v<D, Cpu>)
      o = &out;
    else
      out_host = to<Cpu>(out);
    if (hflip_average) {
      if (o != &out_host) out_host = *o;  // the mirror's predict overwrites `out`
      detail::flip_left_right(xh, flipped);
      model.predict(detail::on_device<D>(flipped, xs), out, batch_size);
      const float* mirrored = nullptr;
      if constexpr (std::is_same_v<D, Cpu>) {
        mirrored = out.data();
      } else {
        out_flipped = to<Cpu>(out);
        mirrored = out_flipped.data();
      }
      for (int64_t i = 0; i < out_host.size(); ++i)
        out_host[i] = 0.5f * (out_host[i] + mirrored[i]);
      o = &out_host;
    }
    const int64_t k = o->size() / o->dim(0);
    for (size_t i = 0; i < idx.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      const float* p = o->data() + row * k;
      const float* t = yh.data() + row * k;
      if (k == 1) {
        r.scores.push_back(p[0]);
        r.predicted.push_back(p[0] >= threshold ? 1 : 0);
        r.truth.push_back(t[0] >= 0.5f ? 1 : 0);
        continue;
      }
      int64_t am = 0, at = 0;
      for (int64_t j = 1; j < k; ++j) {
        if (p[j] > p[am]) am = j;
        if (t[j] > t[at]) at = j;
      }
      r.scores.push_back(p[am]);
      r.predicted.push_back(static_cast<int>(am));
      r.truth.push_back(static_cast<int>(at));
    }
  }
  return r;
}

// The scikit-learn style report of a classifier on a dataset, with the ROC AUC of two-class
// sigmoid heads (0.5 when undefined or for more classes).
struct ClassifierEvaluation {
  ClassificationReport report;
  double auc = 0.5;
  ClassifierPredictions predictions;
};

template <class D>
ClassifierEvaluation evaluate_classifier(const Model<D>& model, Dataset& data,
                                         const std::vector<std::string>& class_names,
                                         int64_t batch_size = 64, bool hflip_average = false) {
  MOODNET_CHECK(data.size() > 0, "evaluate_classifier: empty dataset");
  ClassifierEvaluation e;
  e.predictions = predict_classes(model, data, batch_size, 0.5, hflip_average);
  e.report = classification_report(e.predictions.truth, e.predictions.predicted, class_names);
  if (model.output_shape()[0] == 1) e.auc = roc_auc(e.predictions.scores, e.predictions.truth);
  return e;
}

}  // namespace moodnet
