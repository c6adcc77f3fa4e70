#!/usr/bin/env bash
# Builds the benchmarks and runs them at 1 and 2 threads, writing the results to OUT_DIR
# (default bench-results/): Google Benchmark JSON (GEMM, conv passes, train steps, predictions,
# medians of 10 repetitions) and the side-by-side comparison with oneDNN (table and JSON).
#   scripts/bench.sh [OUT_DIR]          QUICK=1 for a short run (3 repetitions)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench-results}
mkdir -p "$out"
# oneDNN's CMake config needs OpenCL's headers and loader (Debian builds it with the OCL runtime).
if ! dpkg -s libdnnl-dev ocl-icd-opencl-dev >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    libdnnl-dev ocl-icd-opencl-dev </dev/null
fi
cmake -S "$root" -B "$root/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMOODNET_BUILD_TESTS=OFF -DMOODNET_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$root/build/bench" -j2
reps=10
[ "${QUICK:-0}" = 1 ] && reps=3
lscpu >"$out/cpu.txt"
for t in 1 2; do
  OMP_NUM_THREADS=$t "$root/build/bench/bench/moodnet_bench" \
    --benchmark_repetitions=$reps --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 --benchmark_out="$out/moodnet_bench_t$t.json" \
    --benchmark_out_format=json | tee "$out/moodnet_bench_t$t.txt"
  if [ -x "$root/build/bench/bench/compare_onednn" ]; then
    OMP_NUM_THREADS=$t "$root/build/bench/bench/compare_onednn" --reps $reps \
      --json-out "$out/compare_onednn_t$t.json" | tee "$out/compare_onednn_t$t.txt"
  fi
done
