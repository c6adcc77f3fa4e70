// Finite-difference gradient checks (Reference device, double) for every layer, for whole graph
// models with the fused losses, and for the loss kernels themselves.
#include <catch2/catch.hpp>
#include <cmath>
#include <moodnet/moodnet.hpp>
#include <moodnet/testing/gradcheck.hpp>
#include <string>
#include <vector>

namespace {

using moodnet::Activation;
using moodnet::Padding;
using moodnet::Shape;
using R = moodnet::Reference;
using RT = moodnet::Tensor<R>;
namespace mt = moodnet::testing;

RT random_tensor(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  RT t(s);
  for (int64_t i = 0; i < t.size(); ++i)
    t[i] = lo + (hi - lo) * moodnet::random_uniform(seed, 0x7e57, static_cast<uint64_t>(i));
  return t;
}

// Values spread evenly over [-1, 1] in random order, at least 2/n apart: no ties for max pooling.
RT distinct_tensor(const Shape& s, uint64_t seed) {
  RT t(s);
  const int64_t n = t.size();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(moodnet::random_bits(seed, 0x9e, static_cast<uint64_t>(i)) %
                                        static_cast<uint64_t>(i + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  for (int64_t i = 0; i < n; ++i)
    t[i] = -1 + 2 * (double(perm[static_cast<size_t>(i)]) + 0.5) / double(n);
  return t;
}

// Builds the layer for per-sample input shapes and gives every trainable weight random values
// (biases and BatchNorm's beta too, so that they matter).
void build(moodnet::Layer<R>& layer, const std::vector<Shape>& shapes, uint64_t seed) {
  layer.build(shapes);
  layer.initialize(seed, 1);
  uint64_t k = 0;
  for (auto* p : layer.parameters()) {
    ++k;
    if (p->name == "bias" || p->name == "beta")
      p->value = random_tensor(p->value.shape(), seed + k, -0.5, 0.5);
    if (p->name == "gamma") p->value = random_tensor(p->value.shape(), seed + k, 0.5, 1.5);
  }
}

// The smallest distance of the layer's pre-activation to a ReLU/ReLU6 kink. `linear` is the same
// layer built with a linear activation.
double kink_distance(moodnet::Layer<R>& layer, moodnet::Layer<R>& linear, const RT& x) {
  auto lp = linear.parameters();
  auto p = layer.parameters();
  for (size_t i = 0; i < p.size(); ++i) lp[i]->value = p[i]->value;
  RT z;
  std::vector<const RT*> in{&x};
  linear.call(in, z);
  double d = INFINITY;
  for (double v : z) d = std::min({d, std::fabs(v), std::fabs(v - 6)});
  return d;
}

// An input whose pre-activations are all at least 1e-3 away from a kink (redrawn until so).
RT input_off_kinks(moodnet::Layer<R>& layer, moodnet::Layer<R>& linear, const Shape& batched,
                   uint64_t seed) {
  for (uint64_t attempt = 0; attempt < 1000; ++attempt) {
    RT x = random_tensor(batched, seed * 1000 + attempt);
    if (kink_distance(layer, linear, x) >= 1e-3) return x;
  }
  FAIL("no input off the kinks found");
  return {};
}

// The Reference kernels parallelise even tiny loops. A gradient check runs thousands of tiny
// forward passes, which are faster on one thread, and far faster when the machine is loaded.
class OneThread {
 public:
  OneThread() { moodnet::set_num_threads(1); }
  ~OneThread() { moodnet::set_num_threads(saved_); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int saved_ = moodnet::num_threads();
};

void require_ok(const mt::GradCheckReport& r, size_t expected_tensors) {
  INFO(r.str());
  CHECK(r.tensors.size() == expected_tensors);
  REQUIRE(r.ok());
}

std::string describe(const Shape& in, moodnet::Size2 k, moodnet::Size2 s, Padding p, Activation a) {
  return "input " + in.to_string() + " kernel " + std::to_string(k.h) + "x" + std::to_string(k.w) +
         " stride " + std::to_string(s.h) + "x" + std::to_string(s.w) + " " +
         moodnet::to_string(p) + " " + moodnet::to_string(a);
}

}  // namespace

TEST_CASE("gradients: Conv2D, valid and same, odd sizes, strides, 3x3/1x1/3x2 kernels") {
  const OneThread one_thread;
  struct Case {
    Shape in;
    int64_t filters;
    moodnet::Size2 kernel, strides;
    Padding padding;
    bool bias;
    Activation act;
  };
  const std::vector<Case> cases = {
      {{7, 5, 3}, 4, 3, 1, Padding::valid, true, Activation::linear},
      {{7, 5, 3}, 4, 3, 1, Padding::same, true, Activation::relu},
      {{7, 5, 2}, 3, 3, 2, Padding::same, false, Activation::sigmoid},
      {{7, 5, 2}, 3, 3, 2, Padding::valid, true, Activation::relu},
      {{8, 6, 2}, 3, 3, 2, Padding::same, true, Activation::linear},
      {{6, 7, 3}, 2, 1, 1, Padding::same, true, Activation::linear},
      {{7, 5, 3}, 2, 1, 2, Padding::same, true, Activation::relu},
      {{7, 6, 2}, 3, {3, 2}, 1, Padding::same, true, Activation::sigmoid},
      {{7, 5, 2}, 2, {3, 2}, {2, 1}, Padding::valid, false, Activation::relu},
      {{5, 5, 1}, 2, 5, 1, Padding::valid, true, Activation::relu6},
      {{3, 4, 2}, 2, 5, 2, Padding::same, true, Activation::tanh},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    ++seed;
    INFO(describe(c.in, c.kernel, c.strides, c.padding, c.act) + (c.bias ? " bias" : " no bias"));
    moodnet::Conv2DOptions o{.filters = c.filters,
                             .kernel_size = c.kernel,
                             .strides = c.strides,
                             .padding = c.padding,
                             .activation = c.act,
                             .use_bias = c.bias};
    moodnet::Conv2D<R> conv(o);
    o.activation = Activation::linear;
    moodnet::Conv2D<R> linear(o);
    build(conv, {c.in}, seed);
    linear.build({c.in});
    const RT x = input_off_kinks(conv, linear, c.in.with_batch(2), seed);
    require_ok(mt::gradcheck(conv, {x}), c.bias ? 3 : 2);
  }
}

TEST_CASE("gradients: a frozen Conv2D leaves its gradients alone but passes dx") {
  const OneThread one_thread;
  moodnet::Conv2D<R> conv({.filters = 3, .padding = Padding::same});
  build(conv, {{5, 4, 2}}, 7);
  conv.set_trainable(false);
  require_ok(mt::gradcheck(conv, {random_tensor({2, 5, 4, 2}, 8)}), 1);
}

TEST_CASE("gradients: DepthwiseConv2D, multiplier 1 and 2, same/valid, stride 2") {
  const OneThread one_thread;
  struct Case {
    Shape in;
    int64_t multiplier;
    moodnet::Size2 kernel, strides;
    Padding padding;
    bool bias;
    Activation act;
  };
  const std::vector<Case> cases = {
      {{7, 5, 3}, 1, 3, 1, Padding::valid, true, Activation::linear},
      {{7, 5, 3}, 1, 3, 1, Padding::same, true, Activation::relu},
      {{7, 5, 2}, 2, 3, 1, Padding::same, false, Activation::linear},
      {{7, 5, 2}, 2, 3, 2, Padding::same, true, Activation::relu},
      {{7, 6, 3}, 1, 3, 2, Padding::valid, true, Activation::linear},
      {{6, 6, 2}, 2, {3, 2}, {2, 1}, Padding::same, true, Activation::sigmoid},
      {{5, 5, 2}, 3, 1, 2, Padding::valid, true, Activation::linear},
  };
  uint64_t seed = 200;
  for (const Case& c : cases) {
    ++seed;
    INFO(describe(c.in, c.kernel, c.strides, c.padding, c.act) + " multiplier " +
         std::to_string(c.multiplier));
    moodnet::DepthwiseConv2DOptions o{.kernel_size = c.kernel,
                                      .strides = c.strides,
                                      .padding = c.padding,
                                      .depth_multiplier = c.multiplier,
                                      .activation = c.act,
                                      .use_bias = c.bias};
    moodnet::DepthwiseConv2D<R> dw(o);
    o.activation = Activation::linear;
    moodnet::DepthwiseConv2D<R> linear(o);
    build(dw, {c.in}, seed);
    linear.build({c.in});
    const RT x = input_off_kinks(dw, linear, c.in.with_batch(2), seed);
    require_ok(mt::gradcheck(dw, {x}), c.bias ? 3 : 2);
  }
}

TEST_CASE("gradients: SeparableConv2D") {
  const OneThread one_thread;
  struct Case {
    Shape in;
    int64_t filters, multiplier;
    moodnet::Size2 strides;
    Padding padding;
    bool bias;
    Activation act;
  };
  const std::vector<Case> cases = {
      {{7, 5, 3}, 4, 1, 1, Padding::same, true, Activation::linear},
      {{7, 5, 3}, 4, 1, 1, Padding::valid, true, Activation::relu},
      {{7, 5, 2}, 3, 2, 2, Padding::same, false, Activation::linear},
      {{6, 7, 2}, 3, 2, 2, Padding::valid, true, Activation::sigmoid},
  };
  uint64_t seed = 300;
  for (const Case& c : cases) {
    ++seed;
    INFO(describe(c.in, 3, c.strides, c.padding, c.act) + " multiplier " +
         std::to_string(c.multiplier));
    moodnet::SeparableConv2DOptions o{.filters = c.filters,
                                      .strides = c.strides,
                                      .padding = c.padding,
                                      .depth_multiplier = c.multiplier,
                                      .activation = c.act,
                                      .use_bias = c.bias};
    moodnet::SeparableConv2D<R> sep(o);
    o.activation = Activation::linear;
    moodnet::SeparableConv2D<R> linear(o);
    build(sep, {c.in}, seed);
    linear.build({c.in});
    const RT x = input_off_kinks(sep, linear, c.in.with_batch(2), seed);
    require_ok(mt::gradcheck(sep, {x}), c.bias ? 4 : 3);
  }
}

TEST_CASE("gradients: MaxPooling2D and AveragePooling2D, valid and same, odd sizes") {
  const OneThread one_thread;
  struct Case {
    Shape in;
    moodnet::Size2 pool, strides;
    Padding padding;
  };
  const std::vector<Case> cases = {
      {{6, 6, 2}, 2, 0, Padding::valid},
      {{7, 5, 2}, 2, 0, Padding::valid},
      {{7, 5, 2}, 2, 0, Padding::same},
      {{7, 7, 3}, 3, 2, Padding::same},  // seed003's pool
      {{8, 6, 2}, 3, 2, Padding::same},
      {{5, 7, 2}, {3, 2}, {1, 2}, Padding::valid},
      {{5, 7, 2}, {2, 3}, {2, 1}, Padding::same},
      {{4, 4, 1}, 5, 3, Padding::same},
  };
  uint64_t seed = 400;
  for (const Case& c : cases) {
    ++seed;
    INFO(describe(c.in, c.pool, c.strides, c.padding, Activation::linear));
    const moodnet::Pooling2DOptions o{
        .pool_size = c.pool, .strides = c.strides, .padding = c.padding};
    const RT x = distinct_tensor(c.in.with_batch(2), seed);
    moodnet::MaxPooling2D<R> maxpool(o);
    build(maxpool, {c.in}, seed);
    require_ok(mt::gradcheck(maxpool, {x}), 1);
    moodnet::AveragePooling2D<R> avgpool(o);
    build(avgpool, {c.in}, seed);
    require_ok(mt::gradcheck(avgpool, {x}), 1);
  }
}

TEST_CASE("gradients: GlobalAveragePooling2D") {
  const OneThread one_thread;
  moodnet::GlobalAveragePooling2D<R> gap;
  build(gap, {{5, 3, 4}}, 1);
  require_ok(mt::gradcheck(gap, {random_tensor({3, 5, 3, 4}, 2)}), 1);
}

TEST_CASE("gradients: BatchNormalization in training mode (batch statistics)") {
  const OneThread one_thread;
  for (const Shape& in : {Shape{5, 3, 4}, Shape{7}}) {
    INFO("input " << in.to_string());
    moodnet::BatchNormalization<R> bn;
    build(bn, {in}, 11);
    // Batch statistics: a shifted, scaled input so the normalisation does something.
    RT x = random_tensor(in.with_batch(3), 12, -2, 3);
    require_ok(mt::gradcheck(bn, {x}), 3);
  }
}

TEST_CASE("gradients: BatchNormalization frozen uses the moving statistics") {
  const OneThread one_thread;
  moodnet::BatchNormalization<R> bn;
  build(bn, {{4, 3, 3}}, 13);
  auto p = bn.parameters();
  p[2]->value = random_tensor({3}, 14, -1, 1);   // moving_mean
  p[3]->value = random_tensor({3}, 15, 0.2, 3);  // moving_variance
  bn.set_trainable(false);
  const RT x = random_tensor({2, 4, 3, 3}, 16, -2, 2);
  require_ok(mt::gradcheck(bn, {x}), 1);
  // The output really is the inference transform with the moving statistics.
  RT y;
  std::vector<const RT*> in{&x};
  bn.forward_train(in, y, {});
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t k = i % 3;
    const double expect =
        p[0]->value[k] * (x[i] - p[2]->value[k]) / std::sqrt(p[3]->value[k] + 1e-3) +
        p[1]->value[k];
    REQUIRE(y[i] == Approx(expect).epsilon(1e-12));
  }
}

TEST_CASE("gradients: Dropout in training mode with a fixed mask") {
  const OneThread one_thread;
  moodnet::Dropout<R> drop(0.4);
  build(drop, {{6, 5}}, 17);
  drop.set_stream(99);
  const RT x = random_tensor({3, 6, 5}, 18);
  mt::GradCheckOptions o;
  o.step = {.seed = 5, .step = 3};
  require_ok(mt::gradcheck(drop, {x}, o), 1);
  // The mask drops some and scales the rest by 1 / (1 - rate).
  RT y;
  std::vector<const RT*> in{&x};
  drop.forward_train(in, y, o.step);
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    if (y[i] == 0)
      ++dropped;
    else
      REQUIRE(y[i] == Approx(x[i] / 0.6).epsilon(1e-12));
  }
  CHECK(dropped > 0);
  CHECK(dropped < x.size());
}

TEST_CASE("gradients: Dense on rank-2 and rank-4 inputs") {
  const OneThread one_thread;
  struct Case {
    Shape in;
    int64_t units;
    bool bias;
    Activation act;
  };
  const std::vector<Case> cases = {
      {{7}, 5, true, Activation::linear},        {{7}, 3, false, Activation::relu},
      {{6}, 4, true, Activation::sigmoid},       {{5}, 4, true, Activation::softmax},
      {{3, 2, 5}, 3, true, Activation::linear},  {{3, 2, 5}, 4, true, Activation::relu},
      {{2, 3, 4}, 3, true, Activation::softmax},
  };
  uint64_t seed = 500;
  for (const Case& c : cases) {
    ++seed;
    INFO("input " << c.in.to_string() << " units " << c.units << " " << moodnet::to_string(c.act));
    moodnet::DenseOptions o{.units = c.units, .activation = c.act, .use_bias = c.bias};
    moodnet::Dense<R> dense(o);
    o.activation = Activation::linear;
    moodnet::Dense<R> linear(o);
    build(dense, {c.in}, seed);
    linear.build({c.in});
    const RT x = input_off_kinks(dense, linear, c.in.with_batch(3), seed);
    require_ok(mt::gradcheck(dense, {x}), c.bias ? 3 : 2);
  }
}

TEST_CASE("gradients: Flatten and Rescaling") {
  const OneThread one_thread;
  moodnet::Flatten<R> flatten;
  build(flatten, {{3, 4, 2}}, 1);
  require_ok(mt::gradcheck(flatten, {random_tensor({2, 3, 4, 2}, 2)}), 1);
  moodnet::Rescaling<R> rescale(1.0 / 255, -0.5);
  build(rescale, {{3, 4, 2}}, 1);
  require_ok(mt::gradcheck(rescale, {random_tensor({2, 3, 4, 2}, 3, 0, 255)}), 1);
}

TEST_CASE("gradients: ReLU, ReLU6, Sigmoid and Softmax layers") {
  const OneThread one_thread;
  // Inputs on both sides of every kink but never within 1e-3 of one.
  RT x = random_tensor({3, 4, 5}, 21, -3, 8);
  for (double& v : x)
    if (std::fabs(v) < 1e-3 || std::fabs(v - 6) < 1e-3) v += 0.01;
  moodnet::ReLU<R> relu;
  build(relu, {{4, 5}}, 1);
  require_ok(mt::gradcheck(relu, {x}), 1);
  moodnet::ReLU6<R> relu6;
  build(relu6, {{4, 5}}, 1);
  require_ok(mt::gradcheck(relu6, {x}), 1);
  moodnet::Sigmoid<R> sigmoid;
  build(sigmoid, {{4, 5}}, 1);
  require_ok(mt::gradcheck(sigmoid, {random_tensor({3, 4, 5}, 22, -4, 4)}), 1);
  moodnet::Softmax<R> softmax;
  build(softmax, {{4, 5}}, 1);
  require_ok(mt::gradcheck(softmax, {random_tensor({3, 4, 5}, 23, -3, 3)}), 1);
}

TEST_CASE("gradients: Add of 2 and 3 inputs") {
  const OneThread one_thread;
  moodnet::Add<R> add2;
  build(add2, {{3, 2, 4}, {3, 2, 4}}, 1);
  require_ok(
      mt::gradcheck(add2, {random_tensor({2, 3, 2, 4}, 31), random_tensor({2, 3, 2, 4}, 32)}), 2);
  moodnet::Add<R> add3;
  build(add3, {{5}, {5}, {5}}, 1);
  require_ok(mt::gradcheck(add3, {random_tensor({3, 5}, 33), random_tensor({3, 5}, 34),
                                  random_tensor({3, 5}, 35)}),
             3);
}

namespace {

// A small graph: conv1 feeds both conv2 and the residual Add (its gradient is the sum of both
// paths), then pooling, BatchNorm, Dense with Dropout and the given head.
moodnet::Model<R> residual_model(int64_t head_units, Activation head, uint64_t seed) {
  moodnet::Model<R> m({6, 5, 2}, seed, "residual");
  const int conv1 = m.add(
      moodnet::Conv2D<R>({.filters = 3, .padding = Padding::same, .activation = Activation::relu}));
  const int conv2 = m.add(moodnet::Conv2D<R>({.filters = 3, .padding = Padding::same}), {conv1});
  m.add(moodnet::Add<R>(), {conv1, conv2});
  m.add(moodnet::MaxPooling2D<R>({.pool_size = 2, .padding = Padding::same}));
  m.add(moodnet::BatchNormalization<R>());
  m.add(moodnet::Flatten<R>());
  m.add(moodnet::Dense<R>({.units = 5, .activation = Activation::relu}));
  m.add(moodnet::Dropout<R>(0.25));
  m.add(moodnet::Dense<R>({.units = head_units, .activation = head}));
  uint64_t k = 0;
  for (auto* p : m.parameters())
    if (p->name == "bias" || p->name == "beta")
      p->value = random_tensor(p->value.shape(), seed + ++k, -0.3, 0.3);
  return m;
}

RT binary_targets(const Shape& s, uint64_t seed) {
  RT t(s);
  for (int64_t i = 0; i < t.size(); ++i)
    t[i] = moodnet::random_uniform(seed, 3, static_cast<uint64_t>(i)) < 0.5;
  return t;
}

RT one_hot_targets(int64_t n, int64_t k, uint64_t seed) {
  RT t({n, k}, 0.0);
  for (int64_t i = 0; i < n; ++i)
    t[i * k + static_cast<int64_t>(moodnet::random_bits(seed, 4, static_cast<uint64_t>(i)) %
                                   static_cast<uint64_t>(k))] = 1;
  return t;
}

mt::GradCheckOptions model_options() {
  mt::GradCheckOptions o;
  o.step = {.seed = 3, .step = 1};
  return o;
}

constexpr size_t residual_model_tensors = 10;  // 2 conv x 2, BN x 2, 2 dense x 2

}  // namespace

TEST_CASE("gradients: model with a residual Add, sigmoid head and binary cross-entropy") {
  const OneThread one_thread;
  for (int64_t units : {1, 3}) {
    INFO("sigmoid head with " << units << " units");
    moodnet::Model<R> m =
        residual_model(units, Activation::sigmoid, 40 + static_cast<uint64_t>(units));
    const RT x = random_tensor({4, 6, 5, 2}, 41);
    const RT t = binary_targets({4, units}, 42);
    // The fused path: the loss comes from the head's logits and its gradient is w.r.t. them.
    RT g;
    CHECK(compute_loss(moodnet::Loss::binary_crossentropy(), m, m.forward(x, {}), t, &g)
              .grad_is_preactivation);
    const auto r =
        mt::gradcheck_model(m, x, t, moodnet::Loss::binary_crossentropy(), model_options());
    require_ok(r, residual_model_tensors);
  }
}

TEST_CASE("gradients: max pooling folds the ReLU/ReLU6 of the layer before it") {
  const OneThread one_thread;
  // Conv2D(relu) -> MaxPooling2D, a ReLU layer -> MaxPooling2D (3x3 stride 2, overlapping
  // windows) and Conv2D(relu6) -> MaxPooling2D: each pool folds its producer's activation
  // derivative, and the producer takes dL/d(pre-activation). A conv whose output also feeds
  // another layer must not be folded.
  moodnet::Model<R> m({9, 8, 2}, 90, "folded");
  m.add(
      moodnet::Conv2D<R>({.filters = 4, .padding = Padding::same, .activation = Activation::relu}));
  m.add(moodnet::MaxPooling2D<R>({.pool_size = 2, .padding = Padding::same}));  // 5x4
  m.add(moodnet::Conv2D<R>({.filters = 3, .padding = Padding::same}));
  m.add(moodnet::ReLU<R>());
  m.add(moodnet::MaxPooling2D<R>({.pool_size = 3, .strides = 2, .padding = Padding::same}));
  const int c3 = m.add(moodnet::Conv2D<R>(
      {.filters = 3, .padding = Padding::same, .activation = Activation::relu6}));
  m.add(moodnet::MaxPooling2D<R>({.pool_size = 2, .padding = Padding::same}), {c3});
  const int c4 = m.add(
      moodnet::Conv2D<R>({.filters = 3, .padding = Padding::same, .activation = Activation::relu}));
  const int pool4 = m.add(moodnet::MaxPooling2D<R>({.pool_size = 1}), {c4});
  m.add(moodnet::Add<R>(), {c4, pool4});  // c4 feeds two layers: not folded
  m.add(moodnet::Flatten<R>());
  m.add(moodnet::Dense<R>({.units = 1, .activation = Activation::sigmoid}));
  // Weights scaled so that the ReLU6 layer's outputs reach past 6 as well as below 0.
  uint64_t k = 0;
  for (auto* p : m.parameters())
    p->value = random_tensor(p->value.shape(), 91 + ++k, p->name == "bias" ? -0.3 : -1.5,
                             p->name == "bias" ? 0.3 : 1.5);
  const RT x = random_tensor({3, 9, 8, 2}, 95, -3, 3);
  const auto r = mt::gradcheck_model(m, x, binary_targets({3, 1}, 96),
                                     moodnet::Loss::binary_crossentropy(), model_options());
  require_ok(r, 10);  // 4 convs x 2, dense x 2
  auto folded = [&](size_t i) {
    return dynamic_cast<const moodnet::MaxPooling2D<R>&>(m.layer(i)).folded_input_activation();
  };
  CHECK(folded(1) == Activation::relu);
  CHECK(folded(4) == Activation::relu);
  CHECK(folded(6) == Activation::relu6);
  CHECK(folded(8) == Activation::linear);
}

TEST_CASE("gradients: model with a softmax head and categorical cross-entropy") {
  const OneThread one_thread;
  moodnet::Model<R> m = residual_model(4, Activation::softmax, 50);
  const RT x = random_tensor({3, 6, 5, 2}, 51);
  const RT t = one_hot_targets(3, 4, 52);
  require_ok(
      mt::gradcheck_model(m, x, t, moodnet::Loss::categorical_crossentropy(), model_options()),
      residual_model_tensors);
}

TEST_CASE("gradients: model with a linear head and losses from logits") {
  const OneThread one_thread;
  moodnet::Model<R> m = residual_model(3, Activation::linear, 60);
  const RT x = random_tensor({3, 6, 5, 2}, 61);
  require_ok(mt::gradcheck_model(m, x, binary_targets({3, 3}, 62),
                                 moodnet::Loss::binary_crossentropy(true), model_options()),
             residual_model_tensors);
  require_ok(mt::gradcheck_model(m, x, one_hot_targets(3, 3, 63),
                                 moodnet::Loss::categorical_crossentropy(true), model_options()),
             residual_model_tensors);
}

TEST_CASE("gradients: model with a Sigmoid layer head and frozen layers") {
  const OneThread one_thread;
  // A separate Sigmoid layer as the head (its logits feed the loss), and the first conv and the
  // BatchNorm frozen: their gradients must stay untouched, the rest still correct.
  moodnet::Model<R> m({5, 4, 2}, 70, "frozen");
  m.add(
      moodnet::Conv2D<R>({.filters = 3, .padding = Padding::same, .activation = Activation::relu}));
  m.add(moodnet::BatchNormalization<R>());
  m.add(moodnet::Conv2D<R>(
      {.filters = 2, .strides = 2, .padding = Padding::same, .activation = Activation::relu}));
  m.add(moodnet::GlobalAveragePooling2D<R>());
  m.add(moodnet::Dense<R>({.units = 1}));
  m.add(moodnet::Sigmoid<R>());
  m.layer(0).set_trainable(false);
  m.layer(1).set_trainable(false);
  const RT x = random_tensor({4, 5, 4, 2}, 71);
  const auto r = mt::gradcheck_model(m, x, binary_targets({4, 1}, 72),
                                     moodnet::Loss::binary_crossentropy(), model_options());
  require_ok(r, 4);  // conv 2 and dense: kernel and bias
}

TEST_CASE("gradients: bce_from_logits and bce_from_probabilities agree away from saturation") {
  const OneThread one_thread;
  using ops = moodnet::ops<R>;
  const int64_t n = 41;
  std::vector<double> z(n), p(n), t(n), dz(n), dp(n);
  for (int64_t i = 0; i < n; ++i) {
    z[size_t(i)] = -8 + 16.0 * double(i) / double(n - 1);  // sigmoid in [3e-4, 1 - 3e-4]
    p[size_t(i)] = moodnet::naive::sigmoid(z[size_t(i)]);
    t[size_t(i)] = i % 3 == 0 ? 1.0 : (i % 3 == 1 ? 0.0 : 0.3);  // soft labels too
  }
  const double scale = 0.25;
  for (int64_t i = 0; i < n; ++i) {
    double gz, gp;
    const double lz = ops::bce_from_logits(1, &z[size_t(i)], &t[size_t(i)], &gz, scale);
    const double lp = ops::bce_from_probabilities(1, &p[size_t(i)], &t[size_t(i)], &gp, scale);
    INFO("z " << z[size_t(i)] << " t " << t[size_t(i)]);
    REQUIRE(lz == Approx(lp).epsilon(1e-9));
    // Chain rule through the sigmoid: dL/dz = dL/dp * p * (1 - p).
    REQUIRE(gz == Approx(gp * p[size_t(i)] * (1 - p[size_t(i)])).epsilon(1e-9).margin(1e-15));
    REQUIRE(gz == Approx(scale * (p[size_t(i)] - t[size_t(i)])).epsilon(1e-12).margin(1e-15));
    // Against finite differences of the loss itself.
    const double h = 1e-6;
    double zp = z[size_t(i)] + h, zm = z[size_t(i)] - h;
    const double fd = scale *
                      (ops::bce_from_logits(1, &zp, &t[size_t(i)], nullptr, 0) -
                       ops::bce_from_logits(1, &zm, &t[size_t(i)], nullptr, 0)) /
                      (2 * h);
    REQUIRE(gz == Approx(fd).epsilon(1e-6).margin(1e-10));
  }
  // The sums agree too.
  REQUIRE(ops::bce_from_logits(n, z.data(), t.data(), nullptr, 0) ==
          Approx(ops::bce_from_probabilities(n, p.data(), t.data(), nullptr, 0)).epsilon(1e-9));
  // Large logits stay finite and exact.
  double big[2] = {800, -800}, tt[2] = {0, 1};
  REQUIRE(ops::bce_from_logits(2, big, tt, nullptr, 0) == Approx(1600).epsilon(1e-12));
}

TEST_CASE("gradients: bce_from_probabilities clips to [1e-7, 1 - 1e-7] as Keras") {
  const OneThread one_thread;
  using ops = moodnet::ops<R>;
  const double eps = 1e-7, l_clip = -std::log(eps), l_keep = -std::log(1 - eps);
  struct Case {
    double p, t, loss;
  };
  for (const Case& c : {Case{0, 1, l_clip}, Case{1e-12, 1, l_clip}, Case{1, 0, l_clip},
                        Case{1 - 1e-12, 0, l_clip}, Case{0, 0, l_keep}, Case{1, 1, l_keep}}) {
    INFO("p " << c.p << " t " << c.t);
    double g = -1;
    REQUIRE(ops::bce_from_probabilities(1, &c.p, &c.t, &g, 1.0) == Approx(c.loss).epsilon(1e-9));
    REQUIRE(g == 0);  // the clip's gradient is zero where it is active
    REQUIRE(std::isfinite(g));
  }
  // Just inside the clip the gradient is the usual one.
  const double p = 1e-6, t = 1;
  double g = 0;
  ops::bce_from_probabilities(1, &p, &t, &g, 1.0);
  REQUIRE(g == Approx(-1 / p).epsilon(1e-9));
  // The float kernel clips the same way.
  const float pf = 0, tf = 1;
  float gf = -1;
  REQUIRE(moodnet::ops<moodnet::Cpu>::bce_from_probabilities(1, &pf, &tf, &gf, 1.0f) ==
          Approx(l_clip).epsilon(1e-6));
  REQUIRE(gf == 0);
}

TEST_CASE("gradients: softmax_cce value and gradient") {
  const OneThread one_thread;
  using ops = moodnet::ops<R>;
  const int64_t rows = 3, k = 5;
  RT z = random_tensor({rows, k}, 81, -4, 4);
  z[k + 2] = 300;  // large logits stay stable
  RT t = random_tensor({rows, k}, 82, 0, 1);
  for (int64_t r = 0; r < rows; ++r) {  // soft targets summing to 1
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += t[r * k + j];
    for (int64_t j = 0; j < k; ++j) t[r * k + j] /= s;
  }
  const double scale = 1.0 / 3;
  RT dz({rows, k});
  const double loss = ops::softmax_cce(rows, k, z.data(), t.data(), dz.data(), scale);
  double expect = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < k; ++j) m = std::max(m, z[r * k + j]);
    for (int64_t j = 0; j < k; ++j) s += std::exp(z[r * k + j] - m);
    for (int64_t j = 0; j < k; ++j) expect -= t[r * k + j] * (z[r * k + j] - m - std::log(s));
  }
  REQUIRE(std::isfinite(loss));
  REQUIRE(loss == Approx(expect).epsilon(1e-12));
  const double h = 1e-6;
  for (int64_t i = 0; i < z.size(); ++i) {
    const double saved = z[i];
    z[i] = saved + h;
    const double lp = ops::softmax_cce(rows, k, z.data(), t.data(), nullptr, 0);
    z[i] = saved - h;
    const double lm = ops::softmax_cce(rows, k, z.data(), t.data(), nullptr, 0);
    z[i] = saved;
    INFO("element " << i);
    REQUIRE(dz[i] == Approx(scale * (lp - lm) / (2 * h)).epsilon(1e-6).margin(1e-8));
  }
  // Each row's gradient sums to zero when the targets sum to one.
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += dz[r * k + j];
    REQUIRE(s == Approx(0).margin(1e-12));
  }
}

