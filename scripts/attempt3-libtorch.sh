#!/usr/bin/env bash
# The libtorch reference for seed004-attempt3 under seed 004's protocol (docs/ACCURACY.md):
# exports moodnet's split of a folder (bench/export_split.cpp: stratified 75/25, split seed 42,
# 150x150 RGB in [0, 1]) and trains bench/attempt3_libtorch.cpp on exactly those tensors, seeds
# FIRST..LAST. Needs Debian's libtorch-dev (not a dependency of moodnet) and a moodnet build dir.
#   bash scripts/attempt3-libtorch.sh BUILD_DIR DATA_DIR FIRST_SEED LAST_SEED
# e.g. bash scripts/attempt3-libtorch.sh build/rel ../shared/data/getty-happy-sad/all 1 16
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1 data=$2 first=$3 last=$4
cmake --build "$build" --target export_split >/dev/null
prefix=$build/attempt3-split-$(basename "$(dirname "$data")")
"$build/bench/export_split" "$data" 150 150 0.25 42 "$prefix"
out=build/attempt3_libtorch
mkdir -p build
if [[ ! -x $out || bench/attempt3_libtorch.cpp -nt $out ]]; then
  g++ -O2 -std=c++17 -DNDEBUG bench/attempt3_libtorch.cpp -o "$out" \
    -I/usr/include/torch/csrc/api/include -ltorch -ltorch_cpu -lc10 -Wl,--no-as-needed
fi
exec "$out" "$prefix" "$first" "$last"
