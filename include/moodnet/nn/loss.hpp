// Losses. Binary cross-entropy and categorical cross-entropy are computed from the logits of a
// sigmoid/softmax head whenever the model keeps them (numerically stable, and what Keras does
// internally), else from probabilities clipped to [1e-7, 1 - 1e-7] as Keras does.
#pragma once

#include <span>
#include <string>

#include "model.hpp"

namespace moodnet {

enum class LossKind { binary_crossentropy, categorical_crossentropy };

struct Loss {
  LossKind kind = LossKind::binary_crossentropy;
  bool from_logits = false;  // the model outputs logits (a linear head)

  static Loss binary_crossentropy(bool from_logits = false) {
    return {LossKind::binary_crossentropy, from_logits};
  }
  static Loss categorical_crossentropy(bool from_logits = false) {
    return {LossKind::categorical_crossentropy, from_logits};
  }
  std::string name() const {
    return kind == LossKind::binary_crossentropy ? "binary_crossentropy"
                                                 : "categorical_crossentropy";
  }
};

// Mean loss over the batch of the model's last forward(); writes the gradient to `grad` and says
// whether it is with respect to the head's pre-activation (to pass to Model::backward).
template <class D>
struct LossResult {
  double value = 0;
  bool grad_is_preactivation = false;
};

// `sample_weights` (optional, one per sample, e.g. from class weights) weighs each sample's loss
// as Keras' class_weight/sample_weight do: the value is sum(w_i * loss_i) / batch size (not
// divided by the sum of the weights), and each sample's gradient is scaled by its w_i.
template <class D>
LossResult<D> compute_loss(const Loss& loss, const Model<D>& model, const Tensor<D>& output,
                           const Tensor<D>& target, Tensor<D>* grad,
                           std::span<const float> sample_weights = {}) {
  using T = typename D::value_type;
  MOODNET_CHECK(output.shape() == target.shape(), "loss ", loss.name(), ": target shape ",
                target.shape().to_string(), " does not match the model output ",
                output.shape().to_string());
  const int64_t n = output.dim(0);
  const int64_t k = output.size() / std::max<int64_t>(n, 1);
  MOODNET_CHECK(sample_weights.empty() || static_cast<int64_t>(sample_weights.size()) == n, "loss ",
                loss.name(), ": ", sample_weights.size(), " sample weights for a batch of ", n);
  const bool binary = loss.kind == LossKind::binary_crossentropy;
  // The gradient of the mean the value reports: binary cross-entropy averages over samples AND
  // outputs (Keras), categorical cross-entropy over samples.
  const T scale = T(1.0 / double(binary ? output.size() : n));
  if (grad) grad->resize(output.shape());
  T* g = grad ? grad->data() : nullptr;
  LossResult<D> r;
  const Activation head = model.output_layer().activation();
  const Tensor<D>* logits = model.output_logits();
  // The scores the loss reads: logits when the model keeps them (fused, stable), else its output.
  const T* z = output.data();
  if (binary && !loss.from_logits && head == Activation::sigmoid && logits) {
    z = logits->data();
    r.grad_is_preactivation = true;
  }
  if (!binary && !loss.from_logits) {
    MOODNET_CHECK(head == Activation::softmax && logits,
                  "categorical_crossentropy needs a softmax head "
                  "(or from_logits=true); the output layer '",
                  model.output_layer().name(), "' has activation ", to_string(head));
    z = logits->data();
    r.grad_is_preactivation = true;
  }
  // rows samples from `first`, each weighed by w.
  auto sum_of_losses = [&](int64_t first, int64_t rows, T w) {
    const int64_t o = first * k;
    T* go = g ? g + o : nullptr;
    if (!binary) return ops<D>::softmax_cce(rows, k, z + o, target.data() + o, go, scale * w);
    if (loss.from_logits || r.grad_is_preactivation)
      return ops<D>::bce_from_logits(rows * k, z + o, target.data() + o, go, scale * w);
    return ops<D>::bce_from_probabilities(rows * k, z + o, target.data() + o, go, scale * w);
  };
  if (sample_weights.empty()) {
    r.value = sum_of_losses(0, n, T(1));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const T w = static_cast<T>(sample_weights[static_cast<size_t>(i)]);
      r.value += double(w) * sum_of_losses(i, 1, w);
    }
  }
  // Keras: binary cross-entropy is the mean over samples and outputs, categorical over samples.
  r.value /= double(binary ? output.size() : n);
  return r;
}

// Loss value of given probabilities/logits without a model (evaluation, tests).
template <class D>
double loss_value(const Loss& loss, const Tensor<D>& output, const Tensor<D>& target) {
  const int64_t n = output.dim(0);
  if (loss.kind == LossKind::binary_crossentropy)
    return (loss.from_logits
                ? ops<D>::bce_from_logits(output.size(), output.data(), target.data(), nullptr, 0)
                : ops<D>::bce_from_probabilities(output.size(), output.data(), target.data(),
                                                 nullptr, 0)) /
           double(output.size());
  MOODNET_CHECK(loss.from_logits,
                "categorical_crossentropy on probabilities: use from_logits or a model");
  return ops<D>::softmax_cce(n, output.size() / n, output.data(), target.data(), nullptr, 0) /
         double(n);
}

}  // namespace moodnet