TEST_CASE("gradients: compute_loss is the Keras mean and its gradient matches") {
  const OneThread one_thread;
  // Binary cross-entropy averages over samples and outputs, categorical over samples; the
  // gradient written by compute_loss must be the gradient of that same mean.
  for (int64_t units : {1, 4}) {
    moodnet::Model<R> m({3}, 1, "head");
    m.add(moodnet::Dense<R>({.units = units}));
    const RT x = random_tensor({5, 3}, 91);
    const RT t = binary_targets({5, units}, 92);
    const RT& out = m.forward(x, {});
    RT g;
    const auto loss = moodnet::Loss::binary_crossentropy(true);
    const double v = compute_loss(loss, m, out, t, &g).value;
    REQUIRE(v ==
            Approx(moodnet::ops<R>::bce_from_logits(out.size(), out.data(), t.data(), nullptr, 0) /
                   double(out.size())));
    RT z = out;
    const double h = 1e-6;
    for (int64_t i = 0; i < z.size(); ++i) {
      const double saved = z[i];
      z[i] = saved + h;
      const double lp = moodnet::loss_value(loss, z, t);
      z[i] = saved - h;
      const double lm = moodnet::loss_value(loss, z, t);
      z[i] = saved;
      INFO(units << " units, element " << i);
      REQUIRE(g[i] == Approx((lp - lm) / (2 * h)).epsilon(1e-6).margin(1e-10));
    }
  }
}
