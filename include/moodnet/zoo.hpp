// The reference architectures of ARCHITECTURES.md, buildable by name. Every model takes pixels
// in [0, 1] except seed003, which rescales 0..255 itself (its first layer, as the seed's code).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nn/conv.hpp"
#include "nn/dense.hpp"
#include "nn/model.hpp"
#include "nn/normalization.hpp"
#include "nn/pooling.hpp"

namespace moodnet::zoo {

namespace detail {
template <class D>
Conv2D<D> conv(int64_t filters, Padding padding, Activation act = Activation::relu,
               Size2 strides = 1, Size2 kernel = 3, double l2 = 0) {
  return Conv2D<D>({.filters = filters,
                    .kernel_size = kernel,
                    .strides = strides,
                    .padding = padding,
                    .activation = act,
                    .l2 = l2});
}
template <class D>
MaxPooling2D<D> pool(Padding padding = Padding::valid, Size2 size = 2, Size2 strides = 0) {
  return MaxPooling2D<D>({.pool_size = size, .strides = strides, .padding = padding});
}
template <class D>
void binary_head(Model<D>& m, int64_t units, double dropout_after_flatten = 0) {
  m.add(Flatten<D>());
  if (dropout_after_flatten > 0) m.add(Dropout<D>(dropout_after_flatten));
  m.add(Dense<D>({.units = units, .activation = Activation::relu}));
  m.add(Dense<D>({.units = 1, .activation = Activation::sigmoid}));
}
}  // namespace detail

// seed000: four valid convs (32, 64, 128, 128) with max-pooling, Dense 512, sigmoid.
template <class D>
Model<D> seed000(bool augment_dropout, uint64_t seed = 0, Shape input = {150, 150, 3}) {
  using namespace detail;
  Model<D> m(input, seed, augment_dropout ? "seed000-augment" : "seed000-baseline");
  for (int64_t f : {32, 64, 128, 128}) {
    m.add(conv<D>(f, Padding::valid));
    m.add(pool<D>());
  }
  binary_head(m, 512, augment_dropout ? 0.5 : 0);
  return m;
}

template <class D>
Model<D> seed001(uint64_t seed = 0, Shape input = {256, 256, 3}) {
  using namespace detail;
  Model<D> m(input, seed, "seed001");
  m.add(conv<D>(16, Padding::same));
  m.add(pool<D>());
  m.add(conv<D>(32, Padding::valid));
  m.add(pool<D>());
  m.add(conv<D>(16, Padding::valid));
  m.add(pool<D>());
  binary_head(m, 256);
  return m;
}

// seed002 (batch_norm: the BatchNorm-after-every-conv variant its report describes).
template <class D>
Model<D> seed002(bool batch_norm = false, uint64_t seed = 0, Shape input = {256, 256, 3}) {
  using namespace detail;
  Model<D> m(input, seed, batch_norm ? "seed002-bn" : "seed002");
  for (int64_t f : {16, 32, 64, 32}) {
    m.add(conv<D>(f, Padding::valid));
    if (batch_norm) m.add(BatchNormalization<D>());
    m.add(pool<D>());
  }
  binary_head(m, 256);
  return m;
}

// seed004: a valid conv then 'same' convs, each followed by 2x2 'same' max-pooling.
template <class D>
Model<D> seed004(const std::string& name, std::vector<int64_t> filters, uint64_t seed = 0,
                 Shape input = {150, 150, 3}) {
  using namespace detail;
  Model<D> m(input, seed, name);
  for (size_t i = 0; i < filters.size(); ++i) {
    m.add(conv<D>(filters[i], i == 0 ? Padding::valid : Padding::same));
    m.add(pool<D>(Padding::same));
  }
  binary_head(m, 256);
  return m;
}

// seed004 attempt 4: the tuner's search space (two valid convs, valid pooling, Dense units).
template <class D>
Model<D> seed004_attempt4(int64_t conv1_filters, int64_t conv2_filters, int64_t dense_units,
                          uint64_t seed = 0, Shape input = {150, 150, 3}) {
  using namespace detail;
  Model<D> m(input, seed, "seed004-attempt4");
  m.add(conv<D>(conv1_filters, Padding::valid));
  m.add(pool<D>());
  m.add(conv<D>(conv2_filters, Padding::valid));
  m.add(pool<D>());
  binary_head(m, dense_units);
  return m;
}

// seed003: Keras' "Xception-mini" with residual 1x1 stride-2 shortcuts; L2 1e-3 on every kernel
// except the shortcuts.
template <class D>
Model<D> seed003(uint64_t seed = 0, Shape input = {56, 56, 3}) {
  using namespace detail;
  const double l2 = 1e-3;
  Model<D> m(input, seed, "seed003");
  m.add(Rescaling<D>(1.0 / 255));
  m.add(conv<D>(32, Padding::same, Activation::linear, 2, 3, l2));
  m.add(BatchNormalization<D>());
  m.add(ReLU<D>());
  m.add(conv<D>(64, Padding::same, Activation::linear, 1, 3, l2));
  m.add(BatchNormalization<D>());
  auto prev = m.add(ReLU<D>());
  for (int64_t f : {128, 256, 512, 728}) {
    m.add(ReLU<D>());
    m.add(SeparableConv2D<D>({.filters = f, .padding = Padding::same, .l2 = l2}));
    m.add(BatchNormalization<D>());
    m.add(ReLU<D>());
    m.add(SeparableConv2D<D>({.filters = f, .padding = Padding::same, .l2 = l2}));
    m.add(BatchNormalization<D>());
    auto x = m.add(pool<D>(Padding::same, 3, 2));
    auto residual = m.add(conv<D>(f, Padding::same, Activation::linear, 2, 1), {prev});
    prev = m.add(Add<D>(), {x, residual});
  }
  m.add(SeparableConv2D<D>({.filters = 1024, .padding = Padding::same, .l2 = l2}));
  m.add(BatchNormalization<D>());
  m.add(ReLU<D>());
  m.add(GlobalAveragePooling2D<D>());
  m.add(Dropout<D>(0.5));
  m.add(Dense<D>({.units = 1, .activation = Activation::sigmoid}));
  return m;
}

// A common FER2013 yardstick: three double-conv BatchNorm blocks on 48x48 grayscale.
template <class D>
Model<D> fer_cnn(uint64_t seed = 0, Shape input = {48, 48, 1}) {
  using namespace detail;
  Model<D> m(input, seed, "fer-cnn");
  for (int64_t f : {32, 64, 128}) {
    for (int k = 0; k < 2; ++k) {
      m.add(conv<D>(f, Padding::same, Activation::linear));
      m.add(BatchNormalization<D>());
      m.add(ReLU<D>());
    }
    m.add(pool<D>());
    m.add(Dropout<D>(0.25));
  }
  m.add(Flatten<D>());
  m.add(Dense<D>({.units = 128, .activation = Activation::relu}));
  m.add(Dropout<D>(0.5));
  m.add(Dense<D>({.units = 1, .activation = Activation::sigmoid}));
  return m;
}

struct ArchInfo {
  std::string name;
  std::string description;
};

inline std::vector<ArchInfo> architectures() {
  return {
      {"seed000-baseline", "150x150x3, 4 valid convs + Dense 512 (seed 000)"},
      {"seed000-augment", "seed000-baseline with Dropout 0.5 after Flatten (seed 000)"},
      {"seed001", "256x256x3, 3 convs + Dense 256 (seed 001)"},
      {"seed002", "256x256x3, 4 valid convs + Dense 256 (seed 002)"},
      {"seed002-bn", "seed002 with BatchNorm after each conv (seed 002's text)"},
      {"seed003", "56x56x3 Xception-mini with residual adds (seed 003)"},
      {"seed004-initial", "150x150x3, convs 16-16-16 + Dense 256 (seed 004)"},
      {"seed004-attempt1", "150x150x3, convs 16-32-32 + Dense 256 (seed 004)"},
      {"seed004-attempt2", "150x150x3, convs 16-64-64 + Dense 256 (seed 004)"},
      {"seed004-attempt3", "150x150x3, convs 16-64-64-32 + Dense 256 (seed 004)"},
      {"seed004-attempt4",
       "150x150x3, the tuner's model at its defaults 32-32 + Dense 256 (seed 004)"},
      {"seed004-attempt5", "150x150x3, convs 64-48 + Dense 256 (seed 004)"},
      {"fer-cnn", "48x48x1, three double-conv BatchNorm blocks + Dense 128 (FER2013 yardstick)"},
      {"seed000-transfer",
       "224x224x3, frozen pretrained MobileNetV1 + Dense 256 (seed 000; needs "
       "scripts/fetch-pretrained.sh)"},
      {"face-expression-transfer",
       "112x112x3, frozen pretrained face expression features + Dense 256 (needs "
       "scripts/fetch-pretrained.sh)"},
  };
}

// Architectures with pretrained weights: built by zoo::build_pretrained
// (<moodnet/zoo_pretrained.hpp>, which reads the weights scripts/fetch-pretrained.sh fetches).
inline bool is_pretrained_architecture(const std::string& name) {
  return name == "seed000-transfer" || name == "face-expression-transfer";
}

// The input shape an architecture was documented with.
inline Shape default_input_shape(const std::string& name) {
  if (name == "seed001" || name == "seed002" || name == "seed002-bn") return {256, 256, 3};
  if (name == "seed003") return {56, 56, 3};
  if (name == "fer-cnn") return {48, 48, 1};
  if (name == "seed000-transfer") return {224, 224, 3};
  if (name == "face-expression-transfer") return {112, 112, 3};
  return {150, 150, 3};
}

// Builds an architecture by name, at its documented input shape or another one (e.g. 48x48x1
// faces); throws moodnet::Error listing the names for an unknown one.
template <class D>
Model<D> build(const std::string& name, uint64_t seed = 0,
               std::optional<Shape> input_shape = std::nullopt) {
  const Shape in = input_shape ? *input_shape : default_input_shape(name);
  MOODNET_CHECK(in.rank() == 3, "architecture input must be (height, width, channels), got ",
                in.to_string());
  if (name == "seed000-baseline") return seed000<D>(false, seed, in);
  if (name == "seed000-augment") return seed000<D>(true, seed, in);
  if (name == "seed001") return seed001<D>(seed, in);
  if (name == "seed002") return seed002<D>(false, seed, in);
  if (name == "seed002-bn") return seed002<D>(true, seed, in);
  if (name == "seed003") return seed003<D>(seed, in);
  if (name == "seed004-initial") return seed004<D>(name, {16, 16, 16}, seed, in);
  if (name == "seed004-attempt1") return seed004<D>(name, {16, 32, 32}, seed, in);
  if (name == "seed004-attempt2") return seed004<D>(name, {16, 64, 64}, seed, in);
  if (name == "seed004-attempt3") return seed004<D>(name, {16, 64, 64, 32}, seed, in);
  if (name == "seed004-attempt4") return seed004_attempt4<D>(32, 32, 256, seed, in);
  if (name == "seed004-attempt5") return seed004<D>(name, {64, 48}, seed, in);
  if (name == "fer-cnn") return fer_cnn<D>(seed, in);
  MOODNET_CHECK(!is_pretrained_architecture(name), "architecture '", name,
                "' has pretrained weights: build it with zoo::build_pretrained from "
                "<moodnet/zoo_pretrained.hpp> (the weights come from scripts/fetch-pretrained.sh)");
  std::string known;
  for (const auto& a : architectures()) known += (known.empty() ? "" : ", ") + a.name;
  MOODNET_FAIL("unknown architecture '", name, "' (known: ", known, ")");
}

}  // namespace moodnet::zoo
