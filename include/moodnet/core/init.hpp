// Keras weight initialisers, drawn from the counter-based RNG so every weight is a pure function of
// (seed, stream, index).
#pragma once

#include <cmath>
#include <string>

#include "random.hpp"
#include "tensor.hpp"

namespace moodnet {

enum class Initializer { zeros, ones, glorot_uniform, he_normal, he_uniform };

inline const char* to_string(Initializer i) {
  switch (i) {
    case Initializer::zeros:
      return "zeros";
    case Initializer::ones:
      return "ones";
    case Initializer::glorot_uniform:
      return "glorot_uniform";
    case Initializer::he_normal:
      return "he_normal";
    case Initializer::he_uniform:
      return "he_uniform";
  }
  return "?";
}
inline Initializer initializer_from_string(const std::string& s) {
  for (Initializer i : {Initializer::zeros, Initializer::ones, Initializer::glorot_uniform,
                        Initializer::he_normal, Initializer::he_uniform})
    if (s == to_string(i)) return i;
  MOODNET_FAIL("unknown initializer '", s, "'");
}

// Keras' fan computation: the last two dims are (fan_in, fan_out) scaled by the receptive field.
struct Fans {
  double in = 1, out = 1;
};
inline Fans compute_fans(const Shape& s) {
  if (s.rank() < 1) return {};
  if (s.rank() == 1) return {double(s[0]), double(s[0])};
  double receptive = 1;
  for (int i = 0; i < s.rank() - 2; ++i) receptive *= double(s[i]);
  return {double(s[-2]) * receptive, double(s[-1]) * receptive};
}

template <class D>
void initialize(Tensor<D>& t, Initializer init, uint64_t seed,
                uint64_t stream) requires D::host_accessible {
  using T = typename D::value_type;
  const Fans fans = compute_fans(t.shape());
  const int64_t n = t.size();
  switch (init) {
    case Initializer::zeros:
      t.fill(T(0));
      return;
    case Initializer::ones:
      t.fill(T(1));
      return;
    case Initializer::glorot_uniform: {
      const double limit = std::sqrt(6.0 / (fans.in + fans.out));
      for (int64_t i = 0; i < n; ++i) t[i] = T((2 * random_uniform(seed, stream, i) - 1) * limit);
      return;
    }
    case Initializer::he_uniform: {
      const double limit = std::sqrt(6.0 / fans.in);
      for (int64_t i = 0; i < n; ++i) t[i] = T((2 * random_uniform(seed, stream, i) - 1) * limit);
      return;
    }
    case Initializer::he_normal: {
      // Keras: truncated normal with stddev sqrt(2/fan_in) / .87962566103423978.
      const double stddev = std::sqrt(2.0 / fans.in) / .87962566103423978;
      for (int64_t i = 0; i < n; ++i) t[i] = T(random_truncated_normal(seed, stream, i) * stddev);
      return;
    }
  }
}

}  // namespace moodnet
