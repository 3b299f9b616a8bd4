#!/usr/bin/env python3
"""Generates the inputs of bench/readers.sh: a policy of N rules and a receipt of about SIZE MB.

    bench/gen_readers.py policy N OUT.toml
    bench/gen_readers.py receipt SIZE_MB OUT.json

The policy mixes every action, named and unnamed rules, severities and glob shapes. The receipt
is a valid v0.4.0 receipt whose bulk is, in about equal parts, file paths (reads, writes,
deletes) and failed operations (as 1M failed opens of distinct paths give), plus processes.
"""
import json
import sys

ACTIONS = ["read", "write", "delete", "exec", "connect"]


def policy(n, out):
    with open(out, "w") as f:
        f.write('version = 1\ndefault = "allow"\ndescription = "generated: %d rules"\n' % n)
        for i in range(n):
            action = ACTIONS[i % len(ACTIONS)]
            if action == "connect":
                target = "127.0.%d.%d:%d" % (i // 256 % 256, i % 256, 1024 + i % 60000)
            elif action == "exec":
                target = "/opt/tool%d/bin/*" % i
            else:
                target = "${HOME}/project%d/**/secret-%d.*" % (i % 97, i)
            f.write("\n[[rule]]\n")
            if i % 2 == 0:
                f.write('name = "rule-%d"\n' % i)
            f.write('effect = "deny"\naction = "%s"\ntarget = "%s"\n' % (action, target))
            f.write('reason = "generated rule %d"\n' % i)
            if i % 3 == 0:
                f.write('severity = "%s"\n' % ["low", "medium", "high", "critical"][i % 4])


def receipt(size_mb, out):
    # About 110 bytes of pretty JSON per path entry (three lists) and per process.
    target = size_mb * 1_000_000
    paths = max(1, target // 320)
    failures = max(1, target // 400)
    procs = max(1, target // 8000)

    def path(i):
        return "/home/ada/work/build/target/debug/deps/crate%05d/obj/module-%07d.rcgu.o" % (i % 50000, i)

    r = {
        "version": "v0.4.0",
        "execution_id": "0190a0b0-0000-7000-8000-000000000000",
        "provenance": "host",
        "timestamp": "2026-01-01T00:00:00Z",
        "outcome": {"exit_code": 0, "signal": None, "error": None},
        "timing": {"duration_ms": 1000, "cpu_time_ms": 900},
        "process_tree": [
            {
                "pid": 1000 + p,
                "ppid": 999 + p,
                "exe": "/usr/bin/cc",
                "argv": ["cc", "-c", "-O2", "-o", "module-%d.o" % p, "module-%d.c" % p],
                "working_dir": "/home/ada/work/build",
                "exit_code": 0,
            }
            for p in range(procs)
        ],
        "filesystem": {
            "reads": [path(i) for i in range(0, paths, 1)],
            "writes": [path(i) for i in range(0, paths, 2)],
            "deletes": [path(i) for i in range(0, paths, 4)],
            "policy_violations": [],
            "failed": [
                {
                    "syscall": "openat",
                    "target": "/home/ada/work/build/missing/%07d/file.h" % i,
                    "errno": 2,
                    "error": "ENOENT",
                    "count": 1,
                }
                for i in range(failures)
            ],
        },
        "network": {
            "attempts": [{"dst": "127.0.0.1:8080", "protocol": "tcp", "result": "connected", "count": 1}],
            "bytes_sent": 10,
            "bytes_received": 20,
        },
        "syscalls": {"counts": {"openat": paths}, "denied": []},
        "resources": {"max_rss_kb": 1000, "cpu_time_ms": 900, "user_time_ms": 600, "system_time_ms": 300},
        "environment": {
            "runtime": "make",
            "os": "linux",
            "arch": "amd64",
            "sandbox": {"network": "enabled"},
            "working_dir": "/home/ada/work",
            "home": "/home/ada",
        },
        "execution": {"backend": "process", "isolation": "none"},
        "artifacts": {"stdout_hash": "0" * 64, "stderr_hash": "0" * 64},
        "exit_code": 0,
        "duration_ms": 1000,
        "processes": [
            {"pid": 1000 + p, "ppid": 999 + p, "cmd": "cc -c -O2 module-%d.c" % p} for p in range(procs)
        ],
        "sensor": {
            "kind": "ebpf",
            "complete": True,
            "hooks": [],
            "events_lost": 0,
            "argv_capture": {"requested": "default", "captured": True},
        },
    }
    with open(out, "w") as f:
        json.dump(r, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("policy", "receipt"):
        sys.exit(__doc__)
    {"policy": policy, "receipt": receipt}[sys.argv[1]](int(sys.argv[2]), sys.argv[3])
