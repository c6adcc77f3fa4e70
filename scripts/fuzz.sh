#!/usr/bin/env bash
# Fuzzes moodnet with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer (clang from
# Debian). Two harnesses:
#   decode  image decode + resize (tests/fuzz/fuzz_decode.cpp); seeds: tests/fuzz/corpus plus a
#           few files of every data set in ../shared/data when present;
#   json    moodnet::Value::parse and model_from_architecture, i.e. a model file's JSON header
#           (tests/fuzz/fuzz_json.cpp); seeds: tests/fuzz/corpus_json.
#   scripts/fuzz.sh [SECONDS] [decode|json]     (defaults: 600, decode)
set -euo pipefail
seconds=${1:-600}
harness=${2:-decode}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_DIR:-$root/build/fuzz}/$harness
mkdir -p "$out/corpus" "$out/artifacts"
if ! command -v clang++ >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y --no-install-recommends clang libclang-rt-14-dev
fi
if [ "$harness" = json ]; then
  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/include" "$root/tests/fuzz/fuzz_json.cpp" -o "$out/fuzz_json"
  cp -n "$root"/tests/fuzz/corpus_json/* "$out/corpus/" 2>/dev/null || true
  echo "fuzzing the JSON reader for $seconds s with $(ls "$out/corpus" | wc -l) seed files"
  "$out/fuzz_json" "$out/corpus" -artifact_prefix="$out/artifacts/" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=8192 -print_final_stats=1 2>&1 | tail -n 25
  echo "crashes, leaks, timeouts, out-of-memory: $(ls "$out/artifacts" | grep -cE "^(crash|leak|timeout|oom)-")"
  exit 0
fi
[ "$harness" = decode ] || { echo "unknown harness '$harness' (decode or json)" >&2; exit 2; }
# nonnull-attribute is off: stb passes a null buffer to memcpy with length 0 on an empty PNG
# IDAT chunk (UB on paper, a no-op in glibc), which would stop every run at the first such file.
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize=nonnull-attribute \
  -fno-sanitize-recover=undefined \
  -I"$root/include" "$root/tests/fuzz/fuzz_decode.cpp" -o "$out/fuzz_decode"
cp -n "$root"/tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
shared="$root/../shared/data"
if [ -d "$shared" ]; then
  # A handful of real files of every set: baseline and progressive JPEG, gray, palette and
  # RGBA PNG, tiny and huge images.
  find "$shared" -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) -size -200k |
    sort | awk 'NR % 400 == 1' | head -n 80 | while read -r f; do cp -n "$f" "$out/corpus/"; done
fi
echo "fuzzing for $seconds s with $(ls "$out/corpus" | wc -l) seed files"
"$out/fuzz_decode" "$out/corpus" -artifact_prefix="$out/artifacts/" -max_total_time="$seconds" \
  -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 2>&1 | tail -n 25
echo "crashes, leaks, timeouts, out-of-memory: $(ls "$out/artifacts" | grep -cE "^(crash|leak|timeout|oom)-")"
