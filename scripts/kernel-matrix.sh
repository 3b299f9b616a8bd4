#!/usr/bin/env bash
# The kernel matrix: boots Debian's packaged cloud kernels in qemu (TCG) with this machine's root
# file system shared in read-only (virtiofs, under a tmpfs overlay in the guest) and runs the
# sensor's ground-truth tests inside each, one line per test and kernel. See docs/kernels.md.
#
# Exit status: 0 every test counted passed; 1 a counted test failed (with --expect: a test the
# expect file lists for that kernel); 2 bad usage; 3 the matrix itself could not run (kernel
# download, build, virtiofsd, boot). Needs root (virtiofsd, mount namespaces, the tests' BPF).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
helper=$here/kernel-matrix/helper.py
usage() {
  cat <<'EOF'
usage: scripts/kernel-matrix.sh [OPTIONS]

Runs the sensor's ground-truth tests inside Debian's packaged kernels under qemu and prints
"PASS|FAIL <suite>::<test> <kernel> <seconds>s" per test and kernel, then the wall time per kernel.

  -k, --kernel K      a kernel to boot: 6.1, 6.12 (the newest Debian cloud package of that
                      series apt offers), a package name, or a .deb file; repeatable
                      (default: 6.1 and 6.12)
  -t, --test NAME     run only tests whose name contains NAME (libtest filter); repeatable
      --exact         NAME must be a test's whole name
      --skip NAME     leave out tests whose name contains NAME (libtest --skip); repeatable
      --full          every test of the suites (default: the named subset CI runs, see below)
  -s, --suite LIST    comma-separated test binaries of crates/glasshouse/tests
                      (default: sensor,net_uring,kept,descriptors,sandbox,enforce)
  -w, --worktree DIR  build and test that checkout (default: this script's checkout)
      --binary S=PATH test this prebuilt binary for suite S instead of building it; repeatable
      --expect FILE   count a failure only for tests FILE expects to pass on that kernel
                      (lines "<kernel series> <suite>::<test>"); report the others
      --update-expect add every test that passed to the --expect file (never removes one)
      --out DIR       keep logs and results there (default: a new temporary directory)
      --cache DIR     downloaded and extracted kernels (default: ~/.cache/glasshouse/kernel-matrix)
      --memory MIB    guest memory (default 3072)
      --cpus N        guest CPUs (default 2; TCG runs them on one host thread)
      --timeout MIN   give up on a kernel after MIN minutes (default 90)
      --jobs N        boot up to N kernels at once (default 1; each takes one host core)
      --accel A       tcg (default) or kvm where the host's KVM can run these kernels
      --list          print the tests that would run, and exit
  -h, --help          this text

The default subset (exec, files, network, io_uring, kept sets) is the SUBSET list in this script.
EOF
}

# The named subset CI runs on every kernel: exec, file reads/writes/deletes, metadata, threads,
# network (TCP, UDP, unix), io_uring, kept program sets. About 15 s a test under TCG.
SUBSET=(
  sensor::relative_paths_after_chdir_are_recorded_absolute
  sensor::openat_with_a_dirfd_is_resolved_against_the_dirfd
  sensor::unlink_rmdir_rename_and_dotdot
  sensor::truncate_otrunc_and_ordwr
  sensor::execveat_with_a_dirfd_and_with_empty_path
  sensor::exec_from_a_non_leader_thread
  sensor::files_of_non_leader_threads_are_recorded
  sensor::vfork_then_exec
  sensor::double_fork_daemon_is_recorded_and_ended
  sensor::shebang_script_runs_its_interpreter
  net_uring::udp_sendto_without_connect_is_sent
  net_uring::refused_tcp_connect_is_refused_and_failed
  net_uring::tcp_exchange_counts_bytes_both_ways
  net_uring::unix_path_connected_and_abstract_refused
  net_uring::io_uring_openat_unlinkat_connect
  net_uring::io_uring_direct_opens_record_their_paths
  net_uring::permission_denied_open_is_failed_and_denied
  kept::programs_loaded_for_one_run_record_the_same
)

kernels=() tests=() skips=() prebuilt=() exact=0 full=0 suites=sensor,net_uring,kept,descriptors,sandbox,enforce worktree=$(cd "$here/.." && pwd)
expect="" out="" cache=${HOME:-/root}/.cache/glasshouse/kernel-matrix memory=3072 cpus=2
timeout_min=90 list_only=0 jobs=1 accel=tcg update_expect=0
die() { echo "kernel-matrix: $*" >&2; exit 3; }
bad_usage() { echo "kernel-matrix: $*" >&2; echo "try: scripts/kernel-matrix.sh --help" >&2; exit 2; }
while (($#)); do
  case $1 in
    -k | --kernel) kernels+=("${2:?}"); shift ;;
    -t | --test) tests+=("${2:?}"); shift ;;
    --exact) exact=1 ;;
    --skip) skips+=(--skip "${2:?}"); shift ;;
    --full) full=1 ;;
    -s | --suite) suites=${2:?}; shift ;;
    -w | --worktree) worktree=$(cd "${2:?}" && pwd) || bad_usage "no worktree $2"; shift ;;
    --binary) [[ ${2:-} == *=?* ]] || bad_usage "--binary takes SUITE=PATH"; prebuilt+=("$2"); shift ;;
    --expect) expect=${2:?}; shift ;;
    --update-expect) update_expect=1 ;;
    --out) out=${2:?}; shift ;;
    --cache) cache=${2:?}; shift ;;
    --memory) memory=${2:?}; shift ;;
    --cpus) cpus=${2:?}; shift ;;
    --timeout) timeout_min=${2:?}; shift ;;
    --list) list_only=1 ;;
    --jobs) jobs=${2:?}; shift ;;
    --accel) accel=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) bad_usage "unknown argument $1" ;;
  esac
  shift
