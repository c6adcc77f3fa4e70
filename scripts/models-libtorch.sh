#!/usr/bin/env bash
# Issue 3's whole-model targets as ratios against libtorch on this machine: moodnet's
# BM_TrainStep / BM_Predict (bench/bench_models.cpp) and libtorch's same models and passes
# (bench/models_libtorch.cpp) run alternately, ROUNDS times each, with the thread count of
# OMP_NUM_THREADS. Needs Debian's libtorch-dev (not a dependency of moodnet) and a moodnet build
# dir with the benchmarks (-DMOODNET_BUILD_BENCHMARKS=ON).
#   OMP_NUM_THREADS=2 bash scripts/models-libtorch.sh BUILD_DIR [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1 rounds=${2:-2}
cmake --build "$build" --target moodnet_bench >/dev/null
out=build/models_libtorch
mkdir -p build
if [[ ! -x $out || bench/models_libtorch.cpp -nt $out ]]; then
  g++ -O2 -std=c++17 -DNDEBUG bench/models_libtorch.cpp -o "$out" \
    -isystem /usr/include/torch/csrc/api/include -ltorch -ltorch_cpu -lc10 -Wl,--no-as-needed
fi
for ((r = 1; r <= rounds; r++)); do
  echo "== round $r: moodnet"
  "$build/bench/moodnet_bench" \
    --benchmark_filter='BM_(TrainStep|Predict)/(seed002|seed004-attempt3)(/|$)' \
    --benchmark_repetitions=10 --benchmark_report_aggregates_only=true 2>/dev/null |
    grep -E '_median'
  echo "== round $r: libtorch"
  "$out" 10
  "$out" 10 --channels-last
done
