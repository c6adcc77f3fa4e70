// The interface the training loop reads samples through, and an in-memory implementation.
#pragma once

#include <numeric>
#include <span>
#include <vector>

#include "../core/random.hpp"
#include "../core/tensor.hpp"

namespace moodnet {

// A finite, indexable set of (input, target) samples delivered as float32 host batches.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // per-sample input, e.g. (150, 150, 3)
  virtual Shape target_shape() const = 0;  // per-sample target: (1) binary, (K) one-hot
  // Fills x:(B, sample...) and y:(B, target...) with the samples at `indices`. `epoch` lets a
  // dataset vary augmentation deterministically per epoch.
  virtual void load_batch(std::span<const int64_t> indices, uint64_t epoch, Tensor<Cpu>& x,
                          Tensor<Cpu>& y) = 0;
};

// Samples already in memory: x:(N, ...) and y:(N, ...).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor<Cpu> x, Tensor<Cpu> y) : x_(std::move(x)), y_(std::move(y)) {
    MOODNET_CHECK(x_.rank() >= 2 && y_.rank() >= 2 && x_.dim(0) == y_.dim(0), "TensorDataset: x ",
                  x_.shape().to_string(), " and y ", y_.shape().to_string(),
                  " must have the same number of samples");
  }
  int64_t size() const override { return x_.dim(0); }
  Shape sample_shape() const override { return x_.shape().without_batch(); }
  Shape target_shape() const override { return y_.shape().without_batch(); }
  void load_batch(std::span<const int64_t> indices, uint64_t, Tensor<Cpu>& x,
                  Tensor<Cpu>& y) override {
    const auto b = static_cast<int64_t>(indices.size());
    const int64_t xs = sample_shape().num_elements(), ys = target_shape().num_elements();
    x.resize(sample_shape().with_batch(b));
    y.resize(target_shape().with_batch(b));
    for (int64_t i = 0; i < b; ++i) {
      const int64_t k = indices[static_cast<size_t>(i)];
      MOODNET_CHECK(k >= 0 && k < size(), "TensorDataset: sample index ", k, " out of range");
      std::copy(x_.data() + k * xs, x_.data() + (k + 1) * xs, x.data() + i * xs);
      std::copy(y_.data() + k * ys, y_.data() + (k + 1) * ys, y.data() + i * ys);
    }
  }
  const Tensor<Cpu>& x() const { return x_; }
  const Tensor<Cpu>& y() const { return y_; }

 private:
  Tensor<Cpu> x_, y_;
};

// A permutation of 0..n-1 that depends only on (seed, epoch): Fisher-Yates on counter draws.
inline std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<int64_t>(random_bits(seed, stream_id(0x5f, epoch), static_cast<uint64_t>(i)) %
                             static_cast<uint64_t>(i + 1));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  return idx;
}

}  // namespace moodnet
