// moodnet::compiled: the Cpu instantiations of the convolution layers (Conv2D, DepthwiseConv2D,
// SeparableConv2D) and their kernels, compiled once here instead of in every translation unit of a
// program (see <moodnet/instantiations.hpp>).
#include <moodnet/moodnet.hpp>

namespace moodnet {
MOODNET_CONV_TEMPLATES(template, Cpu)
}  // namespace moodnet
