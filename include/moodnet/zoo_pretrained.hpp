// Pretrained networks imported from TensorFlow.js weights (scripts/fetch-pretrained.sh puts them
// in the cache): the MobileNetV1 backbone of face-api's SSD face detector and face-api's 7-class
// face expression net. Not included by
// <moodnet/moodnet.hpp>: it reads files, so programs that want it include it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/image.hpp"
#include "io/tfjs.hpp"
#include "nn/activation.hpp"
#include "nn/conv.hpp"
#include "nn/dense.hpp"
#include "nn/model.hpp"
#include "nn/normalization.hpp"
#include "nn/pooling.hpp"
#include "zoo.hpp"

namespace moodnet::zoo {

// The package the weights come from, and where scripts/fetch-pretrained.sh puts its model/:
// $MOODNET_PRETRAINED_DIR, else ~/.cache/moodnet/pretrained, then face-api-1.7.15/model.
inline constexpr const char* pretrained_package = "@vladmandic/face-api@1.7.15";

// out:(nh, nw, C) = img resized by tf.image.resizeBilinear(alignCorners false, halfPixelCenters
// false) in the arithmetic of tfjs's cpu kernel (double, stored as float32), as face-api's
// toBatchTensor feeds its nets, divided by `divisor` (255 for [0, 1] pixels).
inline void resize_bilinear_tfjs(const Image& img, int64_t nh, int64_t nw, double divisor,
                                 float* out) {
  const int64_t h = img.height, w = img.width, c = img.channels;
  const double ry = double(h) / double(nh), rx = double(w) / double(nw);
  for (int64_t r = 0; r < nh; ++r) {
    const double sy = ry * double(r);
    const auto y0 = std::max<int64_t>(0, int64_t(std::floor(sy)));
    const auto y1 = std::min<int64_t>(h - 1, int64_t(std::ceil(sy)));
    const double fy = sy - double(y0);
    for (int64_t q = 0; q < nw; ++q) {
      const double sx = rx * double(q);
      const auto x0 = std::max<int64_t>(0, int64_t(std::floor(sx)));
      const auto x1 = std::min<int64_t>(w - 1, int64_t(std::ceil(sx)));
      const double fx = sx - double(x0);
      for (int64_t k = 0; k < c; ++k) {
        const double tl = img.at(y0, x0, k), tr = img.at(y0, x1, k);
        const double bl = img.at(y1, x0, k), br = img.at(y1, x1, k);
        const double top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx;
        *out++ = static_cast<float>(static_cast<float>(top + (bottom - top) * fy) / divisor);
      }
    }
  }
}
inline std::filesystem::path default_pretrained_dir() {
  std::filesystem::path root;
  if (const char* d = std::getenv("MOODNET_PRETRAINED_DIR"); d && *d)
    root = d;
  else if (const char* h = std::getenv("HOME"); h && *h)
    root = std::filesystem::path(h) / ".cache" / "moodnet" / "pretrained";
  else
    root = ".cache/moodnet/pretrained";
  return root / "face-api-1.7.15" / "model";
}

namespace detail {
// What predict/train need to know of a model built on face-api's weights: their source, the
// backbone's blocks (for --fine-tune), and its input: RGB pixels in [0, 1].
template <class D>
void describe_pretrained(Model<D>& m, const std::string& model_name,
                         const std::vector<std::vector<std::string>>& blocks) {
  m.metadata()["pretrained"] = std::string(pretrained_package) + " " + model_name;
  m.metadata()["backbone_blocks"] = blocks;
  m.metadata()["color_mode"] = "rgb";
  m.metadata()["scale"] = 1.0 / 255;
}

// The manifest `file` in `dir`: dir may be the model/ folder, the cache root above it, or the
// manifest itself. Throws a moodnet::Error that says how to fetch the weights.
inline std::filesystem::path find_manifest(const std::filesystem::path& dir,
                                           const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) return dir;
  for (const fs::path& p : {dir / file, dir / "face-api-1.7.15" / "model" / file})
    if (fs::is_regular_file(p, ec)) return p;
  MOODNET_FAIL("pretrained weights ", file, " not found in ", dir.string(),
               ": run scripts/fetch-pretrained.sh (downloads ", pretrained_package,
               " from npm into ~/.cache/moodnet/pretrained or $MOODNET_PRETRAINED_DIR)");
}

// "dense1/conv2" -> "dense1_conv2" (layer names without '/').
inline std::string snake(std::string s) {
  for (char& c : s)
    if (c == '/') c = '_';
  return s;
}

// Copies a TF.js weight into the layer's i-th parameter (same shape, checked by name).
template <class D>
void assign(Layer<D>& layer, size_t i, const tfjs::Weights& w, const std::string& name) {
  Parameter<D>& p = *layer.parameters().at(i);
  const tfjs::Weight& src = w.at(name, p.value.shape());
  for (int64_t k = 0; k < p.value.size(); ++k)
    p.value[k] = static_cast<typename D::value_type>(src.values[static_cast<size_t>(k)]);
}

inline void check_mobilenet_input(const Shape& input, const char* who) {
  MOODNET_CHECK(input.rank() == 3 && input[2] == 3 && input[0] >= 32 && input[1] >= 32, who,
                ": input must be (H, W, 3) with H, W >= 32, got ", input.to_string());
}
}  // namespace detail

