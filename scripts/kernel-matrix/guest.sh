#!/bin/sh
# The kernel matrix's guest side: run by the guest init (init.c) inside the booted kernel, from
# the host's root file system (read-only, under a tmpfs overlay). Mounts what the tests need,
# runs the test binaries the plan names and reports on the second serial port (/dev/ttyS1),
# one record a line, which scripts/kernel-matrix.sh reads back:
#   KM-INFO <text>                       facts about the guest
#   KM-LOG <suite> <line>                the test binary's own output, verbatim
#   KM-RESULT <ok|FAILED|ignored> <suite>::<test> <seconds>
#   KM-OUTCOME <ok|failed|ignored> <suite>::<test>   libtest's own log, after the suite: the
#                                        fallback for a result line that other output broke
#   KM-SUITE-END <suite> <exit status>
#   KM-DONE
# The plan (a shell fragment the host wrote before boot) sets KM_CWD, KM_SUITES ("suite=path"
# words) and, per suite, KM_FILTER_<suite> (libtest arguments).
set -u
plan=$1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up

out=/dev/ttyS1
stty -F "$out" raw -echo 2>/dev/null
exec 3>"$out"
report() { printf '%s\n' "$*" >&3; }

. "$plan"
report "KM-INFO kernel $(uname -r)"
report "KM-INFO cpus $(nproc) memory_kib $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
if [ -e /sys/kernel/btf/vmlinux ]; then
  report "KM-INFO btf yes"
else
  report "KM-INFO btf MISSING: the sensor cannot load"
fi

cd "$KM_CWD" || report "KM-INFO cannot cd to $KM_CWD"
# One run before the tests: the boot's first load (verifier, relocation) takes minutes under TCG,
# and would otherwise eat into the first test's deadline.
if [ -x "${KM_WARMUP:-}" ]; then
  start=$(date +%s)
  "$KM_WARMUP" run --profile host --receipt /tmp/km-warmup.json -- /bin/true >/dev/null 2>&1
  report "KM-INFO warm-up run: exit $? in $(($(date +%s) - start)) s"
fi
for entry in $KM_SUITES; do
  suite=${entry%%=*}
  bin=${entry#*=}
  eval "filter=\${KM_FILTER_$suite:-}"
  last=$(date +%s.%N)
  # One test at a time: each result line then closes that test, and its time is the time since
  # the previous line (the first one also carries the start and the testers' compilation).
  # shellcheck disable=SC2086 # the filter is a list of words, written by the host
  logfile=/tmp/km-outcomes-$suite
  { "$bin" --test-threads=1 --logfile "$logfile" $filter 2>&1; echo "KM-EXIT $?"; } | while IFS= read -r line; do
    case $line in
      "KM-EXIT "*)
        while read -r outcome name; do
          report "KM-OUTCOME $outcome $suite::$name"
        done <"$logfile"
        report "KM-SUITE-END $suite ${line#KM-EXIT }"
        continue
        ;;
    esac
    report "KM-LOG $suite $line"
    case $line in
      "test "*" ... ok" | "test "*" ... FAILED" | "test "*" ... ignored"*)
        now=$(date +%s.%N)
        name=${line#test }
        name=${name%% ... *}
        status=${line##* ... }
        status=${status%% *}
        report "KM-RESULT $status $suite::$name $(awk -v a="$last" -v b="$now" 'BEGIN { printf "%.1f", b - a }')"
        last=$now
        ;;
    esac
  done
done
report "KM-DONE"
