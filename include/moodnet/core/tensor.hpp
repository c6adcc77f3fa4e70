// Tensor<D>: an owning, contiguous, 64-byte aligned NHWC array on device D. resize() keeps its
// capacity so layers can reuse their buffers batch after batch without allocating.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "device.hpp"
#include "shape.hpp"

namespace moodnet {

template <class D>
class Tensor {
 public:
  using device_type = D;
  using value_type = typename D::value_type;
  using T = value_type;

  Tensor() = default;
  explicit Tensor(const Shape& shape) { resize(shape); }
  Tensor(const Shape& shape, T fill_value) {
    resize(shape);
    fill(fill_value);
  }
  Tensor(const Shape& shape, const std::vector<T>& values) {
    MOODNET_CHECK(static_cast<int64_t>(values.size()) == shape.num_elements(),
                  "Tensor: ", values.size(), " values given for shape ", shape.to_string());
    resize(shape);
    std::copy(values.begin(), values.end(), data_);
  }

  Tensor(const Tensor& other) { *this = other; }
  Tensor(Tensor&& other) noexcept { swap(other); }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) {
      resize(other.shape_);
      memory<D>::copy(data_, other.data_, static_cast<size_t>(size()));
    }
    return *this;
  }
  Tensor& operator=(Tensor&& other) noexcept {
    swap(other);
    return *this;
  }
  ~Tensor() { memory<D>::deallocate(data_); }

  void swap(Tensor& other) noexcept {
    std::swap(shape_, other.shape_);
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
  }

  // Sets the shape; reallocates only when the new size exceeds the capacity. Contents are
  // unspecified afterwards.
  void resize(const Shape& shape) {
    auto n = static_cast<size_t>(shape.num_elements());
    if (n > capacity_) {
      memory<D>::deallocate(data_);
      data_ = nullptr;
      capacity_ = 0;
      data_ = memory<D>::allocate(n);
      capacity_ = n;
    }
    shape_ = shape;
  }
  // Same elements, new shape (Flatten, batch views).
  void reshape(const Shape& shape) {
    MOODNET_CHECK(shape.num_elements() == size(), "Tensor::reshape: ", shape_.to_string(),
                  " cannot become ", shape.to_string());
    shape_ = shape;
  }

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return shape_.rank(); }
  int64_t size() const { return shape_.num_elements(); }
  bool empty() const { return size() == 0; }
  size_t capacity() const { return capacity_; }

  T* data() { return data_; }
  const T* data() const { return data_; }

  // Element access for host devices (tests, I/O, small glue code).
  T& operator[](int64_t i) requires D::host_accessible { return data_[i]; }
  const T& operator[](int64_t i) const requires D::host_accessible { return data_[i]; }
  T* begin() requires D::host_accessible { return data_; }
  T* end() requires D::host_accessible { return data_ + size(); }
  const T* begin() const requires D::host_accessible { return data_; }
  const T* end() const requires D::host_accessible { return data_ + size(); }

  void fill(T v) requires D::host_accessible { std::fill(data_, data_ + size(), v); }
  void zero() { fill(T(0)); }

  std::vector<T> to_vector() const requires D::host_accessible { return {data_, data_ + size()}; }

 private:
  Shape shape_ = Shape{0};  // empty until resized (a rank-0 shape would hold one element)
  T* data_ = nullptr;
  size_t capacity_ = 0;
};

// Explicit copy between devices (and scalar types): the only way data crosses a device boundary.
template <class To, class From>
Tensor<To> to(const Tensor<From>& src) requires(To::host_accessible&& From::host_accessible) {
  Tensor<To> dst(src.shape());
  using T = typename To::value_type;
  const auto* s = src.data();
  auto* d = dst.data();
  for (int64_t i = 0; i < src.size(); ++i) d[i] = static_cast<T>(s[i]);
  return dst;
}

namespace detail {
// out = x mirrored left-right (tf.image.flip_left_right); test-time augmentation uses it.
// x, out:(N, H, W, C)
inline void flip_left_right(const Tensor<Cpu>& x, Tensor<Cpu>& out) {
  MOODNET_CHECK(x.rank() == 4, "flip_left_right: expects (N, H, W, C), got ",
                x.shape().to_string());
  out.resize(x.shape());
  const int64_t rows = x.dim(0) * x.dim(1), w = x.dim(2), c = x.dim(3);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < w; ++j)
      std::copy_n(x.data() + (r * w + j) * c, c, out.data() + (r * w + (w - 1 - j)) * c);
}
}  // namespace detail

}  // namespace moodnet
