#!/usr/bin/env python3
"""Small jobs of scripts/kernel-matrix.sh that shell does badly.

  helper.py test-binaries SUITE...   cargo's --message-format=json on stdin -> "suite=path" lines
  helper.py cpio OUT DIR             write DIR's tree as an uncompressed newc initramfs to OUT
"""
import json
import os
import stat
import sys


def test_binaries(suites):
    found = {}
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        target = msg.get("target", {})
        if "test" in target.get("kind", []) and target.get("name") in suites:
            found[target["name"]] = msg["executable"]
    missing = [s for s in suites if s not in found]
    if missing:
        sys.exit("kernel-matrix: cargo built no test binary for: " + ", ".join(missing))
    for suite in suites:
        print(f"{suite}={found[suite]}")


def cpio(out, root):
    """The kernel's initramfs format ("newc"): a header of hex fields, the name, the data."""
    ino = 1
    with open(out, "wb") as f:

        def entry(name, mode, data=b""):
            nonlocal ino
            encoded = name.encode() + b"\0"
            fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
            f.write(b"070701" + b"".join(b"%08X" % v for v in fields) + encoded)
            f.write(b"\0" * (-(110 + len(encoded)) % 4) + data + b"\0" * (-len(data) % 4))
            ino += 1

        for top, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(top, root)
            if rel != ".":
                entry(rel, stat.S_IFDIR | 0o755)
            for name in sorted(files):
                path = os.path.join(top, name)
                mode = os.stat(path).st_mode
                with open(path, "rb") as src:
                    data = src.read()
                entry(os.path.normpath(os.path.join(rel, name)), stat.S_IFREG | (mode & 0o777), data)
        entry("TRAILER!!!", 0)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "test-binaries":
        test_binaries(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "cpio":
        cpio(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
