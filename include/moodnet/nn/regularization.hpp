// Regularisation applied to a model after it is built (e.g. `moodnet train --l2 X` on a zoo
// architecture).
#pragma once

#include <cmath>

#include "conv.hpp"
#include "dense.hpp"
#include "model.hpp"

namespace moodnet {

// Keras' kernel_regularizer=l2(l2) on every Conv2D and Dense kernel of the model: the fit loop then
// adds l2 * sum(w^2) to the loss and the optimizer 2 * l2 * w to the gradient. Replaces any L2
// the kernels had (0 removes it); biases, BatchNorm and the depthwise/pointwise kernels of
// (Depthwise/Separable) convolutions are left as they are. Saved with the model (layer configs).
// Returns the number of kernels changed.
template <class D>
int set_kernel_l2(Model<D>& model, double l2) {
  MOODNET_CHECK(std::isfinite(l2) && l2 >= 0, "set_kernel_l2: l2 must be >= 0, got ", l2);
  int changed = 0;
  for (size_t i = 0; i < model.num_layers(); ++i) {
    Layer<D>& layer = model.layer(i);
    if (auto* conv = dynamic_cast<Conv2D<D>*>(&layer)) {
      conv->set_l2(l2);
      ++changed;
    } else if (auto* dense = dynamic_cast<Dense<D>*>(&layer)) {
      dense->set_l2(l2);
      ++changed;
    }
  }
  return changed;
}

}  // namespace moodnet
