//! `glasshouse verify`: checks a signed envelope with a public key, then what it says.

use glasshouse_attest::{AttestError, PublicKey};
use std::path::PathBuf;

/// `--help` text after the options.
pub const HELP: &str = "\
Exit codes:
  0  the signature verifies with the key and the Statement is one this glasshouse reads
  1  it does not verify: a bad signature, a changed byte, another key, not an envelope
  2  bad input: the envelope or the key file cannot be read, the key is not an Ed25519 public key
  3  unsupported: a payload type, Statement type, predicate type or receipt version this glasshouse does not read
  4  --require-complete was given and the signed receipt says the sensor's coverage was incomplete

Example:
  glasshouse verify --key ci-signing.key.pub receipt.json.intoto.jsonl
  glasshouse verify --key ci-signing.key.pub --require-complete receipt.json.intoto.jsonl";

/// The signature is not good.
pub const NOT_VERIFIED: i32 = 1;
/// The envelope or key could not be read.
pub const BAD_INPUT: i32 = 2;
/// A version or type this glasshouse does not read.
pub const UNSUPPORTED: i32 = 3;
/// The signed receipt's coverage was incomplete, under `--require-complete`.
pub const INCOMPLETE: i32 = 4;

/// Options of `glasshouse verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The signer's public key (SPKI PEM, the `.pub` file of `glasshouse keygen`).
    #[arg(long, value_name = "PUB")]
    key: PathBuf,
    /// Also fail when the signed receipt says the sensor's coverage was incomplete.
    #[arg(long)]
    require_complete: bool,
    /// The envelope (`<receipt>.intoto.jsonl`).
    #[arg(value_name = "FILE")]
    envelope: PathBuf,
}

fn code_of(e: &AttestError) -> i32 {
    match e {
        AttestError::Io { .. } | AttestError::Key { .. } | AttestError::Exists { .. } => BAD_INPUT,
        AttestError::UnsupportedPayloadType(_)
        | AttestError::UnsupportedStatement(_)
        | AttestError::UnsupportedPredicate(_)
        | AttestError::UnsupportedVersion(_) => UNSUPPORTED,
        _ => NOT_VERIFIED,
    }
}

/// Verifies the envelope; returns the exit code.
pub fn run(args: &VerifyArgs) -> i32 {
    let fail = |e: AttestError| {
        eprintln!("glasshouse: verify {}: {e}", args.envelope.display());
        code_of(&e)
    };
    let key = match PublicKey::load(&args.key) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let bytes = match std::fs::read(&args.envelope) {
        Ok(b) => b,
        Err(cause) => {
            return fail(AttestError::Io {
                action: "cannot read envelope",
                path: args.envelope.clone(),
                cause,
            })
        }
    };
    let checked = match glasshouse_attest::verify(&bytes, &key) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let coverage = if checked.complete {
        "complete"
    } else {
        "INCOMPLETE"
    };
    if args.require_complete && !checked.complete {
        eprintln!(
            "glasshouse: verify {}: the signature is good, but the signed receipt says the sensor's coverage was incomplete (--require-complete)",
            args.envelope.display()
        );
        return INCOMPLETE;
    }
    println!(
        "glasshouse: verified {}: signed by key {}, predicate {}, sensor coverage {coverage}",
        args.envelope.display(),
        key.keyid(),
        checked.predicate.type_uri()
    );
    0
}
