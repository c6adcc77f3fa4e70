// moodnet's templates instantiated for one device, in groups, for separate compilation.
//
// Header-only use instantiates every layer, the fit loop, model files and the kernels in each
// translation unit that uses them: about 20 s of code generation per program at -O2. With
// MOODNET_SEPARATE_COMPILATION defined (the CMake target moodnet::compiled defines it),
// <moodnet/moodnet.hpp> declares the Cpu instantiations below `extern template`, so a program's
// translation units skip that work, and the compiled library (src/*.cpp) defines each group
// exactly once. Expand inside namespace moodnet; PREFIX is `template` or `extern template`.
#pragma once

// Convolutions: the conv and depthwise kernels for every ISA are generated here.
#define MOODNET_CONV_TEMPLATES(PREFIX, D) \
  PREFIX class Conv2D<D>;                 \
  PREFIX class DepthwiseConv2D<D>;        \
  PREFIX class SeparableConv2D<D>;

// Every other layer, and the interfaces they share.
#define MOODNET_LAYER_TEMPLATES(PREFIX, D) \
  PREFIX class Layer<D>;                   \
  PREFIX class Dense<D>;                   \
  PREFIX class Flatten<D>;                 \
  PREFIX class MaxPooling2D<D>;            \
  PREFIX class AveragePooling2D<D>;        \
  PREFIX class GlobalAveragePooling2D<D>;  \
  PREFIX class BatchNormalization<D>;      \
  PREFIX class ReLU<D>;                    \
  PREFIX class ReLU6<D>;                   \
  PREFIX class Sigmoid<D>;                 \
  PREFIX class Softmax<D>;                 \
  PREFIX class Dropout<D>;                 \
  PREFIX class Rescaling<D>;               \
  PREFIX class Add<D>;

// Models and the zoo.
#define MOODNET_MODEL_TEMPLATES(PREFIX, D) \
  PREFIX class Model<D>;                   \
  PREFIX Model<D> zoo::build<D>(const std::string&, uint64_t, std::optional<Shape>);

// Model files: the JSON architecture and the tensors.
#define MOODNET_MODEL_FILE_TEMPLATES(PREFIX, D)                                                  \
  PREFIX Value architecture_json<D>(const Model<D>&);                                            \
  PREFIX Model<D> model_from_architecture<D>(const Value&, int64_t);                             \
  PREFIX void save_model<D>(const Model<D>&, const std::filesystem::path&, const Optimizer<D>*); \
  PREFIX LoadedModel<D> load_model_file<D>(const std::filesystem::path&);                        \
  PREFIX Model<D> load_model<D>(const std::filesystem::path&);

// Training and evaluation: losses, optimizers, callbacks, the fit loop, image classification.
#define MOODNET_TRAIN_TEMPLATES(PREFIX, D)                                                    \
  PREFIX LossResult<D> compute_loss<D>(const Loss&, const Model<D>&, const Tensor<D>&,        \
                                       const Tensor<D>&, Tensor<D>*, std::span<const float>); \
  PREFIX double loss_value<D>(const Loss&, const Tensor<D>&, const Tensor<D>&);               \
  PREFIX class Optimizer<D>;                                                                  \
  PREFIX class SGD<D>;                                                                        \
  PREFIX class RMSprop<D>;                                                                    \
  PREFIX class Adam<D>;                                                                       \
  PREFIX std::unique_ptr<Optimizer<D>> make_optimizer<D>(const std::string&, const Value&);   \
  PREFIX class Callback<D>;                                                                   \
  PREFIX class EarlyStopping<D>;                                                              \
  PREFIX class ReduceLROnPlateau<D>;                                                          \
  PREFIX Evaluation evaluate<D>(const Model<D>&, const Loss&, Dataset&, int64_t);             \
  PREFIX History fit<D>(Model<D>&, Optimizer<D>&, const Loss&, Dataset&, const FitOptions&,   \
                        const std::vector<Callback<D>*>&);                                    \
  PREFIX ClassifierPredictions predict_classes<D>(const Model<D>&, Dataset&, int64_t, double, \
                                                  bool);                                      \
  PREFIX ClassifierEvaluation evaluate_classifier<D>(                                         \
      const Model<D>&, Dataset&, const std::vector<std::string>&, int64_t, bool);             \
  PREFIX void set_image_metadata<D>(Model<D>&, const std::vector<std::string>&, ColorMode,    \
                                    double);                                                  \
  PREFIX ColorMode image_color_mode<D>(const Model<D>&);                                      \
  PREFIX ImageClassification classify_image<D>(const Model<D>&, const std::filesystem::path&, \
                                               const ClassifyOptions&);

#define MOODNET_ALL_TEMPLATES(PREFIX, D)  \
  MOODNET_CONV_TEMPLATES(PREFIX, D)       \
  MOODNET_LAYER_TEMPLATES(PREFIX, D)      \
  MOODNET_MODEL_TEMPLATES(PREFIX, D)      \
  MOODNET_MODEL_FILE_TEMPLATES(PREFIX, D) \
  MOODNET_TRAIN_TEMPLATES(PREFIX, D)
