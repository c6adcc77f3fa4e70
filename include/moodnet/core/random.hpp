// Counter-based random numbers: every draw is a pure function of (seed, stream, index), so
// initialisation, dropout masks and augmentation are identical for any thread count and order.
#pragma once

#include <cmath>
#include <cstdint>

namespace moodnet {

// SplitMix64 finaliser: a bijective 64-bit mix with full avalanche.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr uint64_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(mix64(seed) ^ (stream * 0xd1b54a32d192ed03ULL)) ^ index);
}

// Uniform in [0, 1) with 53 random bits.
constexpr double random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<double>(random_bits(seed, stream, index) >> 11) * 0x1.0p-53;
}

// Standard normal (Box-Muller on two counter draws).
inline double random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  double u1 = random_uniform(seed, stream, 2 * index);
  double u2 = random_uniform(seed, stream, 2 * index + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Normal truncated to +-2 standard deviations by redrawing (as TensorFlow's truncated_normal).
inline double random_truncated_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  for (uint64_t attempt = 0;; ++attempt) {
    double v = random_normal(seed, stream ^ (attempt * 0x9e3779b97f4a7c15ULL), index);
    if (std::fabs(v) <= 2.0) return v;
  }
}

// A stream id derived from a name-like pair, so unrelated users of one seed never collide.
constexpr uint64_t stream_id(uint64_t a, uint64_t b = 0) {
  return mix64(a * 0x100000001b3ULL ^ mix64(b));
}

}  // namespace moodnet
