// moodnet::compiled: the Cpu instantiations of the losses, optimizers, callbacks, fit loop and
// classification helpers, compiled once here instead of in every translation unit of a program (see
// <moodnet/instantiations.hpp>).
#include <moodnet/moodnet.hpp>

namespace moodnet {
MOODNET_TRAIN_TEMPLATES(template, Cpu)
}  // namespace moodnet
