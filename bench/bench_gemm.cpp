// SGEMM throughput: moodnet's packed sgemm against Eigen's float GEMM on the same shapes and
// thread count, plus the machine's AVX-512 FMA peak to read the GEMM numbers against.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "conv_shapes.hpp"  // bench_data
#include "moodnet/config.hpp"
#include "moodnet/kernels/cpu/sgemm.hpp"

#if MOODNET_SGEMM_X86
#include <immintrin.h>  // the peak-FMA probe below (the library itself does not need it)
#endif

#if defined(MOODNET_BENCH_HAVE_EIGEN)
#include <Eigen/Core>
#endif

namespace {

void set_gflops(benchmark::State& state, int64_t M, int64_t N, int64_t K) {
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * double(M) * double(N) * double(K) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const auto a = moodnet::bench::bench_data(M * K, 1), b = moodnet::bench::bench_data(K * N, 2);
  moodnet::bench::Buffer c(static_cast<size_t>(M * N));
  for (auto _ : state) {
    moodnet::cpu::sgemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, M, N, K);
  state.SetLabel(std::string(moodnet::cpu::to_string(moodnet::cpu::active_isa())) +
                 " threads=" + std::to_string(moodnet::num_threads()));
}
BENCHMARK(BM_Gemm)
    ->Args({256, 256, 256})
    ->Args({1024, 1024, 1024})
    ->Args({2048, 2048, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

#if defined(MOODNET_BENCH_HAVE_EIGEN)
void BM_EigenGemm(benchmark::State& state) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const auto a = moodnet::bench::bench_data(M * K, 1), b = moodnet::bench::bench_data(K * N, 2);
  moodnet::bench::Buffer c(static_cast<size_t>(M * N));
  Eigen::Map<const Mat> ma(a.data(), M, K), mb(b.data(), K, N);
  Eigen::Map<Mat> mc(c.data(), M, N);
  Eigen::setNbThreads(moodnet::num_threads());
  for (auto _ : state) {
    mc.noalias() = ma * mb;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, M, N, K);
  state.SetLabel(std::string(Eigen::SimdInstructionSetsInUse()) +
                 " threads=" + std::to_string(Eigen::nbThreads()));
}
BENCHMARK(BM_EigenGemm)
    ->Args({256, 256, 256})
    ->Args({1024, 1024, 1024})
    ->Args({2048, 2048, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#endif

#if MOODNET_SGEMM_X86
// 16 independent accumulator chains hide the FMA latency on two 512-bit pipes.
__attribute__((target("avx512f"), noipa)) float peak_fma_kernel(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];  // (_mm512_reduce_add_ps trips GCC 12's -Wuninitialized)
  _mm512_store_ps(lanes, s);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}

// The peak of moodnet::num_threads() cores (OMP_NUM_THREADS), like BM_Gemm: read a GEMM row
// against the peak row of the same thread count.
void BM_PeakFma(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("no AVX-512");
    return;
  }
  constexpr int64_t kIters = 1 << 20;
  const int threads = moodnet::num_threads();
  int team = 1;  // the threads that ran the loop (fewer than asked under OMP_DYNAMIC or limits)
  for (auto _ : state) {
    float sum = 0;
    int ran = 0;
    MOODNET_OMP(omp parallel num_threads(threads) reduction(+ : sum, ran)) {
      sum += peak_fma_kernel(kIters);
      ++ran;
    }
    team = ran;
    benchmark::DoNotOptimize(sum);
  }
  // 16 accumulators x 16 lanes x 2 flops per iteration, on each thread.
  state.counters["GFLOPS"] = benchmark::Counter(double(kIters) * 16 * 16 * 2 * team * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("avx512 fma threads=" + std::to_string(team));
}
BENCHMARK(BM_PeakFma)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace
