// moodnet::compiled: the Cpu instantiations of the other layers, compiled once here instead of in
// every translation unit of a program (see <moodnet/instantiations.hpp>).
#include <moodnet/moodnet.hpp>

namespace moodnet {
MOODNET_LAYER_TEMPLATES(template, Cpu)
}  // namespace moodnet
