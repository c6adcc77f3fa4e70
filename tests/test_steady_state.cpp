// After warm-up, a training step (forward, loss, backward, L2 penalty, Adam) and a predict call
// perform no heap allocation: every operator new in this binary is counted while a step runs.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <moodnet/moodnet.hpp>
#include <new>
#include <string>

#include "thread_count.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

// Replacements for the global allocation functions (all forms, so new and delete stay paired).
void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace moodnet;

Tensor<Cpu> random_tensor(const Shape& s, uint64_t seed) {
  Tensor<Cpu> t(s);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data()[i] = static_cast<float>(random_uniform(seed, 1, static_cast<uint64_t>(i)));
  return t;
}

// Allocations made by `steps` training steps after `warmup` steps.
long allocations_in_training(const std::string& arch, const Shape& input, int64_t batch) {
  Model<Cpu> model = zoo::build<Cpu>(arch, 7, input);
  Adam<Cpu> adam({.learning_rate = 1e-3});
  const Shape out = model.output_shape();
  const Loss loss = out[0] == 1 ? Loss::binary_crossentropy() : Loss::categorical_crossentropy();
  Shape xs{batch}, ys{batch};
  for (int64_t d : input.dims()) xs.push_back(d);
  for (int64_t d : out.dims()) ys.push_back(d);
  const Tensor<Cpu> x = random_tensor(xs, 1);
  Tensor<Cpu> y(ys);
  for (int64_t i = 0; i < y.size(); ++i) y.data()[i] = out[0] == 1 ? float(i % 2) : 0.0f;
  if (out[0] > 1)
    for (int64_t n = 0; n < batch; ++n) y.data()[n * out[0] + n % out[0]] = 1.0f;
  Tensor<Cpu> grad;
  auto params = model.trainable_parameters();
  model.zero_grad();
  auto step = [&](uint64_t i) {
    const Tensor<Cpu>& o = model.forward(x, TrainStep{3, i});
    const LossResult<Cpu> r = compute_loss(loss, model, o, y, &grad);
    model.backward(grad, r.grad_is_preactivation);
    (void)detail::l2_penalty(model);
    adam.step(params);
  };
  for (uint64_t i = 0; i < 2; ++i) step(i);
  g_allocations = 0;
  g_counting = true;
  for (uint64_t i = 2; i < 5; ++i) step(i);
  g_counting = false;
  return g_allocations.load();
}

}  // namespace

TEST_CASE("steady state: a training step after warm-up allocates nothing", "[alloc]") {
  const test::ThreadCountGuard threads_guard;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    INFO("threads " << threads);
    CHECK(allocations_in_training("seed004-attempt3", Shape{64, 64, 3}, 4) == 0);
    CHECK(allocations_in_training("seed002", Shape{64, 64, 3}, 4) == 0);
    CHECK(allocations_in_training("seed003", Shape{48, 48, 3}, 4) == 0);
  }
}

TEST_CASE("steady state: predict into a reused tensor allocates nothing after warm-up", "[alloc]") {
  for (const char* arch : {"seed004-attempt3", "seed003"}) {
    INFO(arch);
    const Model<Cpu> model = zoo::build<Cpu>(arch, 7, Shape{48, 48, 3});
    const Tensor<Cpu> x = random_tensor(Shape{5, 48, 48, 3}, 2);
    Tensor<Cpu> out;
    model.predict(x, out, 2);  // warm-up: three batches of 2, 2 and 1
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 3; ++i) model.predict(x, out, 2);
    g_counting = false;
    CHECK(g_allocations.load() == 0);
    // The same numbers as the allocating form.
    const Tensor<Cpu> again = model.predict(x, 2);
    REQUIRE(again.size() == out.size());
    for (int64_t i = 0; i < out.size(); ++i) CHECK(again.data()[i] == out.data()[i]);
  }
}

TEST_CASE("steady state: the counter sees allocations (the check above can fail)", "[alloc]") {
  g_allocations = 0;
  g_counting = true;
  auto* p = new std::vector<float>(100);
  g_counting = false;
  delete p;
  CHECK(g_allocations.load() >= 2);
}