done
((${#kernels[@]})) || kernels=(6.1 6.12)
((full == 0 || ${#tests[@]} == 0)) || bad_usage "--full and --test exclude each other"
[[ -z $expect || -r $expect ]] || bad_usage "cannot read the expect file $expect"
((update_expect == 0)) || [[ -n $expect ]] || bad_usage "--update-expect needs --expect FILE"
[[ $memory =~ ^[0-9]+$ && $cpus =~ ^[0-9]+$ && $timeout_min =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]] ||
  bad_usage "--memory, --cpus, --timeout and --jobs take whole numbers"
[[ $accel == tcg || $accel == kvm ]] || bad_usage "--accel is tcg or kvm"
IFS=, read -r -a suite_list <<<"$suites"
for s in "${suite_list[@]}"; do
  [[ -f $worktree/crates/glasshouse/tests/$s.rs ]] || bad_usage "no test suite $s in $worktree"
done
((EUID == 0)) || die "needs root (virtiofsd, a private mount namespace, the tests load BPF)"
for tool in qemu-system-x86_64 /usr/lib/qemu/virtiofsd cc python3 unshare apt-get dpkg-deb xz; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install qemu-system-x86 gcc libc6-dev python3 xz-utils"
done

# ---------------------------------------------------------------------------------------------
# The test binaries and the tests each suite runs
# ---------------------------------------------------------------------------------------------
declare -A bin=()
for p in "${prebuilt[@]}"; do
  [[ -x ${p#*=} ]] || bad_usage "--binary ${p}: not an executable file"
  bin[${p%%=*}]=${p#*=}
done
cargo_args=(test -p glasshouse --no-run --message-format=json)
for s in "${suite_list[@]}"; do [[ -n ${bin[$s]:-} ]] || cargo_args+=(--test "$s"); done
if [[ ${cargo_args[*]} == *--test* ]]; then
  echo "== building the test binaries in $worktree" >&2
  json=$(cd "$worktree" && cargo "${cargo_args[@]}" 2> >(grep -v '^ *\(Compiling\|Finished\|Executable\)' >&2)) ||
    die "cargo ${cargo_args[*]} failed in $worktree"
  while IFS== read -r s path; do bin[$s]=$path; done < <(
    python3 "$helper" test-binaries $(for s in "${suite_list[@]}"; do [[ -n ${bin[$s]:-} ]] || echo "$s"; done) <<<"$json")
fi

# Per suite: the libtest arguments of the run and the tests they select (listed on the host, so
# a test the guest never reported is a failure, not a silence).
declare -A filter=() selected=()
for s in "${suite_list[@]}"; do
  if ((full)); then
    args=()
  elif ((${#tests[@]})); then
    args=("${tests[@]}")
    ((exact)) && args+=(--exact)
  else
    args=()
    for t in "${SUBSET[@]}"; do [[ $t == "$s::"* ]] && args+=("${t#"$s::"}"); done
    ((${#args[@]})) || { filter[$s]=""; selected[$s]=""; continue; }
    args+=(--exact)
  fi
  args+=("${skips[@]}")
  names=$("${bin[$s]}" --list --format terse "${args[@]}" | sed -n 's/: test$//p')
  if [[ -z $names ]]; then
    selected[$s]=""
    continue
  fi
  filter[$s]="${args[*]}"
  selected[$s]=$names
done
total=0
for s in "${suite_list[@]}"; do
  for t in ${selected[$s]}; do
    ((list_only)) && echo "$s::$t"
    total=$((total + 1))
  done
done
((list_only)) && exit 0
((total)) || bad_usage "no test matches the selection"

# ---------------------------------------------------------------------------------------------
# Kernels: download (apt-get download), extract (dpkg-deb -x), initramfs
# ---------------------------------------------------------------------------------------------
mkdir -p "$cache/deb"
apt_updated=0
newest_package() { # series -> the newest cloud kernel package apt offers of that series
  local pattern
  case $1 in
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
    *) pattern="^linux-image-${1//./\\.}\\.[0-9]+\\+deb[0-9]+-cloud-amd64-unsigned\$" ;;
  esac
  apt-cache search --names-only "$pattern" | cut -d' ' -f1 | sort -V | tail -1
}
fetch_kernel() { # kernel argument -> prints the extracted tree's directory
  local k=$1 deb pkg
  if [[ $k == *.deb ]]; then
    deb=$(cd "$(dirname "$k")" && pwd)/$(basename "$k")
  else
    pkg=$k
    if [[ $k =~ ^[0-9]+\.[0-9]+$ ]]; then
      pkg=$(newest_package "$k")
      if [[ -z $pkg && $apt_updated == 0 ]]; then
        apt-get update -qq >&2 || true
        apt_updated=1
        pkg=$(newest_package "$k")
      fi
      [[ -n $pkg ]] || die "apt offers no cloud kernel package of series $k (is bookworm-security in apt's sources?)"
    fi
    deb=$(ls "$cache/deb/${pkg}_"*.deb 2>/dev/null | sort -V | tail -1 || true)
    if [[ -z $deb ]]; then
      echo "== downloading $pkg" >&2
      (cd "$cache/deb" && apt-get download -o APT::Sandbox::User=root "$pkg" >&2) || die "apt-get download $pkg failed"
      deb=$(ls "$cache/deb/${pkg}_"*.deb | sort -V | tail -1)
    fi
  fi
  local tree=$cache/$(basename "$deb" .deb)
  if [[ ! -e $tree/.extracted ]]; then
    rm -rf "$tree"
    dpkg-deb -x "$deb" "$tree" || die "dpkg-deb -x $deb failed"
    touch "$tree/.extracted"
  fi
  echo "$tree"
}

# Modules the guest needs that this kernel builds as modules, dependencies first.
module_order() { # tree -> lines "module file (relative to lib/modules/VERSION)"
  local moddir=$1 seen=" " order=()
  visit() {
    local name=$1 file dep
    [[ $seen == *" $name "* ]] && return
    seen+="$name "
    if grep -q "/${name//_/[_-]}\.ko\(\.[a-z]*\)\?$" "$moddir/modules.builtin"; then return; fi
    file=$(cd "$moddir" && grep -m1 "/${name//_/[_-]}\.ko\(\.[a-z]*\)\?$" modules.order || true)
    [[ -n $file ]] || file=$(cd "$moddir" && find kernel -regex ".*/${name//_/[_-]}\.ko\(\.[a-z]*\)?" | head -1)
    [[ -n $file ]] || die "module $name is neither built in nor shipped in $moddir"
    file=${file%.ko*}.ko
    file=$(cd "$moddir" && ls "$file"* | head -1)
    for dep in $(unpacked "$moddir/$file" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
      visit "$dep"
    done
    order+=("$file")
  }
  for m in virtio_pci virtiofs overlay; do visit "$m"; done
  printf '%s\n' "${order[@]}"
}
unpacked() { # a module file, decompressed to stdout
  case $1 in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -dc "$1" ;;
    *) cat "$1" ;;
  esac
}

# The initramfs of one kernel: the static init, the modules it loads, the guest script, the plan.
build_initramfs() { # tree rundir -> rundir/initramfs.cpio
  local tree=$1 run=$2 moddir root=$2/initramfs
  moddir=$(ls -d "$tree"/lib/modules/*/ | head -1)
  rm -rf "$root"
  mkdir -p "$root/modules" "$root/km"
  module_order "$moddir" >"$run/modules" || die "cannot work out the guest's modules in $moddir"
  while read -r file; do
    unpacked "$moddir/$file" >"$root/modules/$(basename "${file%.ko*}").ko"
    basename "${file%.ko*}.ko" >>"$root/modules/order"
  done <"$run/modules"
  cc -static -O2 -Wall -Wextra -o "$root/init" "$here/kernel-matrix/init.c" || die "cannot build the guest init (cc -static needs libc6-dev)"
  cp "$here/kernel-matrix/guest.sh" "$root/km/guest.sh"
  cp "$run/plan" "$root/km/plan"
  python3 "$helper" cpio "$run/initramfs.cpio" "$root"
}

# ---------------------------------------------------------------------------------------------
# One kernel: virtiofsd on a read-only view of /, qemu, the results
# ---------------------------------------------------------------------------------------------
[[ -n $out ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/kernel-matrix.XXXXXX")
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/results.tsv"
plan_text() {
  printf 'KM_CWD=%q\n' "$worktree/crates/glasshouse"
  local words=""
  for s in "${suite_list[@]}"; do
    [[ -n ${selected[$s]} ]] || continue
    words+="$s=${bin[$s]} "
    printf 'KM_FILTER_%s=%q\n' "$s" "${filter[$s]}"
  done
  printf 'KM_SUITES=%q\n' "$words"
  # The glasshouse binary the tests run (CARGO_BIN_EXE_glasshouse): beside deps/ of a test binary.
  local first=${words%% *}
  printf 'KM_WARMUP=%q\n' "$(dirname "$(dirname "${first#*=}")")/glasshouse"
}

prepare_kernel() { # kernel argument -> prints the run directory, with plan and initramfs
  local k=$1 tree vmlinuz run
  tree=$(fetch_kernel "$k") || exit 3
  vmlinuz=$(ls "$tree"/boot/vmlinuz-* | head -1)
  run=$out/${vmlinuz##*/vmlinuz-}
  rm -rf "$run"
  mkdir -p "$run"
  echo "$vmlinuz" >"$run/vmlinuz"
  plan_text >"$run/plan"
  build_initramfs "$tree" "$run"
  echo "$run"
}

boot_kernel() { # run directory -> the guest's reports in it (results.txt, wall, qemu-status)
  local run=$1 sock fsd_pid start status=0 accel_args
  # virtiofsd serves a read-only bind mount of / made in a private mount namespace of its own:
  # the bind and its read-only flag vanish with it, and the host's / stays writable for others.
  sock=$run/virtiofs.sock
  mkdir -p "$run/hostroot"
  unshare --mount --propagation private -- sh -c '
    mount --bind / "$1" && mount -o remount,bind,ro "$1" &&
    exec /usr/lib/qemu/virtiofsd --socket-path="$2" -o source="$1" -o sandbox=chroot \
      -o cache=always -o log_level=err' sh "$run/hostroot" "$sock" 2>"$run/virtiofsd.log" &
  fsd_pid=$!
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
  [[ -S $sock ]] || { cat "$run/virtiofsd.log" >&2; die "virtiofsd did not start"; }

  # thread=single: multi-threaded TCG crashed a guest while tracepoints were attached. Speed
  # (measured on compiling the sensor suite's 20 testers): the plain qemu64 CPU, whose code
  # TCG translates faster than -cpu max's, and no address randomisation (norandmaps), so
  # translated code of cc1, ld and libc is reused from one process to the next: 148 s -> 74 s.
  case $accel in
    tcg) accel_args=(-accel tcg,thread=single -cpu qemu64) ;;
    kvm) accel_args=(-accel kvm -cpu host) ;;
  esac
  echo "== booting $(basename "$run") ($accel, ${memory} MiB, $cpus CPUs)" >&2
  start=$(date +%s)
  timeout "${timeout_min}m" qemu-system-x86_64 \
    "${accel_args[@]}" -smp "$cpus" -m "$memory" \
    -object memory-backend-memfd,id=mem,size="${memory}M",share=on -numa node,memdev=mem \
    -chardev socket,id=hostroot,path="$sock" \
    -device vhost-user-fs-pci,chardev=hostroot,tag=hostroot,queue-size=1024 \
    -kernel "$(cat "$run/vmlinuz")" -initrd "$run/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 mitigations=off norandmaps loglevel=4" \
    -nodefaults -display none -no-reboot \
    -serial file:"$run/console.log" -serial file:"$run/results.raw" \
    >"$run/qemu.log" 2>&1 || status=$?
  echo $(($(date +%s) - start)) >"$run/wall"
  echo "$status" >"$run/qemu-status"
  kill "$fsd_pid" 2>/dev/null || true
  wait "$fsd_pid" 2>/dev/null || true
  rmdir "$run/hostroot" 2>/dev/null || true
  tr -d '\r' <"$run/results.raw" >"$run/results.txt"
}

# The first line of a failed test's panic message, indented, from its suite's log.
why() { # log test
  awk -v t="$2" '
    $0 == "---- " t " stdout ----" { inside = 1; next }
    inside && /^---- / { exit }
    inside && grep { print "    " substr($0, 1, 300); exit }
    inside && / panicked at / { grep = 1 }' "$1" 2>/dev/null || true
}

# Expected to pass on this kernel? (only with --expect)
expected() { # series test -> 0 if listed
  awk -v k="$1" -v t="$2" '$1 == k && $2 == t { found = 1 } END { exit !found }' "$expect"
}

runs=()
# Other checkouts may run the matrix at the same time: one at a time downloads and extracts.
exec 9>"$cache/.lock"
flock 9
for k in "${kernels[@]}"; do runs+=("$(prepare_kernel "$k")"); done
exec 9>&-
# Each guest runs on one host thread: --jobs 2 boots both kernels at once where cores allow.
booting=0
for run in "${runs[@]}"; do
  if ((booting >= jobs)); then
    wait -n || true
    booting=$((booting - 1))
  fi
  boot_kernel "$run" &
  booting=$((booting + 1))
done
wait

failed=0 broken=0 summary=()
for run in "${runs[@]}"; do
  label=$(basename "$run")
  series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$label")
  wall=$(cat "$run/wall" 2>/dev/null || echo "-")
  # A guest that did not run to its end is a broken matrix, whatever the expect file says.
  if ! grep -qs '^KM-DONE' "$run/results.txt"; then
    echo "kernel-matrix: $label: the guest did not finish (qemu status $(cat "$run/qemu-status" 2>/dev/null || echo none)); see $run/console.log" >&2
    tail -20 "$run/console.log" >&2 2>/dev/null || true
    broken=1
  fi
  # The test output, per suite, for failure messages.
  for s in "${suite_list[@]}"; do
    sed -n "s/^KM-LOG $s //p" "$run/results.txt" >"$run/$s.log" 2>/dev/null || true
  done
  pass=0 fail=0 counted_fail=0
  for s in "${suite_list[@]}"; do
    for t in ${selected[$s]}; do
      line=$(grep -s -m1 "^KM-RESULT [a-zA-Z]* $s::$t " "$run/results.txt" || true)
      read -r _ result _ secs <<<"$line"
      if [[ -z $line ]]; then # no timed line (other output broke it): libtest's own log
        line=$(grep -s -m1 "^KM-OUTCOME [a-z]* $s::$t\$" "$run/results.txt" || true)
        read -r _ result _ <<<"$line"
        secs="-"
        [[ ${result:-} == failed ]] && result=FAILED
      fi
      case ${result:-} in
        ok) verdict=PASS ;;
        ignored) verdict=SKIP ;;
        FAILED) verdict=FAIL ;;
        *) verdict=FAIL secs="-" ;;
      esac
      note=""
      if [[ $verdict == PASS ]]; then
        pass=$((pass + 1))
        if [[ -n $expect ]] && ! expected "$series" "$s::$t"; then
          if ((update_expect)); then
            echo "$series $s::$t" >>"$expect"
            note="  (added to $expect)"
          else
            note="  (passes now: add it to the expect file)"
          fi
        fi
      elif [[ $verdict == FAIL ]]; then
        fail=$((fail + 1))
        [[ -z ${result:-} ]] && note="  (no result: the guest ended first)"
        if [[ -z $expect ]] || expected "$series" "$s::$t"; then
          counted_fail=$((counted_fail + 1))
          [[ -n $expect ]] && note+="  (expected to pass: counts)"
        else
          note+="  (known failure)"
        fi
      fi
      printf '%s %s %s %ss%s\n' "$verdict" "$s::$t" "$label" "${secs:--}" "$note"
      [[ $verdict == FAIL ]] && why "$run/$s.log" "$t"
      printf '%s\t%s\t%s\t%s\n' "$verdict" "$s::$t" "$label" "${secs:--}" >>"$out/results.tsv"
    done
  done
  ((counted_fail)) && failed=1
  summary+=("$label: $pass passed, $fail failed ($counted_fail counted) of $total in ${wall}s wall")
  ((fail)) && summary+=("  failure messages: $run/<suite>.log")
done
echo "== kernel matrix (logs: $out)"
printf '%s\n' "${summary[@]}"
((broken)) && exit 3
exit "$failed"
