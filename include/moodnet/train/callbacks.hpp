// Training callbacks: EarlyStopping and ReduceLROnPlateau with Keras semantics.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../nn/model.hpp"
#include "../optim/optimizers.hpp"

namespace moodnet {

using Logs = std::map<std::string, double>;

template <class D>
struct TrainingState {
  Model<D>& model;
  Optimizer<D>& optimizer;
  bool stop = false;  // set by a callback to end training after this epoch
};

template <class D>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(TrainingState<D>&) {}
  virtual void on_epoch_end(int /*epoch*/, const Logs&, TrainingState<D>&) {}
  virtual void on_train_end(TrainingState<D>&) {}
};

namespace detail {
// 'auto' mode as Keras: maximise metrics named *acc*/auc, minimise the rest.
inline bool monitor_maximises(const std::string& monitor, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  MOODNET_CHECK(mode == "auto", "callback mode must be auto, min or max, got '", mode, "'");
  return monitor.find("acc") != std::string::npos || monitor.find("auc") != std::string::npos;
}
inline double monitored(const Logs& logs, const std::string& monitor) {
  auto it = logs.find(monitor);
  MOODNET_CHECK(it != logs.end(), "callback monitors '", monitor,
                "', which training does not report (is there validation data?)");
  return it->second;
}
}  // namespace detail

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0;
  int patience = 0;
  std::string mode = "auto";
  bool restore_best_weights = false;
};

template <class D>
class EarlyStopping : public Callback<D> {
 public:
  explicit EarlyStopping(EarlyStoppingOptions o = {}) : o_(std::move(o)) {}
  void on_train_begin(TrainingState<D>&) override {
    maximise_ = detail::monitor_maximises(o_.monitor, o_.mode);
    best_ = maximise_ ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    wait_ = 0;
    stopped_epoch_ = -1;
    best_epoch_ = -1;
    best_weights_.reset();
  }
  void on_epoch_end(int epoch, const Logs& logs, TrainingState<D>& s) override {
    const double v = detail::monitored(logs, o_.monitor);
    const bool better = maximise_ ? v - o_.min_delta > best_ : v + o_.min_delta < best_;
    if (better || best_epoch_ < 0) {
      best_ = v;
      best_epoch_ = epoch;
      wait_ = 0;
      if (o_.restore_best_weights) best_weights_.emplace(s.model);
      return;
    }
    if (++wait_ >= o_.patience) {
      stopped_epoch_ = epoch;
      s.stop = true;
    }
  }
  // As Keras 3: with restore_best_weights the best epoch's weights come back at the end of
  // training, whether it stopped early or ran all its epochs.
  void on_train_end(TrainingState<D>& s) override {
    if (o_.restore_best_weights && best_weights_) copy_weights(*best_weights_, s.model);
  }
  int stopped_epoch() const { return stopped_epoch_; }
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  static void copy_weights(Model<D>& from, Model<D>& to) {
    auto a = from.parameters();
    auto b = to.parameters();
    for (size_t i = 0; i < a.size(); ++i) b[i]->value = a[i]->value;
  }
  EarlyStoppingOptions o_;
  bool maximise_ = false;
  double best_ = 0;
  int wait_ = 0, stopped_epoch_ = -1, best_epoch_ = -1;
  std::optional<Model<D>> best_weights_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0;
};

template <class D>
class ReduceLROnPlateau : public Callback<D> {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions o = {}) : o_(std::move(o)) {
    MOODNET_CHECK(o_.factor > 0 && o_.factor < 1,
                  "ReduceLROnPlateau: factor must be in (0, 1), got ", o_.factor);
  }
  void on_train_begin(TrainingState<D>&) override {
    maximise_ = detail::monitor_maximises(o_.monitor, o_.mode);
    best_ = maximise_ ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    wait_ = cooldown_left_ = 0;
  }
  void on_epoch_end(int, const Logs& logs, TrainingState<D>& s) override {
    const double v = detail::monitored(logs, o_.monitor);
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      wait_ = 0;
    }
    if (maximise_ ? v > best_ + o_.min_delta : v < best_ - o_.min_delta) {
      best_ = v;
      wait_ = 0;
    } else if (cooldown_left_ == 0 && ++wait_ >= o_.patience) {
      const double lr = s.optimizer.learning_rate();
      if (lr > o_.min_lr) {
        s.optimizer.set_learning_rate(std::max(lr * o_.factor, o_.min_lr));
        cooldown_left_ = o_.cooldown;
        wait_ = 0;
      }
    }
  }

 private:
  ReduceLROnPlateauOptions o_;
  bool maximise_ = false;
  double best_ = 0;
  int wait_ = 0, cooldown_left_ = 0;
};

}  // namespace moodnet
