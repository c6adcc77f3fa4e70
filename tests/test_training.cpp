// End-to-end training: a small CNN learns horizontal vs vertical stripes, deterministically.
#include <catch2/catch.hpp>
#include <cstring>
#include <moodnet/moodnet.hpp>
#include <numeric>
#include <set>
#include <thread>

#include "image_files.hpp"
#include "temp_dir.hpp"
#include "thread_count.hpp"

using namespace moodnet;

namespace {

// n images 16x16x1: label 1 = vertical stripes, 0 = horizontal; random period, phase, contrast
// and Gaussian noise, all from the counter RNG.
TensorDataset stripes(int64_t n, uint64_t seed) {
  const int64_t s = 16;
  Tensor<Cpu> x(Shape{n, s, s, 1}), y(Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const bool vertical = random_uniform(seed, 1, i) < 0.5;
    const double period = 3 + 4 * random_uniform(seed, 2, i);
    const double phase = 6.28 * random_uniform(seed, 3, i);
    const double contrast = 0.3 + 0.7 * random_uniform(seed, 4, i);
    for (int64_t r = 0; r < s; ++r)
      for (int64_t c = 0; c < s; ++c) {
        const double t = vertical ? c : r;
        const double v = 0.5 + 0.5 * contrast * std::sin(6.28 * t / period + phase) +
                         0.25 * random_normal(seed, 5, (i * s + r) * s + c);
        x[(i * s + r) * s + c] = float(v);
      }
    y[i] = vertical ? 1.0f : 0.0f;
  }
  return TensorDataset(std::move(x), std::move(y));
}

Model<Cpu> stripes_cnn(uint64_t seed) {
  Model<Cpu> m(Shape{16, 16, 1}, seed);
  m.add(Conv2D<Cpu>({.filters = 8, .padding = Padding::same, .activation = Activation::relu}));
  m.add(MaxPooling2D<Cpu>());
  m.add(Conv2D<Cpu>({.filters = 8, .activation = Activation::relu}));
  m.add(BatchNormalization<Cpu>());
  m.add(MaxPooling2D<Cpu>({.padding = Padding::same}));
  m.add(Flatten<Cpu>());
  m.add(Dropout<Cpu>(0.2));
  m.add(Dense<Cpu>({.units = 16, .activation = Activation::relu}));
  m.add(Dense<Cpu>({.units = 1, .activation = Activation::sigmoid}));
  return m;
}

// Delegates to a TensorDataset and records which threads load its batches; can fail on a call.
struct ProbeDataset : Dataset {
  TensorDataset& inner;
  int64_t fail_at_call = -1, calls = 0;
  std::set<std::thread::id> loader_threads;
  explicit ProbeDataset(TensorDataset& d) : inner(d) {}
  int64_t size() const override { return inner.size(); }
  Shape sample_shape() const override { return inner.sample_shape(); }
  Shape target_shape() const override { return inner.target_shape(); }
  void load_batch(std::span<const int64_t> idx, uint64_t epoch, Tensor<Cpu>& x,
                  Tensor<Cpu>& y) override {
    loader_threads.insert(std::this_thread::get_id());
    MOODNET_CHECK(calls++ != fail_at_call, "probe: the disk went away at call ", fail_at_call);
    inner.load_batch(idx, epoch, x, y);
  }
};

// The stripes trainings' options: batch 32, a fixed shuffling seed, no console output.
FitOptions stripes_fit_options(int epochs) {
  FitOptions opt;
  opt.epochs = epochs;
  opt.batch_size = 32;
  opt.seed = 3;
  opt.verbose = 0;
  return opt;
}

std::vector<float> train_stripes(int threads, History* history, double* test_accuracy,
                                 bool prefetch = true,
                                 std::set<std::thread::id>* loader_threads = nullptr) {
  const test::ThreadCountGuard threads_guard;
  set_num_threads(threads);
  TensorDataset train = stripes(512, 1), test = stripes(256, 2);
  ProbeDataset probed(train);
  Model<Cpu> model = stripes_cnn(42);
  Adam<Cpu> adam({.learning_rate = 3e-3});
  FitOptions opt = stripes_fit_options(6);
  opt.prefetch = prefetch;
  History h = fit(model, adam, Loss::binary_crossentropy(), probed, opt);
  if (loader_threads) *loader_threads = probed.loader_threads;
  if (history) *history = h;
  if (test_accuracy) *test_accuracy = evaluate(model, Loss::binary_crossentropy(), test).accuracy;
  std::vector<float> weights;
  for (auto* p : model.parameters())
    weights.insert(weights.end(), p->value.begin(), p->value.end());
  return weights;
}

}  // namespace

TEST_CASE("training: a small CNN learns stripes to >= 98% held-out accuracy", "[training]") {
  History h;
  double acc = 0;
  train_stripes(2, &h, &acc);
  INFO("held-out accuracy " << acc);
  CHECK(acc >= 0.98);
  REQUIRE(h.epochs() == 6);
  CHECK(h["loss"].back() < h["loss"].front());
}

