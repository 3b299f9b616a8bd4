//! `glasshouse keygen`: a new Ed25519 key pair for signing receipts.

use glasshouse_attest::Signer;
use std::path::PathBuf;

/// `--help` text after the options.
pub const HELP: &str = "\
Writes the private key (PKCS#8 PEM, mode 0600) at --key and the public key (SPKI PEM) at
--key with .pub appended; an existing file is never overwritten. Prints the key id (SHA-256 of
the public key's DER encoding, hex), which envelopes signed with the key carry.

Example:
  glasshouse keygen --key ci-signing.key
  sudo glasshouse run --profile host --sign-key ci-signing.key -- make test
  glasshouse verify --key ci-signing.key.pub receipt.json.intoto.jsonl

Exit codes: 0 the keys were written; 2 they were not (a file exists, the directory is not writable).";

/// Options of `glasshouse keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where the private key goes; the public key goes next to it with `.pub` appended.
    #[arg(long, value_name = "PATH", default_value = "glasshouse-signing.key")]
    key: PathBuf,
}

/// Makes and writes the key pair; returns the exit code.
pub fn run(args: &KeygenArgs) -> i32 {
    let mut public = args.key.as_os_str().to_owned();
    public.push(".pub");
    let public = PathBuf::from(public);
    let written = Signer::generate().and_then(|s| s.write(&args.key, &public).map(|()| s));
    match written {
        Ok(signer) => {
            println!(
                "glasshouse: wrote private key {} (keep it secret) and public key {}; key id {}",
                args.key.display(),
                public.display(),
                signer.keyid()
            );
            0
        }
        Err(e) => {
            eprintln!("glasshouse: keygen: {e}");
            2
        }
    }
}