// MobileNetV1 (alpha 1) as face-api's SSD detector runs it (src/ssdMobilenetv1/mobileNetV1.ts),
// with its pretrained weights (ssd_mobilenetv1_model, MobilenetV1/Conv2d_0 ... Conv2d_13):
//   Rescaling(2, -1)               pixels in [0, 1] -> [-1, 1]; face-api: x / 127.5 - 1 on 0..255
//   Conv2d_0: Conv2D 32, 3x3, stride 2, 'same', + convolution_bn_offset, ReLU6
//   Conv2d_i, i = 1..13: DepthwiseConv2D 3x3 'same' (stride 2 for i = 2, 4, 6, 12), no bias;
//     BatchNormalization (gamma, beta, moving_mean, moving_variance, epsilon 1e-3 as float32);
//     ReLU6; Conv2D 1x1 (pointwise) + convolution_bn_offset, ReLU6.
// Output (H/32, W/32, 1024) (ceil at each stride), or (1024) with global_pool.
// last_block < 13 stops after Conv2d_<last_block>'s pointwise layer (intermediate features).
// Every layer is frozen (trainable false: BatchNorm on its moving statistics); unfreeze layers
// to fine-tune. weights_dir: see detail::find_manifest.
namespace detail {
// Appends MobileNetV1's layers (Rescaling, Conv2d_0 ... Conv2d_<last_block>) after m's output,
// with the pretrained weights of `w`; blocks (if given) receives the layer names of each block
// (block 0: rescaling and Conv2d_0; block i: Conv2d_i's depthwise, BatchNorm, ReLU6, pointwise).
template <class D>
void add_mobilenet_v1(Model<D>& m, const tfjs::Weights& w, int last_block,
                      std::vector<std::vector<std::string>>* blocks = nullptr) {
  const std::string pre = "MobilenetV1/Conv2d_";
  std::vector<std::string> block;
  auto added = [&](typename Model<D>::NodeId id) -> Layer<D>& {
    Layer<D>& l = m.layer(static_cast<size_t>(id) - 1);
    block.push_back(l.name());
    return l;
  };
  auto end_block = [&] {
    if (blocks) blocks->push_back(block);
    block.clear();
  };
  added(m.add(Rescaling<D>(2.0, -1.0, "rescaling")));

  auto pointwise = [&](int i, int64_t filters, Size2 kernel, Size2 strides) {
    // Conv2d_0 is a full 3x3 convolution (TF.js names its weights Conv2d_0_pointwise/...).
    const std::string name = "Conv2d_" + std::to_string(i) + (i ? "_pointwise" : "");
    Layer<D>& l = added(m.add(Conv2D<D>({.filters = filters,
                                         .kernel_size = kernel,
                                         .strides = strides,
                                         .padding = Padding::same,
                                         .activation = Activation::relu6,
                                         .name = name})));
    assign(l, 0, w, pre + std::to_string(i) + "_pointwise/weights");
    assign(l, 1, w, pre + std::to_string(i) + "_pointwise/convolution_bn_offset");
  };
  pointwise(0, 32, 3, 2);
  end_block();
  const int64_t filters[14] = {32,  64,  128, 128, 256, 256,  512,
                               512, 512, 512, 512, 512, 1024, 1024};
  for (int i = 1; i <= last_block; ++i) {
    const std::string dw = "Conv2d_" + std::to_string(i) + "_depthwise";
    const bool down = i == 2 || i == 4 || i == 6 || i == 12;
    assign(added(m.add(DepthwiseConv2D<D>({.kernel_size = 3,
                                           .strides = down ? 2 : 1,
                                           .padding = Padding::same,
                                           .use_bias = false,
                                           .name = dw}))),
           0, w, pre + std::to_string(i) + "_depthwise/depthwise_weights");
    // mobileNetV1.ts: tf.batchNorm(x, mean, variance, offset=beta, scale=gamma,
    // 0.0010000000474974513)
    Layer<D>& bn = added(m.add(
        BatchNormalization<D>({.epsilon = 0.0010000000474974513, .name = dw + "_BatchNorm"})));
    const std::string bnp = pre + std::to_string(i) + "_depthwise/BatchNorm/";
    assign(bn, 0, w, bnp + "gamma");
    assign(bn, 1, w, bnp + "beta");
    assign(bn, 2, w, bnp + "moving_mean");
    assign(bn, 3, w, bnp + "moving_variance");
    added(m.add(ReLU6<D>(dw + "_relu6")));
    pointwise(i, filters[i], 1, 1);
    end_block();
  }
}
}  // namespace detail

