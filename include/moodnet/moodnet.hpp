// moodnet: the public API in one include. Header-only by default; with
// MOODNET_SEPARATE_COMPILATION (the CMake target moodnet::compiled) the Cpu templates are
// compiled once in a library instead of in every translation unit (see instantiations.hpp).
// Three tool headers stay apart to keep this one quick to compile: <moodnet/data/groups.hpp>
// (group_keys, regex based), <moodnet/data/inspect.hpp> (the dataset health check) and
// <moodnet/data/augment_folder.hpp> (offline augmented copies).
#pragma once

#include "config.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "data/classify.hpp"
#include "data/folder.hpp"
#include "data/image.hpp"
#include "data/image_dataset.hpp"
#include "instantiations.hpp"
#include "io/model_file.hpp"
#include "kernels/cpu/ops.hpp"
#include "kernels/reference.hpp"
#include "nn/activation.hpp"
#include "nn/conv.hpp"
#include "nn/dense.hpp"
#include "nn/loss.hpp"
#include "nn/model.hpp"
#include "nn/normalization.hpp"
#include "nn/pooling.hpp"
#include "nn/regularization.hpp"
#include "optim/optimizers.hpp"
#include "train/callbacks.hpp"
#include "train/dataset.hpp"
#include "train/fit.hpp"
#include "train/metrics.hpp"
#include "train/protocols.hpp"
#include "zoo.hpp"

#ifdef MOODNET_SEPARATE_COMPILATION
namespace moodnet {
MOODNET_ALL_TEMPLATES(extern template, Cpu)
}  // namespace moodnet
#endif
