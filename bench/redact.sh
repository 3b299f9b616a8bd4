#!/usr/bin/env bash
# Redaction cost on synthetic receipts of growing size (release build). Usage: bench/redact.sh [N...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p glasshouse-redact --example throughput
for n in "${@:-10000 100000 1000000}"; do
  target/release/examples/throughput "$n"
done
