// moodnet::compiled: the Cpu instantiations of the models and the zoo, compiled once
// here instead of in every translation unit of a program (see <moodnet/instantiations.hpp>).
#include <moodnet/moodnet.hpp>

namespace moodnet {
MOODNET_MODEL_TEMPLATES(template, Cpu)
}  // namespace moodnet
