#!/usr/bin/env python3
"""Independent check of a glasshouse envelope: securesystemslib verifies the DSSE signature with
the public key alone, and the in-toto attestation bindings parse and validate the Statement.

Usage: verify_dsse.py ENVELOPE PUBLIC_KEY_PEM EXPECTED_PREDICATE_TYPE
Prints "ok" and exits 0 when everything holds; exits 1 with the reason otherwise, 2 when the
Python packages are missing (CI installs them: pip install securesystemslib[crypto]
in-toto-attestation)."""

import base64
import hashlib
import json
import sys

try:
    from cryptography.hazmat.primitives import serialization
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError
    from securesystemslib.signer import SSlibKey
except ImportError as e:  # the Rust test turns this into a failure, never a skip
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(2)


def main() -> int:
    envelope_path, key_path, predicate_type = sys.argv[1:4]
    with open(key_path, "rb") as f:
        public = serialization.load_pem_public_key(f.read())
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keyid = hashlib.sha256(der).hexdigest()
    key = SSlibKey.from_crypto(public, keyid=keyid, scheme="ed25519")

    with open(envelope_path, "rb") as f:
        envelope = Envelope.from_dict(json.loads(f.read()))
    if envelope.payload_type != "application/vnd.in-toto+json":
        print(f"payload type {envelope.payload_type}", file=sys.stderr)
        return 1
    try:
        envelope.verify([key], 1)
    except VerificationError as e:
        print(f"signature does not verify: {e}", file=sys.stderr)
        return 1

    # A changed payload must not verify with the same signature.
    tampered = Envelope.from_dict(json.loads(open(envelope_path, "rb").read()))
    tampered.payload = tampered.payload + b" "
    try:
        tampered.verify([key], 1)
        print("a changed payload still verifies", file=sys.stderr)
        return 1
    except VerificationError:
        pass

    pb = json_format.Parse(envelope.payload, statement_pb2.Statement())
    statement = Statement.copy_from_pb(pb)
    statement.validate()
    if pb.predicate_type != predicate_type:
        print(f"predicateType {pb.predicate_type}, expected {predicate_type}", file=sys.stderr)
        return 1
    names = [s.name for s in pb.subject]
    if names != ["stdout", "stderr", "command"]:
        print(f"subjects {names}", file=sys.stderr)
        return 1
    # The raw payload is what was signed: decode it ourselves too.
    raw = json.loads(base64.b64decode(json.loads(open(envelope_path).read())["payload"]))
    if raw["_type"] != "https://in-toto.io/Statement/v1":
        print(f"_type {raw['_type']}", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
