#!/usr/bin/env bash
# bench/overhead.sh: what `glasshouse run --profile host` costs the command it traces, the rest of
# the machine, and memory (issue 4). One run measures everything and prints a table of medians and
# ratios; docs/performance.md explains the figures.
#
#   sudo bench/overhead.sh                 # as root: the sensor loads eBPF
#
#   1. N open+close of one file: untraced / traced / strace -f
#   2. the same loop in an unrelated process while a traced `sleep` runs / with no glasshouse /
#      with two empty BPF programs on the same hooks (bench/floor.bpf.c: the floor of any sensor)
#      (parts 1 and 2 also report the loop's own ns per iteration: see bench/openclose.c)
#   3. tar round trip of a generated tree, gcc -O2 of a small C file, git init+add+commit of the
#      tree: untraced / traced / strace -f
#   4. `glasshouse run --profile host -- true` vs `true` vs `glasshouse run -- true` vs the same
#      traced run loading its own programs instead of a kept set (10 runs), and where the
#      start-up goes (CPU time; verifier time per program, from strace -T)
#   5. peak RSS of glasshouse, receipt size and sensor coverage on ~1M failure events
#   6. (BENCH_BPF_STATS=1) kernel-side ns per run of gh_sys_enter/gh_sys_exit, in a separate run
#
# Environment (defaults in brackets):
#   BENCH_N [1000000]        iterations of the open+close loop (parts 1, 2, 6); same for all modes
#   BENCH_RUNS [10]          timed rounds per measurement (medians reported)
#   BENCH_LOOP_RUNS [20]     timed rounds for the loops of parts 1 and 2 (their effects are small
#                            next to this VM's drift, so they get more rounds)
#   BENCH_STRACE_RUNS [3]    repetitions for the strace rows (the 1M loop takes ~1 min under strace)
#   BENCH_FILES [5000]       files in the generated tree (part 3)
#   BENCH_FAIL_N [1000000]   failed opens in part 5
#   BENCH_RSS_RUNS [3]       repetitions of part 5
#   BENCH_BPF_STATS [0]      1: add part 6 (turns kernel.bpf_stats_enabled on for it only)
#   BENCH_FLOOR [auto]       0: skip the empty-program variant; it needs clang and libbpf-dev
#   BENCH_PIN_CPU [0]        the CPU the loops of parts 1 and 2 run on (taskset), in every variant,
#                            so that a VM whose vCPUs run at different speeds compares like with
#                            like; `none`: leave them to the scheduler
#   BENCH_WAIT_LOAD []       e.g. 0.7: after building, wait (up to BENCH_WAIT_MAX [1200] s) for
#                            the 1-minute load average to drop below this
#   GLASSHOUSE []            glasshouse binary to measure; unset: `cargo build --release -p
#                            glasshouse` in this checkout and use target/release/glasshouse
#   BENCH_WORK []            directory for the workloads' files (tree, tar output, git dir, the
#                            opened file); unset: a new directory in /dev/shm when it is a tmpfs,
#                            else in /tmp. Binaries and receipts go to a directory in /tmp.
#   BENCH_KEEP [0]           1: keep the temporary directories (receipts, hyperfine JSON)
#
# Runs are interleaved: each round runs every variant of a workload once (untraced, traced, strace),
# in alternating order, so that speed drifting during the run (this matters on a VM) hits all
# variants alike; medians of the rounds are reported, after one untimed warm-up round (none for
# strace), together with the median of the per-round ratios. Each run is timed by hyperfine (-N: no
# intermediate shell; a prepare command, untimed, before each run) when installed, else by the
# script itself. Why the workloads' files are on tmpfs by default: on ext4, tar and git runs that
# follow an `rm -rf` of thousands of files spend most of their time in ext4's inode allocator
# (recently_deleted), which would swamp the cost being measured.
# kernel.bpf_stats_enabled is held at 0 while timing (it adds two clock reads to every BPF program
# run) and restored to its original value at exit. Only processes this script started are ended,
# by pid.
set -euo pipefail

N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-10}
LOOP_RUNS=${BENCH_LOOP_RUNS:-20}
STRACE_RUNS=${BENCH_STRACE_RUNS:-3}
FILES=${BENCH_FILES:-5000}
FAIL_N=${BENCH_FAIL_N:-1000000}
RSS_RUNS=${BENCH_RSS_RUNS:-3}
TRUE_RUNS=10
BPF_STATS=${BENCH_BPF_STATS:-0}
WAIT_LOAD=${BENCH_WAIT_LOAD:-}
WAIT_MAX=${BENCH_WAIT_MAX:-1200}
PIN_CPU=${BENCH_PIN_CPU:-0}

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")

