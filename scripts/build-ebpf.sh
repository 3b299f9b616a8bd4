#!/usr/bin/env bash
# Rebuilds the sensor's BPF object from its C sources, reproducibly, and records which sources
# it was built from. Needs Debian's clang and llvm (llvm-strip) and libbpf-dev (bpf_helpers.h).
#   scripts/build-ebpf.sh            rebuild crates/glasshouse-sensor/bpf/glasshouse.bpf.o
#   scripts/build-ebpf.sh --vmlinux  also regenerate bpf/vmlinux.h from this kernel's BTF (bpftool)
set -euo pipefail
cd "$(dirname "$0")/.."
bpf=crates/glasshouse-sensor/bpf

if [[ "${1:-}" == "--vmlinux" ]]; then
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$bpf/vmlinux.h"
fi
for tool in clang llvm-strip; do
  command -v "$tool" >/dev/null || { echo "build-ebpf: $tool is missing: apt-get install clang llvm libbpf-dev" >&2; exit 1; }
done

# The prefix map keeps this checkout's location out of the object, so every checkout builds
# the same bytes with the same clang.
clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 \
  -ffile-prefix-map="$PWD"=. -fdebug-prefix-map="$PWD"=. \
  -I"$bpf" -c "$bpf/glasshouse.bpf.c" -o "$bpf/glasshouse.bpf.o.tmp"
# -g stays for BTF (CO-RE needs it); DWARF goes.
llvm-strip -g "$bpf/glasshouse.bpf.o.tmp"
mv "$bpf/glasshouse.bpf.o.tmp" "$bpf/glasshouse.bpf.o"

# The record of what the object was built from: checked by the sensor's tests.
(cd "$bpf" && sha256sum glasshouse.bpf.c glasshouse.h syscalls.h vmlinux.h) > "$bpf/SOURCES.sha256"
echo "build-ebpf: $bpf/glasshouse.bpf.o ($(stat -c %s "$bpf/glasshouse.bpf.o") bytes) with $(clang --version | head -1)"
