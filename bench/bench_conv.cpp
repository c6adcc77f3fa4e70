// Convolution kernels of the Cpu device on the shapes, one benchmark per pass:
// BM_Conv2D_{Forward,BackwardData,BackwardWeights}/<shape> and BM_DepthwiseConv2D_*/f_dw, each
// with a GFLOPS counter and the active ISA and thread count in the label. Also
// BM_Conv2DMaxPool/<shape>/{separate,fused}: a ReLU conv then a 2x2/2 max pool (with the shape's
// padding) as two kernels, and fused as Model::predict runs them; the GFLOPS counter counts the
// conv alone.
#include <benchmark/benchmark.h>

#include <moodnet/config.hpp>
#include <moodnet/kernels/cpu/ops.hpp>
#include <string>

#include "conv_shapes.hpp"

namespace {

using moodnet::ConvGeometry;
using moodnet::bench::ConvShape;
using Ops = moodnet::ops<moodnet::Cpu>;

enum class Pass { forward, backward_data, backward_weights };

void run_conv(benchmark::State& state, const ConvShape& s, Pass pass) {
  const ConvGeometry g = s.geometry();
  const int64_t wsize = g.kh * g.kw * g.c * (s.depthwise ? 1 : g.f);
  const auto x = moodnet::bench::bench_data(g.n * g.h * g.w * g.c, 1);
  const auto w = moodnet::bench::bench_data(wsize, 2);
  const auto b = moodnet::bench::bench_data(g.f, 3);
  const auto dy = moodnet::bench::bench_data(g.n * g.oh * g.ow * g.f, 4);
  moodnet::bench::Buffer y(dy.size()), dx(x.size()), dw(static_cast<size_t>(wsize)),
      db(static_cast<size_t>(g.f));
  for (auto _ : state) {
    switch (pass) {
      case Pass::forward:
        if (s.depthwise)
          Ops::depthwise_conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
        else
          Ops::conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
        benchmark::DoNotOptimize(y.data());
        break;
      case Pass::backward_data:
        if (s.depthwise)
          Ops::depthwise_conv2d_backward_data(g, dy.data(), w.data(), dx.data());
        else
          Ops::conv2d_backward_data(g, dy.data(), w.data(), dx.data());
        benchmark::DoNotOptimize(dx.data());
        break;
      case Pass::backward_weights:
        if (s.depthwise)
          Ops::depthwise_conv2d_backward_params(g, x.data(), dy.data(), dw.data(), db.data());
        else
          Ops::conv2d_backward_params(g, x.data(), dy.data(), dw.data(), db.data());
        benchmark::DoNotOptimize(dw.data());
        break;
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(s.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(moodnet::cpu::to_string(moodnet::cpu::active_isa())) +
                 " threads=" + std::to_string(moodnet::num_threads()));
}

enum class PoolMode { separate, fused };

void run_conv_pool(benchmark::State& state, const ConvShape& s, PoolMode mode) {
  const ConvGeometry g = s.geometry();
  const moodnet::PoolGeometry p =
      moodnet::PoolGeometry::make(g.n, g.oh, g.ow, g.f, 2, 2, 2, 2, s.padding);
  const auto x = moodnet::bench::bench_data(g.n * g.h * g.w * g.c, 1);
  const auto w = moodnet::bench::bench_data(g.kh * g.kw * g.c * g.f, 2);
  const auto b = moodnet::bench::bench_data(g.f, 3);
  moodnet::bench::Buffer y(static_cast<size_t>(g.n * g.oh * g.ow * g.f)),
      pooled(static_cast<size_t>(p.n * p.oh * p.ow * p.c));
  const auto relu = moodnet::Activation::relu;
  for (auto _ : state) {
    if (mode == PoolMode::separate) {
      Ops::conv2d_forward_act(g, x.data(), w.data(), b.data(), relu, y.data());
      Ops::max_pool2d_forward(p, y.data(), pooled.data());
    } else {
      Ops::conv2d_forward_max_pool(g, x.data(), w.data(), b.data(), relu, p, pooled.data());
    }
    benchmark::DoNotOptimize(pooled.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(s.flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(moodnet::cpu::to_string(moodnet::cpu::active_isa())) +
                 " threads=" + std::to_string(moodnet::num_threads()));
}

const int registered = [] {
  for (const ConvShape& s : moodnet::bench::conv_shapes()) {
    const std::string kind = s.depthwise ? "BM_DepthwiseConv2D_" : "BM_Conv2D_";
    const std::pair<const char*, Pass> passes[] = {{"Forward", Pass::forward},
                                                   {"BackwardData", Pass::backward_data},
                                                   {"BackwardWeights", Pass::backward_weights}};
    for (const auto& [name, pass] : passes)
      benchmark::RegisterBenchmark(
          (kind + name + "/" + s.name).c_str(),
          [s, pass = pass](benchmark::State& st) { run_conv(st, s, pass); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    if (s.depthwise || s.k == 1) continue;
    const std::pair<const char*, PoolMode> modes[] = {{"separate", PoolMode::separate},
                                                      {"fused", PoolMode::fused}};
    for (const auto& [name, mode] : modes)
      benchmark::RegisterBenchmark(
          ("BM_Conv2DMaxPool/" + s.name + "/" + name).c_str(),
          [s, mode = mode](benchmark::State& st) { run_conv_pool(st, s, mode); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  return 0;
}();

}  // namespace
