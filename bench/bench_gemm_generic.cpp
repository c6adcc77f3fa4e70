// The generic ISA's two GEMMs in one process (target gemm_generic_bench, built with
// MOODNET_WITH_EIGEN): sgemm's own packed path with the portable microkernel, and the Eigen
// fallback that sgemm uses for the generic ISA when moodnet is configured with
// -DMOODNET_WITH_EIGEN=ON (the default off x86). Machines without AVX2 run one or the other.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "conv_shapes.hpp"  // bench_data
#include "moodnet/kernels/cpu/sgemm.hpp"

namespace {

// range(0) = M = N = K; range(1) = 0: portable packed path, 1: Eigen fallback.
void BM_GemmGeneric(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool eigen = state.range(1) == 1;
  const auto a = moodnet::bench::bench_data(n * n, 1), b = moodnet::bench::bench_data(n * n, 2);
  moodnet::bench::Buffer c(static_cast<size_t>(n * n));
  moodnet::cpu::force_isa(moodnet::cpu::Isa::generic);
  for (auto _ : state) {
    if (eigen)
      moodnet::cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    else
      moodnet::cpu::detail::sgemm_packed(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n,
                                         0.0f, c.data(), n, true);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(eigen ? moodnet::cpu::gemm_backend() : "generic packed") +
                 " threads=" + std::to_string(moodnet::num_threads()));
  moodnet::cpu::force_isa(std::nullopt);
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * double(n) * double(n) * double(n) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GemmGeneric)
    ->ArgNames({"n", "eigen"})
    ->ArgsProduct({{256, 1024, 2048}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
