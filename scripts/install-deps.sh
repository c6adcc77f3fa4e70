#!/usr/bin/env bash
# Installs everything moodnet builds with, from Debian's archive (Debian 12).
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  g++ clang cmake ninja-build catch2 libeigen3-dev libstb-dev nlohmann-json3-dev libcli11-dev \
  libomp-dev libbenchmark-dev </dev/null
