#!/usr/bin/env bash
# Reproduces the rows of docs/ACCURACY.md: runs the exact `moodnet` command of every row for every
# seed and appends one JSON line per run to a results file (the CLI's --json object plus the row,
# the seed, the command, the date, the machine and its load average when the run started). The
# full console output of each run (one line per epoch: loss and accuracy) goes to LOG_DIR.
#
#   scripts/reproduce-accuracy.sh [-g GROUP]... [-r ROW]... [-s "1 2 3"] [-o FILE] [-l LOG_DIR]
#                                 [-b MOODNET] [-d DATA_DIR] [-n] [--list]
#
#   -g GROUP  run only this group (repeatable; default: every group, in the order below)
#   -r ROW    run only this row (repeatable; a row id as --list prints it)
#   -s SEEDS  the --seed values (default "1 2 3"; tune rows use the seed as the search seed)
#   -o FILE   results file, appended to (default docs/accuracy/runs.jsonl)
#   -l DIR    console logs (default build/accuracy-logs)
#   -b FILE   the moodnet program (default build/rel/examples/moodnet)
#   -d DIR    the shared data folder (default ../shared/data, relative to the repository root)
#   -n        print the commands, run nothing
#   --list    print the groups and rows
# Each run saves its model to LOG_DIR; it is deleted afterwards unless KEEP_MODELS=1.
#
# Groups (issue 5's priority order):
#   seed004   seed004-initial, -attempt1, -attempt2, -attempt3, -attempt5 on getty-happy-sad
#   tune      seed004-attempt4 (the random search, 10 trials x 15 epochs) on getty-happy-sad
#   seed00x   seed001, seed002, seed002-bn on google-happy-sad
#   seed000   seed000-baseline and seed000-augment on google-happy-sad and getty-happy-sad
#   seed003   seed003 on fer2013 happy vs neutral and happy vs sad (train -> test/), and on
#             mux-facial-expressions happy vs neutral, grayscale, split by person
#   fer-cnn   fer-cnn (15 epochs, batch 64, hflip, Adam 1e-3) on fer2013 happy vs sad and happy
#             vs neutral (train -> test/)
#   timing    one fer-cnn epoch on all of fer2013/train happy+sad (12,045 images), issue 5's
#             speed yardstick
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

groups=() rows=() seeds="1 2 3" out=docs/accuracy/runs.jsonl logs=build/accuracy-logs
bin=build/rel/examples/moodnet data=../shared/data dry=0 list=0
while [ $# -gt 0 ]; do
  case $1 in
    -g) groups+=("$2"); shift 2 ;;
    -r) rows+=("$2"); shift 2 ;;
    -s) seeds=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    -l) logs=$2; shift 2 ;;
    -b) bin=$2; shift 2 ;;
    -d) data=$2; shift 2 ;;
    -n) dry=1; shift ;;
    --list) list=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "reproduce-accuracy.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The rows: "GROUP|ROW|ARGUMENTS" (ARGUMENTS: everything after `moodnet`, without --seed/--json;
# $D is the data folder, $M the model file of the run). Edit here to add a row.
# Person ids in mux-facial-expressions: the file name without its trailing number
# (AJ_Cook_0001.jpg -> AJ_Cook, HrithikRoshan_12.jpg -> HrithikRoshan).
person='^(.+?)_?[0-9]+\.[A-Za-z]+$'
table=(
  "seed004|seed004-initial/getty|train --data \$D/getty-happy-sad/all --protocol seed004 --arch seed004-initial --split-seed 42"
  "seed004|seed004-attempt1/getty|train --data \$D/getty-happy-sad/all --protocol seed004 --arch seed004-attempt1 --split-seed 42"
  "seed004|seed004-attempt2/getty|train --data \$D/getty-happy-sad/all --protocol seed004 --arch seed004-attempt2 --split-seed 42"
  "seed004|seed004-attempt3/getty|train --data \$D/getty-happy-sad/all --protocol seed004 --split-seed 42"
  "seed004|seed004-attempt5/getty|train --data \$D/getty-happy-sad/all --protocol seed004 --arch seed004-attempt5 --split-seed 42"
  "tune|seed004-attempt4/getty|tune --data \$D/getty-happy-sad/all"
  "seed00x|seed001/google|train --data \$D/google-happy-sad/all --protocol seed001 --split-seed 42"
  "seed00x|seed002/google|train --data \$D/google-happy-sad/all --protocol seed002 --split-seed 42"
  "seed00x|seed002-bn/google|train --data \$D/google-happy-sad/all --protocol seed002 --arch seed002-bn --split-seed 42"
  "seed000|seed000-baseline/google|train --data \$D/google-happy-sad/all --protocol seed000-baseline --split-seed 42"
  "seed000|seed000-augment/google|train --data \$D/google-happy-sad/all --protocol seed000-augment --split-seed 42"
  "seed000|seed000-baseline/getty|train --data \$D/getty-happy-sad/all --protocol seed000-baseline --split-seed 42"
  "seed000|seed000-augment/getty|train --data \$D/getty-happy-sad/all --protocol seed000-augment --split-seed 42"
  "seed003|seed003/fer2013-happy-neutral|train --data \$D/fer2013/train --test-data \$D/fer2013/test --classes happy,neutral --protocol seed003 --split-seed 42"
  "seed003|seed003/fer2013-happy-sad|train --data \$D/fer2013/train --test-data \$D/fer2013/test --classes happy,sad --protocol seed003 --split-seed 42"
  "seed003|seed003/mux-happy-neutral|train --data \$D/mux-facial-expressions/all --classes happy,neutral --protocol seed003 --color grayscale --group-by '$person' --split-seed 42"
  "fer-cnn|fer-cnn/fer2013-happy-sad|train --data \$D/fer2013/train --test-data \$D/fer2013/test --classes happy,sad --protocol fer-best --split-seed 42"
  "timing|fer-cnn/fer2013-happy-sad-1-epoch|train --data \$D/fer2013/train --test-data \$D/fer2013/test --classes happy,sad --protocol fer-best --val-split 0 --epochs 1 --split-seed 42"
  "fer-cnn|fer-cnn/fer2013-happy-neutral|train --data \$D/fer2013/train --test-data \$D/fer2013/test --classes happy,neutral --protocol fer-best --split-seed 42"
)