die() {
    echo "overhead.sh: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

[[ $(id -u) -eq 0 ]] || die "run as root: --profile host loads eBPF programs"
for t in cc gcc tar git strace python3; do have "$t" || die "$t is required"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install -y time)"
[[ $PIN_CPU == none ]] || have taskset || die "taskset is required to pin the loops (util-linux), or set BENCH_PIN_CPU=none"
TRUE_BIN=$(type -P true)

T=$(mktemp -d /tmp/gh-bench.XXXXXX)
if [[ -n ${BENCH_WORK:-} ]]; then
    W=$(mktemp -d "$BENCH_WORK/gh-bench-work.XXXXXX")
elif [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs && -w /dev/shm ]]; then
    W=$(mktemp -d /dev/shm/gh-bench-work.XXXXXX)
else
    W=$(mktemp -d /tmp/gh-bench-work.XXXXXX)
fi
BG_PID=""
BPF_STATS_ORIG=""
FLOOR_PID=""
cleanup() {
    if [[ -n $FLOOR_PID ]]; then
        exec 9>&- # the floor loader exits when its stdin closes
        wait "$FLOOR_PID" 2>/dev/null || true
    fi
    if [[ -n $BG_PID ]] && kill -0 "$BG_PID" 2>/dev/null; then
        kill -TERM "$BG_PID" 2>/dev/null || true
        wait "$BG_PID" 2>/dev/null || true
    fi
    if [[ -n $BPF_STATS_ORIG ]]; then
        echo "$BPF_STATS_ORIG" >/proc/sys/kernel/bpf_stats_enabled
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "kept $T $W" >&2
    else
        rm -rf "$T" "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }
gt() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"; }
py() { python3 -c "$@"; }

# How many glasshouse sensors are attached now: links of programs named gh_sys_enter.
attached_sensors() { # kept sets lie detached between runs and cost nothing
    if have bpftool; then
        py '
import json, subprocess
def show(what):
    out = subprocess.run(["bpftool", what, "show", "-j"], capture_output=True, text=True).stdout
    return json.loads(out or "[]")
ids = {p["id"] for p in show("prog") if p.get("name") == "gh_sys_enter"}
print(sum(1 for link in show("link") if link.get("prog_id") in ids))'
    else
        echo "?"
    fi
}
WARNINGS=()
warn() {
    echo "WARNING: $*"
    WARNINGS+=("$*")
}
check_no_foreign_sensor() { # $1: what is about to be measured
    local n
    n=$(attached_sensors)
    if [[ $n != 0 && $n != "?" ]]; then
        warn "$n glasshouse sensor(s) of other runs attached before '$1': every syscall on the machine pays their untracked-path cost"
    fi
}

# ---------------------------------------------------------------- build and set up
if [[ -n ${GLASSHOUSE:-} ]]; then
    GH_SRC=$GLASSHOUSE
else
    echo "== building glasshouse (cargo build --release -p glasshouse)"
    (cd "$REPO" && cargo build --release -p glasshouse 2>&1 | tail -1)
    GH_SRC=$REPO/target/release/glasshouse
fi
[[ -x $GH_SRC ]] || die "no glasshouse binary at $GH_SRC"
# A private copy, so that a concurrent rebuild cannot swap the binary in the middle of the run.
GH=$T/glasshouse
cp "$GH_SRC" "$GH"

for p in openclose failopen; do
    cc -O2 -o "$T/$p" "$BENCH/$p.c"
done
OC=$T/openclose
FO=$T/failopen
FLOOR=0
if [[ ${BENCH_FLOOR:-auto} != 0 ]]; then
    if have clang && [[ -e /usr/include/bpf/libbpf.h ]] &&
        clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch)" \
            -c "$BENCH/floor.bpf.c" -o "$T/floor.bpf.o" 2>"$T/floor.err" &&
        cc -O2 -o "$T/floor" "$BENCH/floor.c" -lbpf 2>>"$T/floor.err"; then
        FLOOR=1
    elif [[ ${BENCH_FLOOR:-auto} == 1 ]]; then
        cat "$T/floor.err" >&2
        die "cannot build bench/floor.bpf.c and bench/floor.c (clang, libbpf-dev)"
    else
        echo "note: no clang or libbpf-dev: the empty-program variant of part 2 is skipped"
    fi
fi
mkdir -p "$T/r" "$W/nx"
echo "bench" >"$W/file"

# ---------------------------------------------------------------- wait for a quiet machine
if [[ -n $WAIT_LOAD ]]; then
    waited=0
    while gt "$(load1)" "$WAIT_LOAD" && ((waited < WAIT_MAX)); do
        echo "load $(load1) > $WAIT_LOAD, waiting ($waited s so far)"
        sleep 30
        waited=$((waited + 30))
    done
fi

