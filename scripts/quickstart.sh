#!/usr/bin/env bash
# The main job in one command: install the dependencies, build the `moodnet` program, then train
# and evaluate a happy/sad model. Extra arguments go to `moodnet train` (e.g. --data DIR); with
# none it trains on the embedded sample in data/sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOODNET_BUILD_TESTS=OFF \
  -DMOODNET_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target moodnet_cli
exec build/release/examples/moodnet train "$@"
