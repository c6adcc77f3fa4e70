// Whole models: BM_TrainStep/<model> (batch 32, fer-cnn 64 as issue 5 trains it: forward, loss,
// backward, L2 penalty, Adam) and
// BM_Predict/<model>/<batch> for batch 1 and 32, items_per_second = images per second.
#include <benchmark/benchmark.h>

#include <moodnet/moodnet.hpp>
#include <string>

namespace {

using namespace moodnet;

Tensor<Cpu> random_batch(const Shape& sample, int64_t n, uint64_t seed) {
  // (with_batch: GCC 12 -O3 saw a bogus free-nonheap-object in a loop over dims())
  Tensor<Cpu> t(sample.with_batch(n));
  for (int64_t i = 0; i < t.size(); ++i)
    t[i] = static_cast<float>(random_uniform(seed, 7, static_cast<uint64_t>(i)));
  return t;
}

std::string label() {
  return std::string(cpu::to_string(cpu::active_isa())) +
         " threads=" + std::to_string(num_threads());
}

// One training step exactly as fit() runs it, on fixed data (no loading).
void BM_TrainStep(benchmark::State& state, const std::string& arch, int64_t batch) {
  Model<Cpu> model = zoo::build<Cpu>(arch, 1);
  const Tensor<Cpu> x = random_batch(model.input_shape(), batch, 2);
  Tensor<Cpu> y(model.output_shape().with_batch(batch));
  for (int64_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(i % 2);
  const Loss loss = Loss::binary_crossentropy();
  Adam<Cpu> adam({.learning_rate = 1e-3});
  auto params = model.trainable_parameters();
  model.zero_grad();
  Tensor<Cpu> grad;
  uint64_t step = 0;
  auto train_step = [&] {
    const Tensor<Cpu>& out = model.forward(x, TrainStep{3, step++});
    const LossResult<Cpu> r = compute_loss(loss, model, out, y, &grad);
    model.backward(grad, r.grad_is_preactivation);
    benchmark::DoNotOptimize(detail::l2_penalty(model));
    adam.step(params);
  };
  // Untimed warm-up: the first steps allocate and first-touch every buffer (the steady state
  // allocates nothing; tests/test_steady_state.cpp checks it).
  // As fit() does: denormals flush to zero while training.
  const cpu::ScopedFlushDenormals flush_denormals;
  train_step();
  train_step();
  for (auto _ : state) train_step();
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(label());
}

void BM_Predict(benchmark::State& state, const std::string& arch, int64_t batch) {
  const Model<Cpu> model = zoo::build<Cpu>(arch, 1);
  const Tensor<Cpu> x = random_batch(model.input_shape(), batch, 3);
  Tensor<Cpu> out;
  model.predict(x, out, batch);  // untimed warm-up
  for (auto _ : state) {
    model.predict(x, out, batch);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(label());
}

const int registered = [] {
  for (const std::string arch : {"seed002", "seed004-attempt3", "seed003", "fer-cnn"}) {
    const int64_t train_batch = arch == "fer-cnn" ? 64 : 32;
    benchmark::RegisterBenchmark(
        ("BM_TrainStep/" + arch).c_str(),
        [arch, train_batch](benchmark::State& s) { BM_TrainStep(s, arch, train_batch); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (int64_t batch : {1, 32})
      benchmark::RegisterBenchmark(
          ("BM_Predict/" + arch + "/" + std::to_string(batch)).c_str(),
          [arch, batch](benchmark::State& s) { BM_Predict(s, arch, batch); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  return 0;
}();

}  // namespace