echo "== machine"
echo "cpus:    $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:  $(uname -r)"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "tools:   $(hyperfine --version 2>/dev/null || echo 'no hyperfine (own timing loop)'); $(strace -V | head -1); $(gcc --version | head -1); $(git --version); $(tar --version | head -1)"
if git -C "$REPO" rev-parse --short HEAD >/dev/null 2>&1; then
    echo "glasshouse: $GH_SRC, checkout $(git -C "$REPO" rev-parse --short HEAD) ($(git -C "$REPO" status --porcelain --untracked-files=no | wc -l) modified tracked files)"
fi
echo "dirs:    binaries and receipts in $T ($(stat -f -c %T "$T")), workload files in $W ($(stat -f -c %T "$W"))"
echo "params:  N=$N RUNS=$RUNS LOOP_RUNS=$LOOP_RUNS STRACE_RUNS=$STRACE_RUNS FILES=$FILES FAIL_N=$FAIL_N RSS_RUNS=$RSS_RUNS PIN_CPU=$PIN_CPU"
# CPU accounting, to tell afterwards whether something else ran during the measurements.
cpu_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; } # busy, steal
read -r BUSY0 STEAL0 < <(cpu_jiffies)
times >"$T/times0.txt" # user and sys time of this shell and of its waited-for children
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at start: $LOAD_START"
if gt "$(load1)" 0.5; then
    warn "1-minute load average $(load1) is above 0.5: figures will be noisy"
fi
BPF_STATS_ORIG=$(cat /proc/sys/kernel/bpf_stats_enabled)
if [[ $BPF_STATS_ORIG != 0 ]]; then
    echo "kernel.bpf_stats_enabled was $BPF_STATS_ORIG: set to 0 while timing, restored at exit"
    echo 0 >/proc/sys/kernel/bpf_stats_enabled
fi
check_no_foreign_sensor "start"

# ---------------------------------------------------------------- timing
declare -A MED CMD PREP TIMES CH
median_of() { py 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

def() { # KEY PREPARE CMD ARGS...: a variant to time; PREPARE is a shell command run before each run
    local key=$1 prep=$2
    shift 2
    CMD[$key]=$(printf '%q ' "$@")
    PREP[$key]=$prep
    TIMES[$key]=""
}

run_once() { # KEY: runs it once, prints its wall time in seconds
    local key=$1
    rm -f "$T/chunk.txt"
    if have hyperfine; then
        local args=(-N --runs 1 --style none --export-json "$T/h.json")
        [[ -n ${PREP[$key]} ]] && args+=(--prepare "sh -c $(printf %q "${PREP[$key]}")")
        hyperfine "${args[@]}" "${CMD[$key]}" >"$T/h.out" 2>&1 || {
            cat "$T/h.out" >&2
            die "$key failed: ${CMD[$key]}"
        }
        py 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["times"][0])' "$T/h.json"
    else
        local s e
        [[ -n ${PREP[$key]} ]] && sh -c "${PREP[$key]}"
        s=$(date +%s%N)
        eval "${CMD[$key]}" </dev/null >/dev/null 2>&1 || die "$key failed: ${CMD[$key]}"
        e=$(date +%s%N)
        py "print(($e - $s) / 1e9)"
    fi
}

record() { # KEY SECONDS: records a timed run (and the loop's own chunk report, if it wrote one)
    local p10 med
    TIMES[$1]+="$2 "
    if [[ -e $T/chunk.txt ]]; then
        read -r p10 med <"$T/chunk.txt"
        CH[$1]+="$p10 "
    fi
}

report() { # KEY...: median of the recorded times
    local key
    for key in "$@"; do
        # shellcheck disable=SC2086
        MED[$key]=$(median_of ${TIMES[$key]})
        printf '  %-14s median %9.4f s   runs: %s\n' "$key" "${MED[$key]}" "$(py '
import sys; print(" ".join(f"{float(x):.4f}" for x in sys.argv[1:]))' ${TIMES[$key]})"
    done
}

ratios() { # KEY_BASE KEY...: per-round time ratios KEY/KEY_BASE
    local base=$1 key
    shift
    for key in "$@"; do
        # shellcheck disable=SC2086
        printf '  %-14s per-round ratio to %s: %s\n' "$key" "$base" "$(py '
import sys
a, b = (list(map(float, x.split())) for x in sys.argv[1:3])
print(" ".join(f"{y / x:.2f}" for x, y in zip(a, b)))' "${TIMES[$base]}" "${TIMES[$key]}")"
    done
}

