#!/usr/bin/env bash
# scripts/run-wsl.sh: build what is missing, then run the demo (or a command) under glasshouse's
# kernel sensor and show its receipt. Written for WSL 2, works on any Linux. See --help.
set -euo pipefail

usage() {
  cat <<'HELP'
Usage: scripts/run-wsl.sh [OPTIONS] [-- COMMAND [ARGS...]]

Builds glasshouse if it is not built (cargo build --release), then runs COMMAND, or without one
the demo (python3 demo/sneaky.py), under `glasshouse run --profile host`, and prints the
receipt with `glasshouse show`. The command's exit status is the script's.

Options:
  --capture-argv        ask for argv capture (GLASSHOUSE_CAPTURE_ARGV=1); on WSL it stays off,
                        with a note in the receipt, as WSL's kernels have disturbed it
  --force-capture-argv  capture argv even on WSL (GLASSHOUSE_CAPTURE_ARGV=force)
  --no-capture-argv     never capture argv (GLASSHOUSE_CAPTURE_ARGV=0)
  --receipt PATH        where to write the receipt (default: receipt.json)
  --no-show             do not print the receipt's summary afterwards
  -h, --help            this help

Environment:
  GLASSHOUSE            a glasshouse binary to use instead of building one

Needs: root (the script uses sudo when it is not root), a kernel with BTF
(/sys/kernel/btf/vmlinux), and cargo to build (https://rustup.rs). On WSL 2, BTF and the BPF
features come with Microsoft's recent kernels; see README.md, "WSL".

Examples:
  scripts/run-wsl.sh
  scripts/run-wsl.sh --force-capture-argv -- make test
  scripts/run-wsl.sh --receipt out/r.json -- python3 agent.py
HELP
}

die() { echo "run-wsl.sh: $*" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
capture=${GLASSHOUSE_CAPTURE_ARGV-}
receipt=receipt.json
show=1
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --capture-argv) capture=1 ;;
    --force-capture-argv) capture=force ;;
    --no-capture-argv) capture=0 ;;
    --receipt) (($# >= 2)) || die "--receipt needs a path"; receipt=$2; shift ;;
    --receipt=*) receipt=${1#--receipt=} ;;
    --no-show) show=0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if (($# == 0)); then
  command -v python3 >/dev/null || die "the demo needs python3 (apt-get install python3), or give a command after --"
  set -- python3 "$root/demo/sneaky.py"
fi

if grep -qi microsoft /proc/sys/kernel/osrelease 2>/dev/null; then
  echo "run-wsl.sh: WSL kernel $(uname -r)" >&2
fi
[[ -e /sys/kernel/btf/vmlinux ]] ||
  die "this kernel has no BTF (/sys/kernel/btf/vmlinux): the sensor cannot load; on WSL, update the kernel (wsl --update)"

gh=${GLASSHOUSE-}
if [[ -z $gh ]]; then
  gh=$root/target/release/glasshouse
  if [[ ! -x $gh ]]; then
    command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain (https://rustup.rs), then run this again"
    echo "run-wsl.sh: building glasshouse (cargo build --release)" >&2
    (cd "$root" && cargo build --release -q -p glasshouse)
  fi
fi
[[ -x $gh ]] || die "$gh is not an executable glasshouse"

as_root=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || die "the sensor needs root: run this as root (sudo is not installed)"
  as_root=(sudo)
fi
env_args=()
[[ -n $capture ]] && env_args=(GLASSHOUSE_CAPTURE_ARGV="$capture")

status=0
"${as_root[@]}" env "${env_args[@]}" "$gh" run --profile host --receipt "$receipt" -- "$@" || status=$?
if ((show)) && [[ -f $receipt ]]; then
  echo >&2
  "${as_root[@]}" "$gh" show "$receipt" >&2 || true
fi
exit "$status"
