// Architectures by name for the CLI, pretrained ones included: the only file that reads TF.js
// weights (<moodnet/zoo_pretrained.hpp>), so the others compile without the importer.
#include <moodnet/zoo_pretrained.hpp>

#include "common.hpp"

namespace moodnet::cli {

Model<Cpu> build_architecture(const std::string& arch, uint64_t seed, std::optional<Shape> input) {
  return zoo::build_pretrained<Cpu>(arch, seed, input);
}

}  // namespace moodnet::cli
