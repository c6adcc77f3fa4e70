#!/usr/bin/env bash
# Builds and runs bench/fer_cnn_libtorch.cpp, the libtorch reference for fer-cnn on fer2013
# (docs/ACCURACY.md, fer-cnn section). Needs Debian's libtorch-dev (PyTorch 1.13 C++ API) and
# libstb-dev; neither is a dependency of moodnet. Arguments go to the program, e.g.
#   bash scripts/fer-libtorch.sh --train ../shared/data/fer2013/train \
#     --test ../shared/data/fer2013/test --classes happy,sad --epochs 15 --seed 1 --blur-test 3
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fer_cnn_libtorch
mkdir -p build
if [[ ! -x $out || bench/fer_cnn_libtorch.cpp -nt $out ]]; then
  g++ -O2 -std=c++17 -DNDEBUG bench/fer_cnn_libtorch.cpp -o "$out" \
    -I/usr/include/torch/csrc/api/include -ltorch -ltorch_cpu -lc10 -Wl,--no-as-needed
fi
exec "$out" "$@"