TEST_CASE("training: same seed gives bitwise-identical weights with 1 and 2 threads",
          "[training]") {
  const std::vector<float> w1 = train_stripes(1, nullptr, nullptr);
  const std::vector<float> w2 = train_stripes(2, nullptr, nullptr);
  REQUIRE(w1.size() == w2.size());
  CHECK(std::memcmp(w1.data(), w2.data(), w1.size() * sizeof(float)) == 0);
}

TEST_CASE("training: prefetching batches on a worker thread changes nothing but the thread",
          "[training]") {
  std::set<std::thread::id> with, without;
  const std::vector<float> w_pre = train_stripes(2, nullptr, nullptr, true, &with);
  const std::vector<float> w_plain = train_stripes(2, nullptr, nullptr, false, &without);
  REQUIRE(w_pre.size() == w_plain.size());
  CHECK(std::memcmp(w_pre.data(), w_plain.data(), w_pre.size() * sizeof(float)) == 0);
  // Without prefetching this thread loads every batch; with it, only other threads do (one
  // worker per epoch).
  CHECK(without == std::set<std::thread::id>{std::this_thread::get_id()});
  CHECK(with.count(std::this_thread::get_id()) == 0);
  CHECK(!with.empty());

  // A loader error reaches the caller with its message, and an interrupted epoch does not hang.
  TensorDataset data = stripes(256, 1);
  ProbeDataset failing(data);
  failing.fail_at_call = 3;
  Model<Cpu> model = stripes_cnn(42);
  Adam<Cpu> adam;
  FitOptions opt;
  opt.epochs = 2;
  opt.batch_size = 32;
  opt.verbose = 0;
  REQUIRE_THROWS_WITH(fit(model, adam, Loss::binary_crossentropy(), failing, opt),
                      Catch::Contains("probe: the disk went away at call 3"));
  std::atomic<bool> stop{false};
  int batches_seen = 0;
  opt.stop_requested = &stop;
  opt.on_batch = [&](int, int64_t, int64_t, const Logs&) {
    if (++batches_seen == 2) stop = true;
  };
  ProbeDataset fine(data);
  const History h = fit(model, adam, Loss::binary_crossentropy(), fine, opt);
  CHECK(batches_seen == 2);
  CHECK(h.epochs() == 1);
}

#if MOODNET_SIMD_X86
namespace {
// 1e-30 * 1e-10 is a denormal (1e-40): zero when flushed. On the calling thread and on each
// OpenMP thread, 1 where it flushed.
std::vector<int> flushes_per_thread() {
  std::vector<int> flushed(static_cast<size_t>(num_threads()) + 1, 0);
  volatile float a = 1e-30f, b = 1e-10f;
  flushed[0] = a * b == 0.0f;
  MOODNET_OMP(omp parallel) {
#ifdef _OPENMP
    const size_t t = static_cast<size_t>(omp_get_thread_num()) + 1;
#else
    const size_t t = 1;
#endif
    volatile float c = 1e-30f, d = 1e-10f;
    flushed[t] = c * d == 0.0f;
  }
  return flushed;
}

struct RecordFlush : Callback<Cpu> {
  std::vector<int> during;
  void on_epoch_end(int, const Logs&, TrainingState<Cpu>&) override {
    during = flushes_per_thread();
  }
};
}  // namespace

TEST_CASE("training: fit flushes denormals to zero on every thread, and only while it runs",
          "[training]") {
  const test::ThreadCountGuard threads_guard;
  set_num_threads(2);
  const std::vector<int> none(static_cast<size_t>(num_threads()) + 1, 0),
      all(static_cast<size_t>(num_threads()) + 1, 1);
  REQUIRE(flushes_per_thread() == none);
  TensorDataset train = stripes(64, 1);
  Model<Cpu> model = stripes_cnn(42);
  Adam<Cpu> adam;
  FitOptions opt;
  opt.epochs = 1;
  opt.verbose = 0;
  RecordFlush record;
  fit(model, adam, Loss::binary_crossentropy(), train, opt, {&record});
  CHECK(record.during == all);
  CHECK(flushes_per_thread() == none);
}
#endif

