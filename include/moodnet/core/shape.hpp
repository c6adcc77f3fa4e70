// Shape (up to 6 dims, NHWC by convention) and the Keras padding arithmetic shared by every
// layer, kernel and test.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "../config.hpp"

namespace moodnet {

class Shape {
 public:
  static constexpr int max_rank = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    MOODNET_CHECK(dims.size() <= max_rank, "Shape: rank ", dims.size(), " exceeds ", max_rank);
    for (int64_t d : dims) push_back(d);
  }
  explicit Shape(const std::vector<int64_t>& dims) {
    MOODNET_CHECK(dims.size() <= max_rank, "Shape: rank ", dims.size(), " exceeds ", max_rank);
    for (int64_t d : dims) push_back(d);
  }

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i < 0 ? rank_ + i : i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i < 0 ? rank_ + i : i)]; }
  void push_back(int64_t d) {
    MOODNET_CHECK(rank_ < max_rank, "Shape: rank exceeds ", max_rank);
    MOODNET_CHECK(d >= 0, "Shape: negative dimension ", d);
    dims_[static_cast<size_t>(rank_++)] = d;
  }

  int64_t num_elements() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i)  // a crafted model file must not make this overflow
      MOODNET_CHECK(!__builtin_mul_overflow(n, dims_[static_cast<size_t>(i)], &n), "Shape ",
                    to_string(), " has more elements than fit in 64 bits");
    return n;
  }
  std::vector<int64_t> dims() const { return {dims_.begin(), dims_.begin() + rank_}; }

  // The shape with a leading batch dimension added / removed.
  Shape with_batch(int64_t n) const {
    Shape s{n};
    for (int i = 0; i < rank_; ++i) s.push_back((*this)[i]);
    return s;
  }
  Shape without_batch() const {
    Shape s;
    for (int i = 1; i < rank_; ++i) s.push_back((*this)[i]);
    return s;
  }

  // "(148, 148, 32)"; with_none prefixes Keras' "None" batch dimension.
  std::string to_string(bool with_none = false) const {
    std::string s = "(";
    if (with_none) s += rank_ ? "None, " : "None";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string((*this)[i]);
    if (!with_none && rank_ == 1) s += ",";
    return s + ")";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }

 private:
  std::array<int64_t, max_rank> dims_{};
  int rank_ = 0;
};

enum class Padding { valid, same };

inline const char* to_string(Padding p) { return p == Padding::same ? "same" : "valid"; }
inline Padding padding_from_string(const std::string& s) {
  if (s == "same") return Padding::same;
  if (s == "valid") return Padding::valid;
  MOODNET_FAIL("unknown padding '", s, "' (expected 'valid' or 'same')");
}

// One spatial axis of a sliding window, exactly as Keras/TensorFlow compute it:
// 'valid' -> out = floor((in - k) / stride) + 1, no padding;
// 'same'  -> out = ceil(in / stride), total pad = max((out-1)*stride + k - in, 0), and the odd
//            pad element goes after (bottom/right).
struct Window1D {
  int64_t out = 0;
  int64_t pad_before = 0;
  int64_t pad_after = 0;
};

inline Window1D window_1d(int64_t in, int64_t kernel, int64_t stride, Padding padding) {
  MOODNET_CHECK(kernel > 0 && stride > 0, "window: kernel ", kernel, " and stride ", stride,
                " must be positive");
  Window1D w;
  if (padding == Padding::valid) {
    MOODNET_CHECK(in >= kernel, "window: input size ", in, " is smaller than the kernel ", kernel,
                  " with 'valid' padding");
    w.out = (in - kernel) / stride + 1;
  } else {
    MOODNET_CHECK(in > 0, "window: empty input");
    w.out = (in + stride - 1) / stride;
    int64_t total = (w.out - 1) * stride + kernel - in;
    if (total < 0) total = 0;
    w.pad_before = total / 2;
    w.pad_after = total - w.pad_before;
  }
  return w;
}

}  // namespace moodnet
