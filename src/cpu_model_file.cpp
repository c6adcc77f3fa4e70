// moodnet::compiled: the Cpu instantiations of the model files (JSON architecture and tensors),
// compiled once here instead of in every translation unit of a program (see
// <moodnet/instantiations.hpp>).
#include <moodnet/moodnet.hpp>

namespace moodnet {
MOODNET_MODEL_FILE_TEMPLATES(template, Cpu)
}  // namespace moodnet
