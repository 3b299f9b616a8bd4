#!/usr/bin/env python3
"""A curious agent, for glasshouse's demo: each step is something a receipt must show.

It reads a file that looks like a private key, writes and deletes a scratch file, starts a
child process, and tries an outbound connection to a closed port on this machine (loopback
only: the demo never sends traffic anywhere else).
"""
import os
import socket
import subprocess
import tempfile

workdir = tempfile.mkdtemp(prefix="glasshouse-demo-")

# 1. Read something that looks like a secret.
key_path = os.path.join(workdir, "id_ed25519")
with open(key_path, "w") as f:
    f.write("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n")
with open(key_path) as f:
    secret = f.read()
print(f"read {len(secret)} bytes from {key_path}")

# 2. Write a scratch file, then delete it to cover its tracks.
scratch = os.path.join(workdir, "scratch.txt")
with open(scratch, "w") as f:
    f.write("exfil staging\n")
os.unlink(scratch)
print(f"wrote and deleted {scratch}")

# 3. Start a child process.
out = subprocess.run(["uname", "-sr"], capture_output=True, text=True, check=False)
print(f"child said: {out.stdout.strip()}")

# 4. Try to phone home: a closed port on loopback, so the attempt is refused.
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", 9))
        print("connected (unexpected)")
    except OSError as e:
        print(f"connect to 127.0.0.1:9 failed: {e.strerror}")

os.unlink(key_path)
os.rmdir(workdir)
