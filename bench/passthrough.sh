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
# host --quiet --receipt R -- cat FILE | cat > /dev/null`, start-up and receipt included. Two
# more rows bound the cost: the tee alone (crates/glasshouse-run/examples/passthrough.rs between
# the two cats: no sensor, no child) and SHA-256 alone (`openssl dgst -sha256 FILE`, which uses
# the CPU's SHA instructions where it has them). The median wall time of the runs is reported,
# with the throughput it gives, and the median CPU time (user + system of every process of the
# pipeline), which says more than the wall time on a shared machine.
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
cargo build --release -p glasshouse-run --example passthrough >&2
cp "$GLASSHOUSE" "$work/glasshouse"
cp target/release/examples/passthrough "$work/passthrough"
head -c "${mib}M" /dev/urandom > "$work/data"
# Warm the page cache and a kept program set, so neither is measured.
cat "$work/data" > /dev/null
"$work/glasshouse" run --profile host --quiet --receipt "$work/r.json" -- true

# Median wall time and median CPU time (seconds) of $runs runs of the pipeline given as a string.
median() {
  local out runs_out
  runs_out=$(for _ in $(seq "$runs"); do
    out=$( { /usr/bin/time -f '%e %U %S' bash -c "$1" > /dev/null; } 2>&1 | tail -1 )
    echo "$out"
  done)
  mid() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  echo "$(awk '{ print $1 }' <<< "$runs_out" | mid) $(awk '{ print $2 + $3 }' <<< "$runs_out" | mid)"
  # Every run, for the spread: on stderr.
  echo "$1" | cut -c1-60 >&2
  awk '{ printf "  wall %s s, CPU %.2f s\n", $1, $2 + $3 }' <<< "$runs_out" >&2
}

base=$(median "cat '$work/data' | cat > /dev/null")
traced=$(median "'$work/glasshouse' run --profile host --quiet --receipt '$work/r.json' -- cat '$work/data' | cat > /dev/null")
tee_only=$(median "cat '$work/data' | '$work/passthrough' 2> /dev/null | cat > /dev/null")
hash_only=$(median "openssl dgst -sha256 '$work/data'")
expected=$(sha256sum "$work/data" | cut -d' ' -f1)
recorded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["stdout_hash"])' "$work/r.json")
[[ $expected == "$recorded" ]] || { echo "passthrough: the receipt's stdout_hash is wrong" >&2; exit 1; }

awk -v mib="$mib" -v b="$base" -v t="$traced" -v e="$tee_only" -v h="$hash_only" 'BEGIN {
  split(b, B, " "); split(t, T, " "); split(e, E, " "); split(h, H, " ")
  printf "| %d MiB | wall (median) | throughput | CPU (median) |\n| --- | --- | --- | --- |\n", mib
  row("cat FILE \\| cat", B)
  row("glasshouse run --profile host -- cat FILE \\| cat", T)
  row("cat FILE \\| passthrough \\| cat (the tee alone)", E)
  row("openssl dgst -sha256 FILE (SHA-256 alone)", H)
  printf "ratio traced / plain: %.2f (wall), %.2f (CPU)\n", T[1] / B[1], T[2] / B[2]
}
function row(name, r) {
  printf "| %s | %.2f s | %.2f GB/s | %.2f s |\n", name, r[1], mib * 1048576 / r[1] / 1e9, r[2]
}'
