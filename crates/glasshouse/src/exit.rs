//! glasshouse's own exit codes, chosen outside the range commands commonly use for themselves.

/// Usage or set-up error before the command started: bad options, an unsupported profile or
/// backend, a receipt path that cannot be written, a policy that does not load.
pub const USAGE: i32 = 125;
/// `--profile host` was asked for but the kernel sensor could not start (not root, no BTF, BPF
/// refused). The command was not run.
pub const SENSOR_UNAVAILABLE: i32 = 124;
/// The command ran but its receipt could not be written anywhere (not even in the fallback
/// location); it was printed on stderr.
pub const RECEIPT_WRITE_FAILED: i32 = 123;
/// The command ran and its receipt could not be written where `--receipt` said; it was written
/// to the fallback location (`$TMPDIR`, else /tmp: glasshouse-receipt-EXECUTION_ID.json), which
/// the message names.
pub const RECEIPT_IN_FALLBACK: i32 = 121;
/// `--enforce-exit` was given and the policy found violations.
pub const POLICY_VIOLATION: i32 = 122;
// 127 (not found) and 126 (cannot be executed) are the shell's codes; the pipeline gives them
// (glasshouse_run::supervise::{NOT_FOUND, NOT_EXECUTABLE}) as the command's status.

/// An error that ends glasshouse with a specific exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// The exit code.
    pub code: i32,
    /// The one-line message printed on stderr.
    pub message: String,
}

impl Exit {
    /// An exit with a code and a message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The exit-code table, for `--help`.
pub const TABLE: &str = "\
Exit codes of `glasshouse run`:
  N        the command's own exit status
  128+N    the command was killed by signal N
  127      the command was not found
  126      the command exists but cannot be executed
  125      usage or set-up error; the command was not run
  124      --profile given but the eBPF sensor could not start; the command was not run
  123      the command ran but the receipt could not be written anywhere; it was printed on stderr
  122      --enforce-exit given and the policy found violations
  121      the command ran and the receipt could not be written to --receipt; it was written to
           $TMPDIR (else /tmp) as glasshouse-receipt-EXECUTION_ID.json, named in the message";