rounds() { # R KEY...: a warm-up round, then R rounds, each running every KEY once, in the given
    # order in even rounds and in reverse order in odd ones (so neither variant always runs first);
    # keys ending in _strace get no warm-up and run in the first STRACE_RUNS rounds only
    local r=$1 i key keys t
    shift
    for key in "$@"; do
        [[ $key == *_strace ]] || run_once "$key" >/dev/null
    done
    for ((i = 0; i < r; i++)); do
        keys=("$@")
        ((i % 2)) && mapfile -t keys < <(printf '%s\n' "$@" | tac)
        for key in "${keys[@]}"; do
            [[ $key == *_strace ]] && ((i >= STRACE_RUNS)) && continue
            t=$(run_once "$key")
            record "$key" "$t"
        done
    done
    report "$@"
    (($# > 1)) && ratios "$@"
    return 0
}

declare -A CHMED
chunks() { # KEY_BASE KEY...: the loops' own per-iteration figures (10th-percentile chunk per run)
    local key base=$1
    for key in "$@"; do
        # shellcheck disable=SC2086
        CHMED[$key]=$(median_of ${CH[$key]})
        printf '  %-14s ns/iteration, fast chunks (p10), median over runs %7.1f   runs: %s\n' "$key" "${CHMED[$key]}" "${CH[$key]}"
        if [[ $key != "$base" ]]; then
            # shellcheck disable=SC2086
            printf '  %-14s   per-run ratio to %s: %s\n' "" "$base" "$(py '
import sys
a, b = (list(map(float, x.split())) for x in sys.argv[1:3])
print(" ".join(f"{y / x:.2f}" for x, y in zip(a, b)))' "${CH[$base]}" "${CH[$key]}")"
        fi
    done
}

# Coverage of a receipt, for the table.
declare -A COV
cov() {
    py '
import json, sys
s = json.load(open(sys.argv[1])).get("sensor", {})
print("complete=%s lost=%s" % (s.get("complete"), s.get("events_lost")))' "$1"
}

wait_for_child() { # the sensor is attached before glasshouse spawns its child
    local i
    for ((i = 0; i < 200; i++)); do
        pgrep -P "$1" >/dev/null && return 0
        sleep 0.05
    done
    die "the traced command of glasshouse pid $1 did not start"
}

traced() { # RECEIPT-NAME CMD...: the command under glasshouse --profile host
    local name=$1
    shift
    printf '%s\0' "$GH" run --profile host -q --receipt "$T/r/$name.json" -- "$@"
}
# def with a traced command: tdef KEY PREPARE RECEIPT-NAME CMD...
tdef() {
    local key=$1 prep=$2 name=$3 args=()
    shift 3
    mapfile -d '' args < <(traced "$name" "$@")
    def "$key" "$prep" "${args[@]}"
}

# ---------------------------------------------------------------- 1. open+close loop
echo "== 1. $N x open+close of one file"
check_no_foreign_sensor "part 1"
CHUNK=$T/chunk.txt # the loop's own report: ns per iteration of its fast and median chunks
LOOP=("$OC") # the loop, pinned to one CPU in every variant unless BENCH_PIN_CPU=none
[[ $PIN_CPU != none ]] && LOOP=(taskset -c "$PIN_CPU" "$OC")
def oc_untraced "" "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
tdef oc_traced "" oc "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
def oc_strace "" strace -f -qq -o /dev/null "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
rounds "$LOOP_RUNS" oc_untraced oc_traced oc_strace
chunks oc_untraced oc_traced oc_strace
COV[oc]=$(cov "$T/r/oc.json")

# ---------------------------------------------------------------- 2. unrelated process
echo "== 2. the same loop in a process outside a traced run"
check_no_foreign_sensor "part 2"
def bg_idle "" "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
def bg_active "" "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
def bg_floor "" "${LOOP[@]}" "$N" "$W/file" "$CHUNK"
start_bg() {
    "$GH" run --profile host -q --receipt "$T/r/bg.json" -- sleep 86400 &
    BG_PID=$!
    wait_for_child "$BG_PID"
}
stop_bg() {
    kill -TERM "$BG_PID"
    wait "$BG_PID" || true # glasshouse forwards the signal and exits as the command did: 128+15
    BG_PID=""
}
start_floor() { # bench/floor.c: attaches the empty programs, says "ready", detaches at EOF on stdin
    rm -f "$T/floor.fifo" "$T/floor.out"
    mkfifo "$T/floor.fifo"
    "$T/floor" "$T/floor.bpf.o" <"$T/floor.fifo" >"$T/floor.out" &
    FLOOR_PID=$!
    exec 9>"$T/floor.fifo"
    local j
    for ((j = 0; j < 200; j++)); do
        grep -q '^ready' "$T/floor.out" && return 0
        sleep 0.05
    done
    die "bench/floor did not attach"
}
stop_floor() {
    exec 9>&-
    wait "$FLOOR_PID"
    FLOOR_PID=""
}
variant() { # part 2 variant $1, round $2 (-1: warm-up, not recorded)
    local t
    case $1 in
    bg_idle) t=$(run_once bg_idle) ;;
    bg_active)
        start_bg
        t=$(run_once bg_active)
        stop_bg
        ;;
    bg_floor)
        start_floor
        t=$(run_once bg_floor)
        stop_floor
        ;;
    esac
    (($2 < 0)) || record "$1" "$t"
}
BG_VARIANTS=(bg_idle bg_active)
((FLOOR)) && BG_VARIANTS+=(bg_floor)
for ((i = -1; i < LOOP_RUNS; i++)); do # the order rotates from round to round
    nv=${#BG_VARIANTS[@]}
    for ((k = 0; k < nv; k++)); do
        variant "${BG_VARIANTS[(k + i + nv) % nv]}" "$i"
    done
done
report "${BG_VARIANTS[@]}"
ratios "${BG_VARIANTS[@]}"
chunks "${BG_VARIANTS[@]}"
COV[bg]=$(cov "$T/r/bg.json")

# ---------------------------------------------------------------- 3. real workloads
echo "== 3. real workloads"
py '
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.txt"), "w") as f:
        f.write(f"file {i}\n" * (20 + i % 200))  # about 200 B to 2.6 KiB
' "$W/tree" "$FILES"
echo "  tree: $FILES files in $(find "$W/tree" -type d | wc -l) directories, $(du -sh "$W/tree" | cut -f1)"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid
TAR_SH="tar -C $W/tree -cf - . | tar -C $W/untar -xf -"
TAR_PREP="rm -rf $W/untar && mkdir $W/untar"
GIT_SH="export GIT_DIR=$W/repo.git GIT_WORK_TREE=$W/tree; git -c init.defaultBranch=main init -q && git add -A && git -c gc.auto=0 commit -q -m bench"
GIT_PREP="rm -rf $W/repo.git"
GCC=(gcc -O2 -o "$W/compile_me" "$BENCH/compile_me.c")
STRACE=(strace -f -qq -o /dev/null)
def tar_untraced "$TAR_PREP" sh -c "$TAR_SH"
tdef tar_traced "$TAR_PREP" tar sh -c "$TAR_SH"
def tar_strace "$TAR_PREP" "${STRACE[@]}" sh -c "$TAR_SH"
def gcc_untraced "" "${GCC[@]}"
tdef gcc_traced "" gcc "${GCC[@]}"
def gcc_strace "" "${STRACE[@]}" "${GCC[@]}"
def git_untraced "$GIT_PREP" sh -c "$GIT_SH"
tdef git_traced "$GIT_PREP" git sh -c "$GIT_SH"
def git_strace "$GIT_PREP" "${STRACE[@]}" sh -c "$GIT_SH"
for w in tar gcc git; do
    check_no_foreign_sensor "part 3, $w"
    rounds "$RUNS" "${w}_untraced" "${w}_traced" "${w}_strace"
    COV[$w]=$(cov "$T/r/$w.json")
done
[[ $(find "$W/untar" -type f | wc -l) == "$FILES" ]] || die "the tar round trip did not copy $FILES files"
GIT_DIR=$W/repo.git git rev-parse -q --verify HEAD >/dev/null || die "the git commit was not made"

# ---------------------------------------------------------------- 4. start-up
echo "== 4. start-up: true"
check_no_foreign_sensor "part 4"
def true_bare "" "$TRUE_BIN"
def true_plain "" "$GH" run -- "$TRUE_BIN"
tdef true_traced "" true "$TRUE_BIN"
# A run that loads its own programs (the first run of a boot does; so does every run with
# GLASSHOUSE_KEEP_PROGRAMS=0) instead of taking a kept set.
def true_loaded "" env GLASSHOUSE_KEEP_PROGRAMS=0 "$GH" run --profile host -q --receipt "$T/r/true-loaded.json" -- "$TRUE_BIN"
rounds "$TRUE_RUNS" true_bare true_plain true_traced true_loaded
COV[true]=$(cov "$T/r/true.json")
# Where the start-up goes: CPU of one traced `true` (kept set), and, for a run that loads, the
# time of each bpf(BPF_PROG_LOAD) (the kernel's verifier) as strace -T sees it (strace slows the
# rest down; the verifier time is the kernel's own).
/usr/bin/time -f '%e %U %S' -o "$T/time4.txt" "$GH" run --profile host -q --receipt "$T/r/true2.json" -- "$TRUE_BIN"
read -r wall4 usr4 sys4 <"$T/time4.txt"
GLASSHOUSE_KEEP_PROGRAMS=0 strace -f -T -e trace=bpf -o "$T/startup.strace" "$GH" run --profile host -q --receipt "$T/r/true3.json" -- "$TRUE_BIN"
STARTUP_INFO=$(py '
import re, sys
loads, other, n_other = [], 0.0, 0
pending = {}  # pid -> the call line strace split off as <unfinished ...> (parallel loads)
for line in open(sys.argv[1]):
    pid = line.split(None, 1)[0]
    if "<unfinished ...>" in line and "bpf(" in line:
        pending[pid] = line
        continue
    if "resumed>" in line and pid in pending:
        line = pending.pop(pid) + line
    m = re.search(r"<([0-9.]+)>\s*$", line)
    if not m or "bpf(" not in line:
        continue
    t = float(m.group(1))
    name = re.search(r"prog_name=\"([^\"]*)\"", line)
    if "BPF_PROG_LOAD" in line and name and name.group(1).startswith("gh_"):
        loads.append((t, name.group(1)))
    else:
        other += t
        n_other += 1
loads.sort(reverse=True)
total = sum(t for t, _ in loads)
top = ", ".join(f"{n} {t * 1000:.1f}" for t, n in loads[:4])
print(f"bpf(BPF_PROG_LOAD) of the {len(loads)} gh_ programs: {total * 1000:.1f} ms in all ({top} ms); "
      f"{n_other} other bpf() calls: {other * 1000:.1f} ms")' "$T/startup.strace")
echo "  one traced true: wall $wall4 s, glasshouse user $usr4 s, sys $sys4 s"
echo "  $STARTUP_INFO"

# ---------------------------------------------------------------- 5. memory on ~1M events
echo "== 5. $FAIL_N failed opens of distinct paths: memory and coverage"
check_no_foreign_sensor "part 5"
def fail_untraced "" "$FO" "$FAIL_N" "$W/nx"
rounds "$RUNS" fail_untraced
RSS=()
WALL5=()
for ((i = 0; i < RSS_RUNS; i++)); do
    rm -f "$T/r/fail.json"
    /usr/bin/time -f '%M %e %U %S' -o "$T/time5.txt" \
        "$GH" run --profile host -q --receipt "$T/r/fail.json" -- "$FO" "$FAIL_N" "$W/nx"
    read -r rss wall usr sys <"$T/time5.txt"
    RSS+=("$rss")
    WALL5+=("$wall")
    printf '  run %d: peak RSS %d KiB, wall %s s, CPU of glasshouse and command: user %s s, sys %s s\n' \
        $((i + 1)) "$rss" "$wall" "$usr" "$sys"
done
FAIL_INFO=$(py '
import json, os, sys
p = sys.argv[1]
r = json.load(open(p))
s = r["sensor"]
failed = (r.get("filesystem") or {}).get("failed") or []
count = sum(f.get("count", 1) for f in failed)
print("receipt %.1f MiB, %d failure entries (%d failures), sensor.complete=%s, sensor.events_lost=%s"
      % (os.path.getsize(p) / 1048576, len(failed), count, s.get("complete"), s.get("events_lost")))' "$T/r/fail.json")
echo "  $FAIL_INFO"
RSS_MED=$(median_of "${RSS[@]}")
WALL5_MED=$(median_of "${WALL5[@]}")

# ---------------------------------------------------------------- 6. BPF run time per program
# The program ids of glasshouse pid $1, from the fdinfo of the prog and link fds it holds.
prog_ids() { grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un; }
prog_stats() { # "name run_cnt run_time_ns" for each program of glasshouse pid $1
    local id
    for id in $(prog_ids "$1"); do
        bpftool prog show id "$id" -j
        echo
    done | py '
import json, sys
for line in sys.stdin:
    if line.strip():
        p = json.loads(line)
        print(p.get("name"), p.get("run_cnt", 0), p.get("run_time_ns", 0))'
}
stats_diff() { # BEFORE AFTER NAME -> "runs ns_per_run total_ns"
    py '
import sys
def load(p):
    d = {}
    for line in open(p):
        name, cnt, ns = line.split()
        d[name] = (int(cnt), int(ns))
    return d
a, b, name = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
c0, n0 = a.get(name, (0, 0))
c1, n1 = b.get(name, (0, 0))
c, n = c1 - c0, n1 - n0
print(c, f"{n / c:.1f}" if c else "n/a", n)' "$1" "$2" "$3"
}
STATS_LINES=()
if [[ $BPF_STATS == 1 ]]; then
    have bpftool || die "BENCH_BPF_STATS=1 needs bpftool"
    echo "== 6. kernel.bpf_stats_enabled=1: ns per program run (separate runs, not used for the timings above)"
    echo 1 >/proc/sys/kernel/bpf_stats_enabled
    mkfifo "$T/fifo"
    start_held() { # a traced `sh -c "$1"` (receipt $T/r/$2.json); $1 stops on the fifo where told
        "$GH" run --profile host -q --receipt "$T/r/$2.json" -- sh -c "$1" &
        BG_PID=$!
        wait_for_child "$BG_PID"
    }
    release() { echo go >"$T/fifo"; } # opening the fifo for writing waits for its reader
    stats_lines() {                     # LABEL: gh_sys_enter/gh_sys_exit between $T/s0 and $T/s1
        local p cnt ns total line
        for p in gh_sys_enter gh_sys_exit; do
            read -r cnt ns total < <(stats_diff "$T/s0" "$T/s1" "$p")
            line=$(printf '%-15s %-15s %9d runs, %6s ns/run, %7.1f ns per loop iteration' \
                "$p" "$1:" "$cnt" "$ns" "$(py "print($total / $N)")")
            echo "  $line"
            STATS_LINES+=("$line")
        done
    }
    # (a) traced: the loop inside a run, between two stops on the fifo; stats read at both stops.
    start_held "read x < $T/fifo && $OC $N $W/file && : > $T/loopdone && read x < $T/fifo" stats_traced
    prog_stats "$BG_PID" >"$T/s0"
    release
    while [[ ! -e $T/loopdone ]]; do sleep 0.1; done
    prog_stats "$BG_PID" >"$T/s1"
    release
    wait "$BG_PID"
    BG_PID=""
    stats_lines "traced loop"
    # (b) untracked: a run is active (its sh waits on the fifo), the loop runs outside it.
    start_held "read x < $T/fifo" stats_idle
    prog_stats "$BG_PID" >"$T/s0"
    "$OC" "$N" "$W/file"
    prog_stats "$BG_PID" >"$T/s1"
    release
    wait "$BG_PID"
    BG_PID=""
    stats_lines "untracked loop"
    if ((FLOOR)); then
        # (c) the empty programs of bench/floor.bpf.c: the floor, including the cost of the
        # statistics themselves (a clock read per run).
        start_floor
        "$OC" "$N" "$W/file"
        stop_floor
        for p in floor_sys_enter floor_sys_exit; do
            read -r cnt ns < <(awk -v p="$p" '$1 == p {print $2, $3}' "$T/floor.out")
            line=$(printf '%-15s %-15s %9d runs, %6s ns/run, %7.1f ns per loop iteration' "$p" "empty program:" \
                "$cnt" "$(py "print(f'{$ns / $cnt:.1f}')")" "$(py "print($ns / $N)")")
            echo "  $line"
            STATS_LINES+=("$line")
        done
    fi
    echo "  (the run counts include the machine's other syscalls in the same window, all untracked)"
    echo 0 >/proc/sys/kernel/bpf_stats_enabled
fi

# ---------------------------------------------------------------- table
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
read -r BUSY1 STEAL1 < <(cpu_jiffies)
times >"$T/times1.txt"
CPU_LINE=$(py '
import os, re, sys
def own(path):
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", open(path).read()))
hz = os.sysconf("SC_CLK_TCK")
b0, b1, s0, s1 = map(float, sys.argv[1:5])
busy, steal, own = (b1 - b0) / hz, (s1 - s0) / hz, own(sys.argv[6]) - own(sys.argv[5])
print(f"CPU time while measuring: machine (/proc/stat) {busy:.1f} s, this script and its children "
      f"(rusage) {own:.1f} s; steal (vCPU time taken by the hypervisor) {steal:.1f} s")' \
    "$BUSY0" "$BUSY1" "$STEAL0" "$STEAL1" "$T/times0.txt" "$T/times1.txt")
ratio() { py 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}x")' "$1" "$2"; }
ms() { py 'import sys; print(f"{float(sys.argv[1]) * 1000:.1f}")' "$1"; }
paired() { # KEY_BASE KEY: median over the rounds of KEY's time / KEY_BASE's time in the same round
    # shellcheck disable=SC2086
    py '
import statistics, sys
a, b = (list(map(float, x.split())) for x in sys.argv[1:3])
print(f"{statistics.median(y / x for x, y in zip(a, b)):.2f}x")' "${TIMES[$1]}" "${TIMES[$2]}"
}

echo
echo "== results: medians, wall ms   (load average at start: $LOAD_START; at end: $LOAD_END)"
echo "   $CPU_LINE"
# "excl. start-up": traced minus the start-up cost of part 4 (true_traced - true_bare), over untraced.
STARTUP=$(py 'import sys; print(float(sys.argv[1]) - float(sys.argv[2]))' "${MED[true_traced]}" "${MED[true_bare]}")
fmt='%-30s %9s %9s %6s %7s %10s %7s %7s  %-8s %9s  %s\n'
printf "$fmt" workload untraced traced ratio paired "strace -f" ratio target verdict "excl.s-up" "traced receipt"
row() { # label key_untraced key_traced key_strace target coverage
    local s="-" sr="-" ex="-" pr verdict target
    if [[ -n $4 ]]; then
        s=$(ms "${MED[$4]}")
        sr=$(ratio "${MED[$4]}" "${MED[$2]}")
        if gt "${MED[$2]}" "$STARTUP"; then # else the difference is within start-up's spread
            ex=$(ratio "$(py 'import sys; print(float(sys.argv[1]) - float(sys.argv[2]))' "${MED[$3]}" "$STARTUP")" "${MED[$2]}")
        fi
    fi
    pr=$(paired "$2" "$3")
    verdict="-" target="-"
    if [[ -n $5 ]]; then
        target="<=$5x"
        verdict="NOT met"
        gt "${pr%x}" "$5" || verdict="met"
    fi
    printf "$fmt" "$1" "$(ms "${MED[$2]}")" "$(ms "${MED[$3]}")" "$(ratio "${MED[$3]}" "${MED[$2]}")" "$pr" \
        "$s" "$sr" "$target" "$verdict" "$ex" "$6"
}
row "1. open+close x$N" oc_untraced oc_traced oc_strace 1.3 "${COV[oc]}"
row "2. same, outside a traced run" bg_idle bg_active "" 1.1 "${COV[bg]}"
((FLOOR)) && row "2. same, 2 empty BPF programs" bg_idle bg_floor "" "" ""
row "3. tar c | tar x, $FILES files" tar_untraced tar_traced tar_strace 1.05 "${COV[tar]}"
row "3. gcc -O2 compile_me.c" gcc_untraced gcc_traced gcc_strace 1.05 "${COV[gcc]}"
row "3. git init+add+commit" git_untraced git_traced git_strace 1.05 "${COV[git]}"
echo
echo "   the loops' own view: ns per open+close iteration in their fast chunks (10th percentile of"
echo "   10,000-iteration chunks, median over the runs); excludes start-up and most of the VM's drift"
cfmt='   %-36s %9s %9s %6s %7s %10s %7s\n'
printf "$cfmt" "" untraced other ratio paired "strace -f" ratio
crow() { # label key_base key [key_strace]
    local s="-" sr="-" pr
    pr=$(py '
import statistics, sys
a, b = (list(map(float, x.split())) for x in sys.argv[1:3])
print(f"{statistics.median(y / x for x, y in zip(a, b)):.2f}x")' "${CH[$2]}" "${CH[$3]}")
    if [[ -n ${4:-} ]]; then
        s=$(py "print(f'{${CHMED[$4]}:.1f}')")
        sr=$(ratio "${CHMED[$4]}" "${CHMED[$2]}")
    fi
    printf "$cfmt" "$1" "$(py "print(f'{${CHMED[$2]}:.1f}')")" "$(py "print(f'{${CHMED[$3]}:.1f}')")" \
        "$(ratio "${CHMED[$3]}" "${CHMED[$2]}")" "$pr" "$s" "$sr"
}
crow "1. traced (other = under glasshouse)" oc_untraced oc_traced oc_strace
crow "2. outside a traced run" bg_idle bg_active
((FLOOR)) && crow "2. with 2 empty BPF programs" bg_idle bg_floor
echo
echo "   ratio: of the medians; paired: median over rounds of traced/untraced within a round (robust to"
echo "   drift between rounds); the verdict uses the paired ratio"
echo "   part 2: 'untraced' = no glasshouse running; 'traced' = a traced sleep running; the loop itself is never traced"
echo "   excl.s-up: (traced - $(ms "$STARTUP") ms of start-up, from part 4) / untraced, shown when untraced > start-up"
printf '4. true, median of %d: true %s ms; glasshouse run -- true %s ms; glasshouse run --profile host -- true %s ms (%s); the same loading its own programs (GLASSHOUSE_KEEP_PROGRAMS=0) %s ms\n' \
    "$TRUE_RUNS" "$(ms "${MED[true_bare]}")" "$(ms "${MED[true_plain]}")" "$(ms "${MED[true_traced]}")" "${COV[true]}" "$(ms "${MED[true_loaded]}")"
echo "   one traced true: wall $wall4 s, user $usr4 s, sys $sys4 s; $STARTUP_INFO"
printf '5. %d failed opens of distinct paths: glasshouse peak RSS %.1f MiB (median of %d runs: %s KiB); wall %s s traced vs %.3f s untraced\n' \
    "$FAIL_N" "$(py "print($RSS_MED / 1024)")" "$RSS_RUNS" "${RSS[*]}" "$WALL5_MED" "${MED[fail_untraced]}"
echo "   $FAIL_INFO"
for l in "${STATS_LINES[@]}"; do echo "6. $l"; done
if ((${#WARNINGS[@]})); then
    echo
    for w in "${WARNINGS[@]}"; do echo "WARNING: $w"; done
fi
