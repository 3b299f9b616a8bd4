#!/usr/bin/env bash
# bench/readers.sh: how the readers of glasshouse scale (issue 11 item 10): the time to parse a
# policy of tens of thousands of rules, and the peak memory of `glasshouse policy check` on a
# receipt of hundreds of megabytes. Needs no root and no BPF; docs/performance.md explains the
# figures.
#
#   bench/readers.sh
#
# Environment (defaults in brackets):
#   BENCH_RULES ["10000 20000 40000"]   rule counts of the generated policies
#   BENCH_RECEIPT_MB ["50 200"]         sizes of the generated receipts, in MB
#   BENCH_RUNS [5]                      parses per policy (the median is reported)
#   GLASSHOUSE []                       glasshouse binary to measure; unset: a release build of
#                                       this checkout
#   BENCH_KEEP [0]                      1: keep the generated files
set -euo pipefail
cd "$(dirname "$0")/.."

rules=${BENCH_RULES:-10000 20000 40000}
sizes=${BENCH_RECEIPT_MB:-50 200}
runs=${BENCH_RUNS:-5}
test -x /usr/bin/time || { echo "bench/readers.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

echo "== building (release)"
cargo build --release -q -p glasshouse-policy --example parse_time
if [[ -z ${GLASSHOUSE:-} ]]; then
  cargo build --release -q -p glasshouse
  GLASSHOUSE=target/release/glasshouse
fi
parse_time=target/release/examples/parse_time

work=$(mktemp -d /tmp/glasshouse-readers.XXXXXX)
if [[ ${BENCH_KEEP:-0} != 1 ]]; then trap 'rm -rf "$work"' EXIT; else echo "files kept in $work"; fi

echo "== generating inputs"
for n in $rules; do python3 bench/gen_readers.py policy "$n" "$work/policy-$n.toml"; done
for mb in $sizes; do python3 bench/gen_readers.py receipt "$mb" "$work/receipt-$mb.json"; done
python3 bench/gen_readers.py receipt 0 "$work/receipt-tiny.json"
cat >"$work/one-rule.toml" <<'TOML'
version = 1
default = "allow"

[[rule]]
effect = "deny"
action = "read"
target = "${HOME}/.ssh/**"
reason = "SSH keys are secrets"
TOML

echo "== policy parse time (Policy::parse alone, median of $runs)"
for n in $rules; do "$parse_time" --runs "$runs" "$work/policy-$n.toml"; done

echo "== glasshouse policy check with each policy on a tiny receipt (whole process)"
for n in $rules; do
  /usr/bin/time -f "policy-$n.toml: %e s wall, %U s user + %S s system CPU, %M KiB peak" \
    "$GLASSHOUSE" policy check --policy "$work/policy-$n.toml" "$work/receipt-tiny.json" >/dev/null 2>"$work/err" || true
  tail -1 "$work/err"
done

echo "== glasshouse policy check on large receipts: peak RSS against the file's size"
for mb in $sizes; do
  f="$work/receipt-$mb.json"
  bytes=$(stat -c %s "$f")
  /usr/bin/time -f "%e %M" "$GLASSHOUSE" policy check --policy "$work/one-rule.toml" "$f" >/dev/null 2>"$work/err" || true
  read -r secs kib < <(tail -1 "$work/err")
  awk -v b="$bytes" -v k="$kib" -v s="$secs" -v f="receipt-$mb.json" \
    'BEGIN { printf "%s: %.1f MB file, %.1f MB peak RSS (%.2fx the file), %s s wall\n", f, b/1e6, k*1024/1e6, k*1024/b, s }'
done
