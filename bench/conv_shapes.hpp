// The convolution shapes the benchmarks and the oneDNN comparison time (N = 32, 3x3, stride 1,
// except the 1x1 pointwise one; the fer* shapes are fer-cnn's six convolutions at its batch of
// 64), and deterministic test data for them.
#pragma once

#include <cstdint>
#include <moodnet/kernels/contract.hpp>
#include <new>
#include <string>
#include <vector>

namespace moodnet::bench {

// 64-byte aligned storage, as moodnet's tensors (core/device.hpp) and oneDNN's own buffers have.
// A plain std::vector<float> of this size comes from mmap at 16 bytes past a page, so every
// 64-byte vector access splits two cache lines: on an Intel core (Emerald Rapids, 2026-11-30)
// that cost the depthwise kernels a third of their speed, a cost no user tensor pays.
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const Aligned64<U>&) const {
    return true;
  }
};
using Buffer = std::vector<float, Aligned64<float>>;

struct ConvShape {
  std::string name;
  int64_t h, w, c, f, k;
  Padding padding;
  bool depthwise = false;
  int64_t batch = 32;

  ConvGeometry geometry() const {
    return ConvGeometry::make(batch, h, w, c, k, k, 1, 1, depthwise ? c : f, padding);
  }
  // 2·N·OH·OW·F·C·KH·KW (depthwise: 2·N·OH·OW·C·KH·KW).
  double flops() const {
    const ConvGeometry g = geometry();
    return 2.0 * double(g.n * g.oh * g.ow) * double(depthwise ? g.c : g.f * g.c) *
           double(g.kh * g.kw);
  }
};

inline const std::vector<ConvShape>& conv_shapes() {
  static const std::vector<ConvShape> shapes{
      {"a", 256, 256, 3, 16, 3, Padding::valid},
      {"b", 127, 127, 16, 32, 3, Padding::valid},
      {"c", 62, 62, 32, 64, 3, Padding::valid},
      {"d", 150, 150, 3, 16, 3, Padding::same},
      {"e", 75, 75, 16, 64, 3, Padding::same},
      {"f_pw", 28, 28, 64, 128, 1, Padding::valid},
      {"f_dw", 28, 28, 64, 64, 3, Padding::same, true},
      {"fer1", 48, 48, 1, 32, 3, Padding::same, false, 64},
      {"fer2", 48, 48, 32, 32, 3, Padding::same, false, 64},
      {"fer3", 24, 24, 32, 64, 3, Padding::same, false, 64},
      {"fer4", 24, 24, 64, 64, 3, Padding::same, false, 64},
      {"fer5", 12, 12, 64, 128, 3, Padding::same, false, 64},
      {"fer6", 12, 12, 128, 128, 3, Padding::same, false, 64}};
  return shapes;
}

// Uniform values in [-1, 1) from a small LCG: the same data in every run.
inline Buffer bench_data(int64_t n, uint32_t seed) {
  Buffer v(static_cast<size_t>(n));
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 8388608.0f - 1.0f;
  }
  return v;
}

}  // namespace moodnet::bench