if [ "$list" = 1 ]; then
  for r in "${table[@]}"; do IFS='|' read -r g id _ <<<"$r"; printf '%-8s %s\n' "$g" "$id"; done
  exit 0
fi
selected() {  # GROUP ROW
  local x
  if [ ${#groups[@]} -gt 0 ]; then
    local hit=0; for x in "${groups[@]}"; do [ "$x" = "$1" ] && hit=1; done
    [ $hit = 1 ] || return 1
  fi
  if [ ${#rows[@]} -gt 0 ]; then
    local hit=0; for x in "${rows[@]}"; do [ "$x" = "$2" ] && hit=1; done
    [ $hit = 1 ] || return 1
  fi
  return 0
}

[ "$dry" = 1 ] || [ -x "$bin" ] || {
  echo "reproduce-accuracy.sh: $bin not found; build it first:" >&2
  echo "  cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/rel --target moodnet_cli" >&2
  exit 2
}
mkdir -p "$(dirname "$out")" "$logs"
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
machine="$(nproc --all) cores, ${cpu:-unknown CPU}"
D=$data
ran=0
for r in "${table[@]}"; do
  IFS='|' read -r g id args <<<"$r"
  selected "$g" "$id" || continue
  for s in $seeds; do
    M=$logs/$(echo "$id" | tr '/' '-')-seed$s.moodnet
    cmd="$bin ${args//\$D/$D} --seed $s --out $M --json"
    if [ "$dry" = 1 ]; then echo "$cmd"; continue; fi
    log=$logs/$(echo "$id" | tr '/' '-')-seed$s.log
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "== $id seed $s: $cmd" >&2
    start=$(date -u +%FT%TZ)
    if ! eval "$cmd" >"$log" 2>&1; then
      echo "   FAILED (see $log)" >&2
      jq -cn --arg g "$g" --arg row "$id" --argjson seed "$s" --arg cmd "$cmd" --arg date "$start" \
        --arg machine "$machine" --arg load "$load" \
        '{group: $g, row: $row, seed: $seed, command: $cmd, date: $date, machine: $machine,
          load_at_start: $load, failed: true}' >>"$out"
      continue
    fi
    # The epoch lines (loss curve) travel with the result; the last stdout line is the JSON.
    jq -c --arg g "$g" --arg row "$id" --argjson seed "$s" --arg cmd "$cmd" --arg date "$start" \
      --arg machine "$machine" --arg load "$load" \
      --arg epochs "$(grep -E '^(epoch|Epoch) ' "$log" || true)" \
      '{group: $g, row: $row, seed: $seed, command: $cmd, date: $date, machine: $machine,
        load_at_start: $load} + . + {epoch_log: ($epochs | split("\n") | map(select(. != "")))}' \
      <<<"$(tail -1 "$log")" >>"$out"
    tail -1 "$out" | jq -r '"   accuracy \(.accuracy // .test.accuracy // "-")  auc \(.auc // .test.auc // "-")  \(.train_seconds // "-") s"' >&2
    ran=$((ran + 1))
    [ "${KEEP_MODELS:-0}" = 1 ] || rm -f "$M"
  done
done
[ "$dry" = 1 ] || echo "$ran runs appended to $out" >&2
