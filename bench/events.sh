#!/usr/bin/env bash
# bench/events.sh: what the live event stream (`run --events`) costs. A traced run of N distinct
# failed opens (bench/failopen.c: N new receipt entries, so N lines of the stream) is timed
# without a stream, with the stream written to a file, and with the stream on stderr piped to a
# reader; for each: the median wall time, the median CPU time (user + system of glasshouse and
# the command it reaped), glasshouse's median peak RSS, the lines that reached the reader and
# those dropped (the end line's `dropped`). Variants are interleaved in each round, after one
# untimed warm-up round. See docs/performance.md, "Event stream".
#
#   sudo bench/events.sh        BENCH_N [200000], BENCH_RUNS [5],
#                               GLASSHOUSE [unset: cargo build --release, target/release/glasshouse]
#
# Only processes this script started run; the temporary directory is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-200000}
RUNS=${BENCH_RUNS:-5}
if [ -z "${GLASSHOUSE:-}" ]; then
  cargo build -q --release -p glasshouse
  GLASSHOUSE=$PWD/target/release/glasshouse
fi
tmp=$(mktemp -d /tmp/gh-bench-events.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/failopen" bench/failopen.c
mkdir "$tmp/nx"

# run VARIANT: one traced run; appends "ms rss_kb lines dropped" to $tmp/VARIANT.
run() {
  local variant=$1 start end out="$tmp/$1.jsonl"
  rm -f "$out"
  start=$(date +%s%N)
  case $variant in
    none)
      /usr/bin/time -f '%M %U %S' -o "$tmp/rss" "$GLASSHOUSE" run --profile host -q --receipt "$tmp/r.json" \
        -- "$tmp/failopen" "$N" "$tmp/nx" ;;
    file)
      /usr/bin/time -f '%M %U %S' -o "$tmp/rss" "$GLASSHOUSE" run --profile host -q --receipt "$tmp/r.json" \
        --events "$out" -- "$tmp/failopen" "$N" "$tmp/nx" ;;
    pipe)
      { /usr/bin/time -f '%M %U %S' -o "$tmp/rss" "$GLASSHOUSE" run --profile host -q --receipt "$tmp/r.json" \
        --events - -- "$tmp/failopen" "$N" "$tmp/nx" 2>&1 >/dev/null; } | grep '^{' >"$out" ;;
  esac
  end=$(date +%s%N)
  local lines=0 dropped=0
  if [ -f "$out" ]; then
    lines=$(wc -l <"$out")
    dropped=$(grep '"type":"end"' "$out" | jq -r .dropped)
  fi
  read -r rss user sys <"$tmp/rss"
  local cpu_ms
  cpu_ms=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%d", (u + s) * 1000}')
  echo "$(( (end - start) / 1000000 )) $rss $lines ${dropped:-?} $cpu_ms" >>"$tmp/$variant"
}

median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

variants=(none file pipe)
for v in "${variants[@]}"; do run "$v"; rm -f "$tmp/$v"; done # warm-up
for ((round = 0; round < RUNS; round++)); do
  if (( round % 2 )); then order=(pipe file none); else order=("${variants[@]}"); fi
  for v in "${order[@]}"; do run "$v"; done
done

echo "failed opens per run: $N, rounds: $RUNS ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-6s %10s %14s %12s %10s %9s\n' stream ms_median cpu_ms_median rss_kb_median lines dropped
base=$(cut -d' ' -f1 "$tmp/none" | median)
for v in "${variants[@]}"; do
  ms=$(cut -d' ' -f1 "$tmp/$v" | median)
  rss=$(cut -d' ' -f2 "$tmp/$v" | median)
  lines=$(cut -d' ' -f3 "$tmp/$v" | median)
  dropped=$(cut -d' ' -f4 "$tmp/$v" | sort -u | tr '\n' ' ')
  cpu=$(cut -d' ' -f5 "$tmp/$v" | median)
  printf '%-6s %10s %14s %12s %10s %9s  (x%s)\n' "$v" "$ms" "$cpu" "$rss" "$lines" "$dropped" \
    "$(awk -v a="$ms" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
done