// MobileNetV1 (alpha 1) as face-api's SSD detector runs it (src/ssdMobilenetv1/mobileNetV1.ts),
// with its pretrained weights (ssd_mobilenetv1_model, MobilenetV1/Conv2d_0 ... Conv2d_13):
//   Rescaling(2, -1)               pixels in [0, 1] -> [-1, 1]; face-api: x / 127.5 - 1 on 0..255
//   Conv2d_0: Conv2D 32, 3x3, stride 2, 'same', + convolution_bn_offset, ReLU6
//   Conv2d_i, i = 1..13: DepthwiseConv2D 3x3 'same' (stride 2 for i = 2, 4, 6, 12), no bias;
//     BatchNormalization (gamma, beta, moving_mean, moving_variance, epsilon 1e-3 as float32);
//     ReLU6; Conv2D 1x1 (pointwise) + convolution_bn_offset, ReLU6.
// Output (H/32, W/32, 1024) (ceil at each stride), or (1024) with global_pool.
// last_block < 13 stops after Conv2d_<last_block>'s pointwise layer (intermediate features).
// Every layer is frozen (trainable false: BatchNorm on its moving statistics); unfreeze layers
// to fine-tune. weights_dir: see detail::find_manifest.
template <class D>
Model<D> mobilenet_v1_backbone(const std::filesystem::path& weights_dir = default_pretrained_dir(),
                               Shape input = {224, 224, 3}, bool global_pool = false,
                               int last_block = 13) {
  static_assert(D::host_accessible, "mobilenet_v1_backbone loads weights on a host device");
  detail::check_mobilenet_input(input, "mobilenet_v1_backbone");
  MOODNET_CHECK(last_block >= 0 && last_block <= 13,
                "mobilenet_v1_backbone: last_block must be in 0..13, got ", last_block);
  const tfjs::Weights w = tfjs::read_weights(
      detail::find_manifest(weights_dir, "ssd_mobilenetv1_model-weights_manifest.json"));
  Model<D> m(input, 0, "mobilenet_v1_backbone");
  std::vector<std::vector<std::string>> blocks;
  detail::add_mobilenet_v1(m, w, last_block, &blocks);
  if (global_pool) m.add(GlobalAveragePooling2D<D>("global_average_pooling2d"));
  m.set_trainable(false);
  detail::describe_pretrained(m, "ssd_mobilenetv1_model", blocks);
  return m;
}