TEST_CASE("training: Adam, RMSprop and SGD follow Keras' update rules", "[training][optim]") {
  // One parameter w = 1 with gradient g = 0.5, two steps, checked against hand-computed values.
  auto run = [](Optimizer<Reference>& opt, int steps) {
    Parameter<Reference> p;
    p.value = Tensor<Reference>(Shape{1}, 1.0);
    p.grad = Tensor<Reference>(Shape{1}, 0.0);
    std::vector<Parameter<Reference>*> ps{&p};
    for (int i = 0; i < steps; ++i) {
      p.grad[0] = 0.5;
      opt.step(ps);
      CHECK(p.grad[0] == 0.0);  // the optimizer zeroes the gradient
    }
    return p.value[0];
  };
  {
    Adam<Reference> adam({.learning_rate = 0.1});
    // step 1: m = 0.05, v = 0.00025, lr_t = 0.1*sqrt(0.001)/0.1 -> w -= lr_t * m / (sqrt(v)+eps)
    const double lr1 = 0.1 * std::sqrt(1 - 0.999) / (1 - 0.9);
    const double w1 = 1 - lr1 * 0.05 / (std::sqrt(0.00025) + 1e-7);
    const double m2 = 0.9 * 0.05 + 0.1 * 0.5, v2 = 0.999 * 0.00025 + 0.001 * 0.25;
    const double lr2 = 0.1 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    CHECK(run(adam, 2) == Approx(w1 - lr2 * m2 / (std::sqrt(v2) + 1e-7)).epsilon(1e-12));
  }
  {
    RMSprop<Reference> rms({.learning_rate = 0.01});
    const double s1 = 0.1 * 0.25, w1 = 1 - 0.01 * 0.5 / (std::sqrt(s1) + 1e-7);
    const double s2 = 0.9 * s1 + 0.1 * 0.25;
    CHECK(run(rms, 2) == Approx(w1 - 0.01 * 0.5 / (std::sqrt(s2) + 1e-7)).epsilon(1e-12));
  }
  {
    SGD<Reference> sgd({.learning_rate = 0.1, .momentum = 0.9});
    // v1 = -0.05, w1 = 0.95; v2 = -0.045 - 0.05 = -0.095, w2 = 0.855
    CHECK(run(sgd, 2) == Approx(0.855).epsilon(1e-12));
    SGD<Reference> nesterov({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
    // w1 = 1 + 0.9*(-0.05) - 0.05 = 0.905; v2 = -0.095, w2 = 0.905 + 0.9*(-0.095) - 0.05 = 0.7695
    CHECK(run(nesterov, 2) == Approx(0.7695).epsilon(1e-12));
  }
}

TEST_CASE("training: L2 adds 2*l2*w to the gradient and l2*sum(w^2) to the loss",
          "[training][optim]") {
  Model<Reference> m(Shape{2}, 1);
  m.add(Dense<Reference>(
      {.units = 1, .activation = Activation::sigmoid, .use_bias = false, .l2 = 0.01}));
  auto* k = m.parameters()[0];
  k->value[0] = 0.5;
  k->value[1] = -0.25;
  Tensor<Reference> x(Shape{1, 2}, {0.0, 0.0}), y(Shape{1, 1}, {1.0});
  TensorDataset ds(to<Cpu>(x), to<Cpu>(y));
  SGD<Reference> sgd({.learning_rate = 1.0});
  FitOptions opt;
  opt.verbose = 0;
  opt.shuffle = false;
  History h = fit(m, sgd, Loss::binary_crossentropy(), ds, opt);
  // x = 0 -> data gradient is 0; only the penalty moves the weights: w -= 1.0 * 2 * 0.01 * w.
  CHECK(k->value[0] == Approx(0.5 * 0.98));
  CHECK(k->value[1] == Approx(-0.25 * 0.98));
  CHECK(h["loss"][0] == Approx(std::log(2.0) + 0.01 * (0.25 + 0.0625)).epsilon(1e-6));
}

TEST_CASE("training: set_kernel_l2 equals building every Conv2D/Dense with that l2",
          "[training][optim]") {
  auto build = [](double l2) {
    Model<Reference> m(Shape{6, 6, 2}, 7);
    m.add(Conv2D<Reference>(
        {.filters = 3, .padding = Padding::same, .activation = Activation::relu, .l2 = l2}));
    m.add(BatchNormalization<Reference>());
    m.add(SeparableConv2D<Reference>({.filters = 2, .l2 = 0.05}));  // not a Conv2D: left alone
    m.add(Flatten<Reference>());
    m.add(Dense<Reference>({.units = 4, .activation = Activation::relu, .l2 = l2}));
    m.add(Dense<Reference>({.units = 1, .activation = Activation::sigmoid, .l2 = l2}));
    return m;
  };
  const double l2 = 0.01;
  Model<Reference> expected = build(l2), set = build(0.0);
  CHECK(set_kernel_l2(set, l2) == 3);
  CHECK(architecture_json(set) == architecture_json(expected));  // saved with the model too
  const auto pe = expected.parameters(), ps = set.parameters();
  REQUIRE(pe.size() == ps.size());
  double kernels = 0;  // sum of w^2 over the Conv2D/Dense kernels
  for (size_t i = 0; i < pe.size(); ++i) {
    CHECK(ps[i]->l2 == pe[i]->l2);
    if (pe[i]->name == "kernel" && pe[i]->l2 == l2)
      for (int64_t j = 0; j < pe[i]->value.size(); ++j)
        kernels += pe[i]->value[j] * pe[i]->value[j];
  }
  CHECK(kernels > 0);
  // Keras' penalty: l2 * sum(w^2) per regularised kernel (the separable conv keeps its own).
  Model<Reference> none = build(0.0);
  CHECK(detail::l2_penalty(set) == Approx(detail::l2_penalty(none) + l2 * kernels));

  // Two epochs of SGD: the same losses (data + penalty) and the same weights, bit for bit.
  const int64_t n = 8;
  Tensor<Cpu> x(Shape{n, 6, 6, 2}), y(Shape{n, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(random_uniform(5, 1, uint64_t(i)));
  for (int64_t i = 0; i < n; ++i) y[i] = float(i % 2);
  TensorDataset ds(std::move(x), std::move(y));
  auto train = [&](Model<Reference>& m) {
    SGD<Reference> sgd({.learning_rate = 0.1});
    FitOptions opt;
    opt.epochs = 2;
    opt.batch_size = 4;
    opt.verbose = 0;
    opt.shuffle = false;
    return fit(m, sgd, Loss::binary_crossentropy(), ds, opt);
  };
  const History he = train(expected), hs = train(set), hn = train(none);
  CHECK(hs["loss"] == he["loss"]);
  CHECK(hs["loss"][0] > hn["loss"][0]);  // the penalty is in the reported loss
  for (size_t i = 0; i < pe.size(); ++i)
    for (int64_t j = 0; j < pe[i]->value.size(); ++j) CHECK(ps[i]->value[j] == pe[i]->value[j]);

  CHECK(set_kernel_l2(set, 0.0) == 3);  // 0 removes it; the separable conv keeps its own
  for (const auto* p : set.parameters()) CHECK((p->l2 == 0 || p->l2 == 0.05));
  CHECK(set.layer(0).parameters()[0]->l2 == 0);
  CHECK_THROWS_WITH(set_kernel_l2(set, -1.0), Catch::Contains("l2 must be >= 0"));
}

TEST_CASE("training: EarlyStopping stops after patience and restores the best weights",
          "[training][callbacks]") {
  Model<Reference> m(Shape{1}, 1);
  m.add(Dense<Reference>({.units = 1}));
  Adam<Reference> adam;
  EarlyStopping<Reference> es({.monitor = "val_loss", .patience = 2, .restore_best_weights = true});
  TrainingState<Reference> state{m, adam};
  es.on_train_begin(state);
  const double losses[] = {1.0, 0.5, 0.7, 0.6, 0.4};
  int stopped_at = -1;
  for (int e = 0; e < 5 && !state.stop; ++e) {
    if (e == 1) m.parameters()[0]->value[0] = 123.0;  // the weights at the best epoch
    if (e == 2) m.parameters()[0]->value[0] = -1.0;
    es.on_epoch_end(e, Logs{{"val_loss", losses[e]}}, state);
    if (state.stop) stopped_at = e;
  }
  CHECK(stopped_at == 3);
  CHECK(es.best_epoch() == 1);
  es.on_train_end(state);
  CHECK(m.parameters()[0]->value[0] == 123.0);
}

TEST_CASE("training: ReduceLROnPlateau divides the learning rate on a plateau",
          "[training][callbacks]") {
  Model<Reference> m(Shape{1}, 1);
  m.add(Dense<Reference>({.units = 1}));
  Adam<Reference> adam({.learning_rate = 1e-2});
  ReduceLROnPlateau<Reference> r({.monitor = "loss", .factor = 0.5, .patience = 1, .min_lr = 3e-3});
  TrainingState<Reference> state{m, adam};
  r.on_train_begin(state);
  for (double l : {1.0, 0.9, 0.95}) r.on_epoch_end(0, Logs{{"loss", l}}, state);
  CHECK(adam.learning_rate() == Approx(5e-3));
  r.on_epoch_end(0, Logs{{"loss", 0.95}}, state);
  CHECK(adam.learning_rate() == Approx(3e-3));  // clamped at min_lr
  REQUIRE_THROWS_WITH(r.on_epoch_end(0, Logs{{"accuracy", 1}}, state),
                      Catch::Contains("monitors 'loss'"));
}

TEST_CASE("training: a frozen layer receives no updates", "[training]") {
  TensorDataset train = stripes(64, 9);
  Model<Cpu> model = stripes_cnn(1);
  model.layer(0).set_trainable(false);
  const std::vector<float> before = model.layer(0).parameters()[0]->value.to_vector();
  const std::vector<float> before2 = model.layer(2).parameters()[0]->value.to_vector();
  const int64_t frozen =
      model.layer(0).parameters()[0]->value.size() + model.layer(0).parameters()[1]->value.size();
  CHECK(model.count_params().non_trainable == frozen + 2 * 8);  // + BatchNorm moving statistics
  Adam<Cpu> adam;
  FitOptions opt;
  opt.verbose = 0;
  fit(model, adam, Loss::binary_crossentropy(), train, opt);
  CHECK(model.layer(0).parameters()[0]->value.to_vector() == before);
  CHECK(model.layer(2).parameters()[0]->value.to_vector() != before2);  // the rest still trains
}

TEST_CASE("training: bad shapes and options give clear errors", "[training]") {
  Model<Cpu> model = stripes_cnn(1);
  Tensor<Cpu> wrong(Shape{2, 8, 8, 1});
  REQUIRE_THROWS_WITH(model.predict(wrong), Catch::Contains("expects input (N, 16, 16, 1)"));
  TensorDataset ds(Tensor<Cpu>(Shape{4, 16, 16, 3}, 0.f), Tensor<Cpu>(Shape{4, 1}, 0.f));
  Adam<Cpu> adam;
  FitOptions opt;
  REQUIRE_THROWS_WITH(fit(model, adam, Loss::binary_crossentropy(), ds, opt),
                      Catch::Contains("do not fit the model input"));
  opt.batch_size = 0;
  TensorDataset ok = stripes(4, 1);
  REQUIRE_THROWS_WITH(fit(model, adam, Loss::binary_crossentropy(), ok, opt),
                      Catch::Contains("batch_size"));
  REQUIRE_THROWS_WITH(Dropout<Cpu>(1.5), Catch::Contains("rate"));
  REQUIRE_THROWS_WITH(make_optimizer<Cpu>("adagrad"),
                      Catch::Contains("unknown optimizer 'adagrad'"));
}

TEST_CASE("training: predict is const and gives the same answer from several threads",
          "[training]") {
  const Model<Cpu> model = stripes_cnn(5);
  TensorDataset data = stripes(40, 4);
  const Tensor<Cpu> ref = model.predict(data.x(), 16);
  std::vector<Tensor<Cpu>> outs(4);
#pragma omp parallel for num_threads(4)
  for (int t = 0; t < 4; ++t) outs[static_cast<size_t>(t)] = model.predict(data.x(), 7 + t);
  for (const auto& o : outs) CHECK(o.to_vector() == ref.to_vector());
}

TEST_CASE("training: predict's fused Conv2D -> MaxPooling2D gives the layers' own outputs",
          "[training]") {
  // The RGB conv runs direct, the 16-channel 3x3 one Winograd F(4x4), the 2x2 one direct
  // again: predict fuses each with the pool after it (the last with 'same' windows over an odd
  // width: 4 x 5 -> 2 x 3).
  Model<Cpu> m(Shape{23, 26, 3}, 7);
  m.add(Conv2D<Cpu>({.filters = 16, .activation = Activation::relu}));
  m.add(MaxPooling2D<Cpu>());
  m.add(Conv2D<Cpu>({.filters = 16, .padding = Padding::same, .activation = Activation::relu}));
  m.add(MaxPooling2D<Cpu>());
  m.add(Conv2D<Cpu>({.filters = 5, .kernel_size = 2, .activation = Activation::relu6}));
  m.add(MaxPooling2D<Cpu>({.padding = Padding::same}));
  m.add(Flatten<Cpu>());
  m.add(Dense<Cpu>({.units = 1, .activation = Activation::sigmoid}));
  Tensor<Cpu> x(Shape{5, 23, 26, 3});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
  Tensor<Cpu> a = x, b;
  for (size_t i = 0; i < m.num_layers(); ++i) {
    const Tensor<Cpu>* ins[] = {&a};
    m.layer(i).call(ins, b);
    std::swap(a, b);
  }
  for (int64_t batch : {5, 2}) CHECK(m.predict(x, batch).to_vector() == a.to_vector());
}

TEST_CASE("training: Conv2D + MaxPooling2D run fused by the model give the layers' gradients",
          "[training]") {
  // Model::forward runs each conv with its pool (Layer::forward_train_max_pooled: the pooled
  // output and each window's maximum, not the conv output), and Model::backward both layers'
  // backward as one (Layer::backward_max_pooled): the first conv (no input gradient) takes the
  // pool's gradient a block of rows at a time, the second makes its dz from the index. The layers
  // driven one by one, as profile_layers does, run the pool's backward and then the conv's. Rows
  // of 150 pixels: weight-gradient blocks of 3 rows, which split the 2x2 windows' row pairs.
  for (const Activation act : {Activation::relu, Activation::linear}) {
    INFO("first conv's activation " << to_string(act));
    // The second conv, 16 -> 16 channels over 8x73 outputs, runs Winograd F(4x4).
    Model<Cpu> m(Shape{23, 152, 3}, 11);
    m.add(Conv2D<Cpu>({.filters = 16, .activation = act}));
    m.add(MaxPooling2D<Cpu>());
    m.add(Conv2D<Cpu>({.filters = 16, .activation = Activation::relu}));
    m.add(MaxPooling2D<Cpu>());
    m.add(Flatten<Cpu>());
    m.add(Dense<Cpu>({.units = 1, .activation = Activation::sigmoid}));
    Tensor<Cpu> x(Shape{3, 23, 152, 3}), t(Shape{3, 1});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
    for (int64_t i = 0; i < t.size(); ++i) t[i] = float(i % 2);
    const Loss loss = Loss::binary_crossentropy();
    const TrainStep step{1, 0};
    m.zero_grad();
    Tensor<Cpu> dy;
    const LossResult<Cpu> lr = compute_loss(loss, m, m.forward(x, step), t, &dy);
    m.backward(dy, lr.grad_is_preactivation);
    for (size_t i : {0, 2}) {
      CHECK(m.layer_forward_fused_with_pool(i));
      CHECK(m.layer_backward_fused_with_pool(i));
    }
    const std::vector<float> fused_output = m.forward(x, step).to_vector();
    std::vector<std::vector<float>> fused;
    for (auto* p : m.parameters()) fused.push_back(p->grad.to_vector());

    const size_t L = m.num_layers();
    std::vector<Tensor<Cpu>> outs(L), grads(L);
    for (size_t i = 0; i < L; ++i) {
      const Tensor<Cpu>* ins[] = {i == 0 ? &x : &outs[i - 1]};
      m.layer(i).forward_train(ins, outs[i], step);
    }
    m.zero_grad();
    Tensor<Cpu> dy_top;
    compute_loss(loss, m, outs[L - 1], t, &dy_top);
    const Tensor<Cpu>* g = &dy_top;
    for (size_t i = L; i-- > 0;) {
      const Tensor<Cpu>* ins[] = {i == 0 ? &x : &outs[i - 1]};
      Tensor<Cpu>* dxs[] = {i == 0 ? nullptr : &grads[i]};
      m.layer(i).backward(
          ins, outs[i], *g, dxs,
          (i == L - 1 && lr.grad_is_preactivation) || m.layer_grad_is_preactivation(i));
      g = &grads[i];
    }
    CHECK(outs[L - 1].to_vector() == fused_output);
    size_t k = 0;
    for (auto* p : m.parameters()) {
      INFO(p->name << " #" << k);
      CHECK(p->grad.to_vector() == fused[k++]);
    }
    // The first conv's gradient is not zero (the fused path wrote something).
    float sum = 0;
    for (float v : fused[0]) sum += std::fabs(v);
    CHECK(sum > 0);
  }
}

TEST_CASE("training: evaluate_classifier reports what predict gives, sample by sample") {
  const test::ThreadCountGuard threads_guard;
  set_num_threads(1);
  TensorDataset test = stripes(64, 9);
  Model<Cpu> model = stripes_cnn(5);
  const ClassifierEvaluation e = evaluate_classifier(model, test, {"h", "v"}, 16);
  REQUIRE(e.predictions.truth.size() == 64);
  Tensor<Cpu> x, y;
  std::vector<int64_t> all(64);
  std::iota(all.begin(), all.end(), 0);
  test.load_batch(all, 0, x, y);
  const Tensor<Cpu> out = model.predict(x);
  int64_t correct = 0;
  for (int64_t i = 0; i < 64; ++i) {
    CHECK(e.predictions.scores[static_cast<size_t>(i)] == out[i]);
    CHECK(e.predictions.predicted[static_cast<size_t>(i)] == (out[i] >= 0.5f ? 1 : 0));
    CHECK(e.predictions.truth[static_cast<size_t>(i)] == (y[i] >= 0.5f ? 1 : 0));
    correct += e.predictions.predicted[static_cast<size_t>(i)] ==
               e.predictions.truth[static_cast<size_t>(i)];
  }
  CHECK(e.report.accuracy == Approx(double(correct) / 64));
  CHECK(e.report.n == 64);
  CHECK(e.auc >= 0.0);
  CHECK(e.auc <= 1.0);
}

TEST_CASE("training: sample weights scale each sample's loss and gradient (Keras class_weight)",
          "[training][loss]") {
  // Three heads, each through its own loss path: sigmoid (fused logits), sigmoid probabilities
  // (a linear head scored as probabilities is not possible, so from_logits on a linear head), and
  // softmax + categorical cross-entropy.
  struct Case {
    Activation head;
    int64_t units;
    Loss loss;
  };
  for (const Case& c : {Case{Activation::sigmoid, 1, Loss::binary_crossentropy()},
                        Case{Activation::linear, 1, Loss::binary_crossentropy(true)},
                        Case{Activation::softmax, 3, Loss::categorical_crossentropy()}}) {
    Model<Reference> m(Shape{4}, 7);
    m.add(Dense<Reference>({.units = c.units, .activation = c.head}));
    const int64_t n = 5;
    Tensor<Reference> x(Shape{n, 4}), t(Shape{n, c.units}, 0.0);
    for (int64_t i = 0; i < x.size(); ++i) x[i] = float(random_normal(3, 1, uint64_t(i)));
    for (int64_t i = 0; i < n; ++i) {
      if (c.units == 1)
        t[i] = float(i % 2);  // a binary label
      else
        t[i * 3 + i % 3] = 1.0f;  // one-hot
    }
    const std::vector<float> w = {0.5f, 2.0f, 1.0f, 0.0f, 3.0f};
    const Tensor<Reference>& out = m.forward(x, {});
    Tensor<Reference> g_plain, g_unit, g_weighted;
    const double plain = compute_loss(c.loss, m, out, t, &g_plain).value;
    const std::vector<float> ones(n, 1.0f);
    CHECK(compute_loss(c.loss, m, out, t, &g_unit, ones).value == plain);
    CHECK(g_unit.to_vector() == g_plain.to_vector());
    const double weighted = compute_loss(c.loss, m, out, t, &g_weighted, w).value;
    REQUIRE_THROWS_WITH(compute_loss(c.loss, m, out, t, &g_weighted, std::vector<float>(2, 1.f)),
                        Catch::Contains("2 sample weights for a batch of 5"));
    // Expected: sum_i w_i * loss_i / n, loss_i the loss of sample i alone (its own mean). (The
    // forward passes below replace `out`, so it is not read after them.)
    Tensor<Reference>* no_grad = nullptr;
    double expected = 0;
    for (int64_t i = 0; i < n; ++i) {
      Tensor<Reference> xi(Shape{1, 4}), ti(Shape{1, c.units});
      for (int64_t j = 0; j < 4; ++j) xi[j] = x[i * 4 + j];
      for (int64_t j = 0; j < c.units; ++j) ti[j] = t[i * c.units + j];
      const double li = compute_loss(c.loss, m, m.forward(xi, {}), ti, no_grad).value;
      expected += double(w[size_t(i)]) * li;
    }
    CHECK(weighted == Approx(expected / double(n)).epsilon(1e-6));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c.units; ++j)
        CHECK(g_weighted[i * c.units + j] ==
              Approx(w[size_t(i)] * g_plain[i * c.units + j]).margin(1e-7));
  }
}

TEST_CASE("training: class weights (balanced) pull an imbalanced model toward the rare class",
          "[training]") {
  const test::ThreadCountGuard threads_guard;
  const std::vector<int> labels = {0, 0, 0, 1};
  const std::vector<double> w = balanced_class_weights(labels, 2);
  CHECK(w[0] == Approx(4.0 / 6.0));
  CHECK(w[1] == Approx(2.0));
  CHECK(balanced_class_weights(labels, 3)[2] == 1.0);  // no samples: no effect
  REQUIRE_THROWS_WITH(balanced_class_weights(labels, 1), Catch::Contains("label 1 out of range"));

  // Stripes where only 1 in 8 images is vertical; a short training run. The same seeds with and
  // without balanced weights: the weighted model must call more held-out vertical images
  // vertical (recall of the rare class), since its loss weighs them 4x the horizontal ones.
  set_num_threads(1);
  TensorDataset all = stripes(1200, 11);
  std::vector<int64_t> keep;
  std::vector<int> kept_labels;
  int64_t horizontal = 0, vertical = 0;
  for (int64_t i = 0; i < all.size(); ++i) {
    const bool v = all.y()[i] >= 0.5f;
    if (v && 7 * vertical >= horizontal) continue;  // at most 1 vertical per 7 horizontal
    ++(v ? vertical : horizontal);
    keep.push_back(i);
    kept_labels.push_back(v ? 1 : 0);
  }
  Tensor<Cpu> x, y;
  all.load_batch(keep, 0, x, y);
  TensorDataset train(std::move(x), std::move(y));
  TensorDataset test = stripes(256, 12);
  auto rare_recall = [&](std::vector<double> class_weight) {
    Model<Cpu> model = stripes_cnn(42);
    Adam<Cpu> adam({.learning_rate = 1e-3});
    FitOptions opt = stripes_fit_options(1);
    opt.class_weight = std::move(class_weight);
    fit(model, adam, Loss::binary_crossentropy(), train, opt);
    const Tensor<Cpu> p = model.predict(test.x());
    int64_t rare = 0, found = 0;
    for (int64_t i = 0; i < test.size(); ++i)
      if (test.y()[i] >= 0.5f) {
        ++rare;
        found += p[i] >= 0.5f;
      }
    return double(found) / double(rare);
  };
  const double plain = rare_recall({});
  const double balanced = rare_recall(balanced_class_weights(kept_labels, 2));
  INFO("rare-class recall without weights " << plain << ", balanced " << balanced);
  CHECK(balanced > plain + 0.2);

  Model<Cpu> model = stripes_cnn(1);
  Adam<Cpu> adam;
  FitOptions opt;
  opt.verbose = 0;
  opt.class_weight = {1.0, 2.0, 3.0};
  REQUIRE_THROWS_WITH(fit(model, adam, Loss::binary_crossentropy(), train, opt),
                      Catch::Contains("class_weight has 3 entries for a model with 2 classes"));
  opt.class_weight = {1.0, -1.0};
  REQUIRE_THROWS_WITH(fit(model, adam, Loss::binary_crossentropy(), train, opt),
                      Catch::Contains("class_weight[1] must be a finite number >= 0"));
}

TEST_CASE("training: --tta scores each image as the mean over it and its mirror image",
          "[training]") {
  const test::ThreadCountGuard threads_guard;
  Tensor<Cpu> x(Shape{1, 2, 3, 2}), m;
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(i);
  detail::flip_left_right(x, m);
  // Row 0 pixels (0,1) (2,3) (4,5) -> (4,5) (2,3) (0,1); row 1 likewise.
  CHECK(m.to_vector() == std::vector<float>{4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7});

  set_num_threads(1);
  TensorDataset test = stripes(40, 9);
  Model<Cpu> model = stripes_cnn(5);
  const ClassifierPredictions plain = predict_classes(model, test, 16);
  const ClassifierPredictions tta = predict_classes(model, test, 16, 0.5, true);
  Tensor<Cpu> x_all, y_all, mirrored;
  std::vector<int64_t> all(40);
  std::iota(all.begin(), all.end(), 0);
  test.load_batch(all, 0, x_all, y_all);
  detail::flip_left_right(x_all, mirrored);
  const Tensor<Cpu> p = model.predict(x_all), q = model.predict(mirrored);
  int64_t changed = 0;
  for (int64_t i = 0; i < 40; ++i) {
    const auto k = static_cast<size_t>(i);
    CHECK(plain.scores[k] == Approx(p[i]));
    CHECK(tta.scores[k] == Approx(0.5 * (p[i] + q[i])));
    CHECK(tta.predicted[k] == (0.5f * (p[i] + q[i]) >= 0.5f ? 1 : 0));
    CHECK(tta.truth[k] == plain.truth[k]);
    changed += tta.scores[k] != plain.scores[k];
  }
  CHECK(changed > 0);  // the mirror images do change the scores of this untrained model
  // Targets of another width than the model's output (3 classes for a one-unit head): a clear
  // error, not a read past the targets.
  TensorDataset three(Tensor<Cpu>(Shape{4, 16, 16, 1}), Tensor<Cpu>(Shape{4, 3}));
  REQUIRE_THROWS_WITH(predict_classes(model, three, 16),
                      Catch::Contains("the model's output has shape (1,)") &&
                          Catch::Contains("targets have shape (3,)"));
}

TEST_CASE("training: classify_image with hflip_average is the mean over the photo and its mirror",
          "[training]") {
  // A 16x16 photo with a left-right asymmetric pattern, and the same photo mirrored.
  const test::TempDir dir("moodnet_classify");
  std::vector<uint8_t> px(16 * 16), mirrored(16 * 16);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) px[size_t(r * 16 + c)] = uint8_t((c * c * 7 + r * 13) % 256);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) mirrored[size_t(r * 16 + c)] = px[size_t(r * 16 + 15 - c)];
  test::write_png(dir.path / "photo.png", 16, 16, 1, px);
  test::write_png(dir.path / "mirror.png", 16, 16, 1, mirrored);
  Model<Cpu> model = stripes_cnn(5);
  set_image_metadata(model, {"horizontal", "vertical"}, ColorMode::grayscale);
  const ImageClassification a = classify_image(model, dir.path / "photo.png");
  const ImageClassification b = classify_image(model, dir.path / "mirror.png");
  const ImageClassification ta =
      classify_image(model, dir.path / "photo.png", {.hflip_average = true});
  const ImageClassification tb =
      classify_image(model, dir.path / "mirror.png", {.hflip_average = true});
  REQUIRE(a.probabilities.size() == 2);
  CHECK(a.probabilities[1] != Approx(b.probabilities[1]).margin(1e-6));  // the mirror differs
  CHECK(ta.probabilities[1] ==
        Approx(0.5 * (a.probabilities[1] + b.probabilities[1])).epsilon(1e-6));
  // The same pair of images in the other order within the batch.
  CHECK(ta.probabilities[1] == Approx(tb.probabilities[1]).epsilon(1e-6));
  CHECK(ta.label == (ta.probabilities[1] >= 0.5 ? 1 : 0));
  CHECK(ta.class_name == (ta.label == 1 ? "vertical" : "horizontal"));
  CHECK(ta.confidence == ta.probabilities[size_t(ta.label)]);
  // A model file whose colour mode does not match its input (16x16x1 read as RGB): a clear
  // error, not a read past the decoded pixels.
  model.metadata()["color_mode"] = "rgb";
  REQUIRE_THROWS_WITH(classify_image(model, dir.path / "photo.png"),
                      Catch::Contains("input has 1 channel(s) but its color_mode 'rgb' gives 3"));
}
