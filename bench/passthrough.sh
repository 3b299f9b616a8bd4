#!/usr/bin/env bash
# bench/passthrough.sh: how fast the command's output passes through `glasshouse run --profile
# host` (tee(2) + splice(2) to the destination, SHA-256 or, with --output-hash blake3, BLAKE3 on
# a second thread), against the same output through a plain pipe. Figures go into
# docs/performance.md ("Output passthrough").
#
#   sudo bench/passthrough.sh            # 1 GiB, 5 runs of each; prints a table
#   BENCH_MIB=256 BENCH_RUNS=3 sudo bench/passthrough.sh
#
# Each run: a command writes the file to its stdout (`cat FILE`), a reader takes it from a pipe
# (`cat > /dev/null`). Baselines: `cat FILE | cat > /dev/null`, and the same with a third `cat`
# in the middle, where glasshouse's copy sits in a traced run (cat as the passthrough). Traced:
# `glasshouse run --profile host --quiet --receipt R -- cat FILE | cat > /dev/null`, start-up
# and receipt included, with each digest. More rows bound the cost: the tee alone
# (crates/glasshouse-run/examples/passthrough.rs between the two cats: no sensor, no child), with
# each digest, and SHA-256 alone (`openssl dgst -sha256 FILE`, which uses the CPU's SHA
# instructions where it has them). The median wall time of the runs is reported,
# with the throughput it gives, and the median CPU time (user + system of every process of the
# pipeline), which says more than the wall time on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

mib=${BENCH_MIB:-1024}
runs=${BENCH_RUNS:-9}
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

stdout_hash() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["stdout_hash"])' "$1"
}
run="'$work/glasshouse' run --profile host --quiet"
base=$(median "cat '$work/data' | cat > /dev/null")
hop=$(median "cat '$work/data' | cat | cat > /dev/null")
traced=$(median "$run --receipt '$work/r.json' -- cat '$work/data' | cat > /dev/null")
traced_b3=$(median "$run --output-hash blake3 --receipt '$work/b3.json' -- cat '$work/data' | cat > /dev/null")
tee_only=$(median "cat '$work/data' | '$work/passthrough' 2> /dev/null | cat > /dev/null")
tee_b3=$(median "cat '$work/data' | '$work/passthrough' blake3 2> /dev/null | cat > /dev/null")
hash_only=$(median "openssl dgst -sha256 '$work/data'")
expected=$(sha256sum "$work/data" | cut -d' ' -f1)
[[ $expected == "$(stdout_hash "$work/r.json")" ]] || { echo "passthrough: the receipt's stdout_hash is wrong" >&2; exit 1; }
# No BLAKE3 tool on a stock machine: the traced run must agree with the tee alone.
b3=$("$work/passthrough" blake3 < "$work/data" 2>&1 > /dev/null | cut -d' ' -f1)
[[ $b3 == "$(stdout_hash "$work/b3.json")" ]] || { echo "passthrough: the receipt's BLAKE3 stdout_hash is wrong" >&2; exit 1; }

awk -v mib="$mib" -v b="$base" -v c="$hop" -v t="$traced" -v u="$traced_b3" -v e="$tee_only" \
  -v f="$tee_b3" -v h="$hash_only" 'BEGIN {
  split(b, B, " "); split(c, C, " "); split(t, T, " "); split(u, U, " "); split(e, E, " ")
  split(f, F, " "); split(h, H, " ")
  printf "| %d MiB | wall (median) | throughput | CPU (median) |\n| --- | --- | --- | --- |\n", mib
  row("cat FILE \\| cat", B)
  row("cat FILE \\| cat \\| cat (cat as the passthrough)", C)
  row("glasshouse run --profile host -- cat FILE \\| cat", T)
  row("glasshouse run --profile host --output-hash blake3 -- cat FILE \\| cat", U)
  row("cat FILE \\| passthrough \\| cat (the tee alone, SHA-256)", E)
  row("cat FILE \\| passthrough blake3 \\| cat (the tee alone, BLAKE3)", F)
  row("openssl dgst -sha256 FILE (SHA-256 alone)", H)
  printf "ratios by wall time (CPU time), against cat | cat and against cat | cat | cat:\n"
  printf "  SHA-256: %.2f (%.2f), %.2f (%.2f)\n", T[1] / B[1], T[2] / B[2], T[1] / C[1], T[2] / C[2]
  printf "  BLAKE3:  %.2f (%.2f), %.2f (%.2f)\n", U[1] / B[1], U[2] / B[2], U[1] / C[1], U[2] / C[2]
}
function row(name, r) {
  printf "| %s | %.2f s | %.2f GB/s | %.2f s |\n", name, r[1], mib * 1048576 / r[1] / 1e9, r[2]
}'