// face-api's expression classes, in the order of the network's outputs.
inline std::vector<std::string> face_expression_classes() {
  return {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
}

namespace detail {
// Appends face-api's expression feature extractor (input_normalization, dense0 ... dense3,
// GlobalAveragePooling2D "features") after m's output; blocks (if given) receives the layer names
// of each dense block (input_normalization with dense0, features with dense3).
template <class D>
void add_face_expression_features(Model<D>& m, const tfjs::Weights& w,
                                  std::vector<std::vector<std::string>>* blocks = nullptr) {
  using Id = typename Model<D>::NodeId;
  auto layer = [&](Id id) -> Layer<D>& { return m.layer(static_cast<size_t>(id) - 1); };
  const size_t first = m.num_layers();

  const Id norm = m.add(BatchNormalization<D>({.epsilon = 0, .name = "input_normalization"}));
  const double mean_rgb[3] = {122.782, 117.001, 104.298};
  {
    auto p = layer(norm).parameters();  // gamma 1, beta 0, moving_variance 1: y = x - mean
    for (int c = 0; c < 3; ++c)
      p[2]->value[c] = static_cast<typename D::value_type>(
          static_cast<double>(static_cast<float>(mean_rgb[c])) / 255);
  }
  auto sep = [&](const std::string& prefix, Id in, int64_t filters, int64_t stride,
                 Activation act) {
    const Id id = m.add(SeparableConv2D<D>({.filters = filters,
                                            .strides = stride,
                                            .padding = Padding::same,
                                            .activation = act,
                                            .name = snake(prefix)}),
                        {in});
    assign(layer(id), 0, w, prefix + "/depthwise_filter");
    assign(layer(id), 1, w, prefix + "/pointwise_filter");
    assign(layer(id), 2, w, prefix + "/bias");
    return id;
  };
  auto add = [&](const std::string& name, Id a, Id b) { return m.add(Add<D>(name), {a, b}); };
  auto relu = [&](const std::string& name, Id in) { return m.add(ReLU<D>(name), {in}); };

  Id x = norm;
  const int64_t channels[4] = {32, 64, 128, 256};
  for (int b = 0; b < 4; ++b) {
    const std::string d = "dense" + std::to_string(b);
    Id out1;
    if (b == 0) {
      out1 = m.add(Conv2D<D>({.filters = 32,
                              .kernel_size = 3,
                              .strides = 2,
                              .padding = Padding::same,
                              .activation = Activation::relu,
                              .name = "dense0_conv0"}),
                   {x});
      assign(layer(out1), 0, w, "dense0/conv0/filters");
      assign(layer(out1), 1, w, "dense0/conv0/bias");
    } else {
      out1 = sep(d + "/conv0", x, channels[b], 2, Activation::relu);
    }
    const Id out2 = sep(d + "/conv1", out1, channels[b], 1, Activation::linear);
    const Id in3 = relu(d + "_relu1", add(d + "_add1", out1, out2));
    const Id out3 = sep(d + "/conv2", in3, channels[b], 1, Activation::linear);
    const Id in4 = relu(d + "_relu2", add(d + "_add2b", out1, add(d + "_add2a", out2, out3)));
    const Id out4 = sep(d + "/conv3", in4, channels[b], 1, Activation::linear);
    x = relu(d + "_out",
             add(d + "_add3c", out1, add(d + "_add3b", out2, add(d + "_add3a", out3, out4))));
  }
  m.add(GlobalAveragePooling2D<D>("features"), {x});
  if (blocks) {  // input_normalization joins dense0, the pooled features dense3
    blocks->assign(4, {});
    for (size_t i = first; i < m.num_layers(); ++i) {
      const std::string& n = m.layer(i).name();
      const size_t b = n.rfind("dense", 0) == 0 ? static_cast<size_t>(n[5] - '0')
                       : n == "features"        ? 3
                                                : 0;
      (*blocks)[b].push_back(n);
    }
  }
}
}  // namespace detail

// face-api's FaceExpressionNet (src/faceExpressionNet,
// faceFeatureExtractor/FaceFeatureExtractor.ts) with its pretrained weights
// (face_expression_model): 112x112x3 pixels in [0, 1] ->
//   BatchNormalization "input_normalization" (epsilon 0): x - mean_rgb / 255, face-api's
//     (x - [122.782, 117.001, 104.298]) / 255 on 0..255;
//   four dense blocks (denseBlock4) of 32, 64, 128, 256 channels, each halving the size:
//     out1 = ReLU(conv0) (dense0: Conv2D 3x3 stride 2 + bias; else SeparableConv2D stride 2),
//     out2 = sep(out1), out3 = sep(ReLU(out1 + out2)), out4 = sep(ReLU(out1 + (out2 + out3))),
//     block output ReLU(out1 + (out2 + (out3 + out4))) (sep: SeparableConv2D 3x3 'same' + bias;
//     the Add layers keep face-api's summation order);
//   GlobalAveragePooling2D "features" (face-api's 7x7 average pool on the 7x7 map): 256 features;
//   Dense 7 + softmax "fc": probabilities of face_expression_classes().
// features_only stops at the 256 features (a frozen feature extractor for a new head). Every
// layer is frozen. weights_dir: as mobilenet_v1_backbone.
template <class D>
Model<D> face_expression_net(const std::filesystem::path& weights_dir = default_pretrained_dir(),
                             bool features_only = false) {
  static_assert(D::host_accessible, "face_expression_net loads weights on a host device");
  const tfjs::Weights w = tfjs::read_weights(
      detail::find_manifest(weights_dir, "face_expression_model-weights_manifest.json"));
  Model<D> m({112, 112, 3}, 0, features_only ? "face_expression_features" : "face_expression_net");
  std::vector<std::vector<std::string>> blocks;
  detail::add_face_expression_features(m, w, &blocks);
  using Id = typename Model<D>::NodeId;
  auto layer = [&](Id id) -> Layer<D>& { return m.layer(static_cast<size_t>(id) - 1); };
  if (!features_only) {
    const Id fc = m.add(Dense<D>({.units = 7, .activation = Activation::softmax, .name = "fc"}));
    detail::assign(layer(fc), 0, w, "fc/weights");
    detail::assign(layer(fc), 1, w, "fc/bias");
    m.metadata()["class_names"] = face_expression_classes();
  }
  m.set_trainable(false);
  detail::describe_pretrained(m, "face_expression_model", blocks);
  return m;
}

namespace detail {
// The binary head of the transfer models: Dense 256 ReLU, Dropout 0.5, Dense 1 sigmoid.
template <class D>
void transfer_head(Model<D>& m) {
  m.add(Dense<D>({.units = 256, .activation = Activation::relu}));
  m.add(Dropout<D>(0.5));
  m.add(Dense<D>({.units = 1, .activation = Activation::sigmoid}));
}
}  // namespace detail

// seed000's transfer model (ARCHITECTURES.md, seed000-transfer): the frozen pretrained
// MobileNetV1 backbone (no top: (7, 7, 1024) at 224x224) · Flatten · Dense 256 ReLU ·
// Dropout 0.5 · Dense 1 sigmoid. Only the head trains (12,845,569 parameters at 224x224); its
// weights are drawn from `seed`. Pixels in [0, 1]. metadata()["backbone_blocks"] names the
// backbone's 14 blocks for fine-tuning (train/transfer.hpp, unfreeze_last_blocks).
template <class D>
Model<D> seed000_transfer(const std::filesystem::path& weights_dir = default_pretrained_dir(),
                          uint64_t seed = 0, Shape input = {224, 224, 3}) {
  static_assert(D::host_accessible, "seed000_transfer loads weights on a host device");
  detail::check_mobilenet_input(input, "seed000-transfer");
  const tfjs::Weights w = tfjs::read_weights(
      detail::find_manifest(weights_dir, "ssd_mobilenetv1_model-weights_manifest.json"));
  Model<D> m(input, seed, "seed000-transfer");
  std::vector<std::vector<std::string>> blocks;
  detail::add_mobilenet_v1(m, w, 13, &blocks);
  m.set_trainable(false);
  m.add(Flatten<D>());
  detail::transfer_head(m);
  detail::describe_pretrained(m, "ssd_mobilenetv1_model", blocks);
  return m;
}

// The expression net's frozen feature extractor (face_expression_net with features_only: 256
// pooled features of a 112x112x3 face) with seed000-transfer's binary head: Dense 256 ReLU ·
// Dropout 0.5 · Dense 1 sigmoid (66,049 trainable parameters). backbone_blocks: its 4 dense
// blocks.
template <class D>
Model<D> face_expression_transfer(
    const std::filesystem::path& weights_dir = default_pretrained_dir(), uint64_t seed = 0) {
  static_assert(D::host_accessible, "face_expression_transfer loads weights on a host device");
  const tfjs::Weights w = tfjs::read_weights(
      detail::find_manifest(weights_dir, "face_expression_model-weights_manifest.json"));
  Model<D> m({112, 112, 3}, seed, "face-expression-transfer");
  std::vector<std::vector<std::string>> blocks;
  detail::add_face_expression_features(m, w, &blocks);
  m.set_trainable(false);
  detail::transfer_head(m);
  detail::describe_pretrained(m, "face_expression_model", blocks);
  return m;
}

// Builds a zoo architecture by name (zoo::build), including the pretrained ones of
// zoo::pretrained_architectures() (weights from weights_dir; a clear error naming
// scripts/fetch-pretrained.sh when they are absent).
template <class D>
Model<D> build_pretrained(const std::string& name, uint64_t seed = 0,
                          std::optional<Shape> input_shape = std::nullopt,
                          const std::filesystem::path& weights_dir = default_pretrained_dir()) {
  if (!is_pretrained_architecture(name)) return build<D>(name, seed, input_shape);
  const Shape in = input_shape ? *input_shape : default_input_shape(name);
  if (name == "seed000-transfer") return seed000_transfer<D>(weights_dir, seed, in);
  MOODNET_CHECK(in == Shape({112, 112, 3}), name,
                ": the expression net takes 112x112 rgb faces, got input ", in.to_string());
  return face_expression_transfer<D>(weights_dir, seed);
}

}  // namespace moodnet::zoo
