#!/usr/bin/env bash
# bench/passthrough.sh: how fast the command's output passes through `glasshouse run --profile
# host` (tee(2) + splice(2) to the destination, SHA-256 on a second thread), against the same
# output through a plain pipe. Figures go into docs/performance.md ("Output passthrough").
#
#   sudo bench/passthrough.sh            # 1 GiB, 5 runs of each; prints a table
#   BENCH_MIB=256 BENCH_RUNS=3 sudo bench/passthrough.sh
#
# Each run: a command writes the file to its stdout (`cat FILE`), a reader takes it from a pipe
# (`cat > /dev/null`). Baseline: `cat FILE | cat > /dev/null`. Traced: `glasshouse run --profile
# host --quiet --receipt R -- cat FILE | cat > /dev/null`, start-up and receipt included. The
# median wall time of the runs is reported, with the throughput it gives.
set -euo pipefail
cd "$(dirname "$0")/.."

mib=${BENCH_MIB:-1024}
runs=${BENCH_RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -z ${GLASSHOUSE:-} ]]; then
  cargo build --release -p glasshouse >&2
  GLASSHOUSE=target/release/glasshouse
fi
cp "$GLASSHOUSE" "$work/glasshouse"
head -c "${mib}M" /dev/urandom > "$work/data"
# Warm the page cache and a kept program set, so neither is measured.
cat "$work/data" > /dev/null
"$work/glasshouse" run --profile host --quiet --receipt "$work/r.json" -- true

# Median of $runs wall times (seconds) of the pipeline given as a string.
median() {
  local t
  for _ in $(seq "$runs"); do
    t=$( { /usr/bin/time -f %e bash -c "$1" > /dev/null; } 2>&1 | tail -1 )
    echo "$t"
  done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

base=$(median "cat '$work/data' | cat > /dev/null")
traced=$(median "'$work/glasshouse' run --profile host --quiet --receipt '$work/r.json' -- cat '$work/data' | cat > /dev/null")
expected=$(sha256sum "$work/data" | cut -d' ' -f1)
recorded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["stdout_hash"])' "$work/r.json")
[[ $expected == "$recorded" ]] || { echo "passthrough: the receipt's stdout_hash is wrong" >&2; exit 1; }

awk -v mib="$mib" -v b="$base" -v t="$traced" 'BEGIN {
  gib = mib / 1024
  printf "| %d MiB through a pipe | wall (median) | throughput |\n| --- | --- | --- |\n", mib
  printf "| cat FILE \\| cat | %.2f s | %.2f GB/s |\n", b, mib * 1048576 / b / 1e9
  printf "| glasshouse run --profile host -- cat FILE \\| cat | %.2f s | %.2f GB/s |\n", t, mib * 1048576 / t / 1e9
  printf "ratio traced / plain: %.2f\n", t / b
}'
