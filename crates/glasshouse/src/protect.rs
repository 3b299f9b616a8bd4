//! The redact and sign stages of `glasshouse run`: their options, and the pipeline hooks built
//! from them. Redaction always runs on a profiled run (with the per-installation key unless
//! `--redaction-key` names another); signing runs when `--sign-key` is given.

use glasshouse_attest::{Predicate, Signer as SigningKey, ENVELOPE_SUFFIX};
use glasshouse_receipt::{OsText, Receipt};
use glasshouse_redact::{RedactionKey, Redactor, Rules};
use glasshouse_run::{Attachment, HookError, Hooks};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of the redact and sign stages.
#[derive(Debug, clap::Args)]
pub struct ProtectArgs {
    /// The HMAC key for redaction markers (32 bytes, mode 0600; made if missing)
    /// [default: /var/lib/glasshouse/redaction.key for root, else $XDG_STATE_HOME/glasshouse/redaction.key]
    #[arg(long, value_name = "FILE", requires = "profile")]
    redaction_key: Option<PathBuf>,
    /// Add redaction rules from this TOML file (patterns, allowed and secret names).
    #[arg(long, value_name = "FILE", requires = "profile")]
    redaction_rules: Option<PathBuf>,
    /// Show the home directory as `~` in the receipt.
    #[arg(long, requires = "profile")]
    redact_home: bool,
    /// Also write a DSSE envelope signed with this Ed25519 private key (from `glasshouse
    /// keygen`) at `<receipt>.intoto.jsonl`.
    #[arg(long, value_name = "KEY", requires = "profile")]
    sign_key: Option<PathBuf>,
    /// What the signed Statement carries: the receipt, or the in-toto runtime-trace predicate.
    #[arg(long, value_enum, default_value = "receipt", requires = "sign_key")]
    attestation: AttestationArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AttestationArg {
    Receipt,
    RuntimeTrace,
}

/// The redactor as the pipeline's redact stage.
struct RedactStage(Arc<Redactor>);

impl glasshouse_run::Redactor for RedactStage {
    fn redact(&mut self, receipt: &mut Receipt) -> Result<(), HookError> {
        self.0
            .redact_receipt(receipt)
            .map_err(|e| HookError(e.to_string()))
    }
}

/// The signing key as the pipeline's sign stage.
struct SignStage {
    key: SigningKey,
    predicate: Predicate,
    /// The command line, redacted like the receipt.
    command: Vec<OsText>,
}

impl glasshouse_run::Signer for SignStage {
    fn sign(&mut self, receipt: &Receipt) -> Result<Vec<Attachment>, HookError> {
        let envelope = glasshouse_attest::attest(&self.key, receipt, &self.command, self.predicate)
            .and_then(|e| e.to_line())
            .map_err(|e| HookError(e.to_string()))?;
        Ok(vec![Attachment::new(ENVELOPE_SUFFIX, envelope)])
    }
}

/// The hooks of a run, and the redactor for the lines glasshouse itself prints.
pub struct Protection {
    pub hooks: Hooks,
    redactor: Arc<Redactor>,
}

impl Protection {
    /// Loads the rules, the redaction key and the signing key; any problem refuses the run
    /// before the command starts. `home` is the command's home (`--redact-home` shows it as `~`).
    pub fn new(
        args: &ProtectArgs,
        command: &[OsString],
        home: Option<OsString>,
        user: &glasshouse_run::user::RunUser,
    ) -> Result<Self, String> {
        let rules = match &args.redaction_rules {
            // Under sudo, with the invoking user's rights: root reads no file for them that
            // they could not read (a parse error would show its first line).
            Some(path) => {
                let reader = user.invoker.as_ref();
                let bytes = glasshouse_run::access::read_for("redaction rules", path, reader)?;
                Rules::from_file_bytes(path, &bytes)
            }
            None => Rules::builtin(),
        }
        .map_err(|e| e.to_string())?;
        let key_path = match &args.redaction_key {
            Some(p) => {
                refuse_to_make_a_key_for_the_user(p, user)?;
                p.clone()
            }
            None => RedactionKey::default_path().map_err(|e| e.to_string())?,
        };
        let key = RedactionKey::load_or_create(&key_path)
            .map_err(|e| format!("{e} (choose another key file with --redaction-key)"))?;
        let home = home.filter(|_| args.redact_home);
        let redactor =
            Arc::new(Redactor::new(rules, key).with_home(home.as_ref().map(|h| h.as_bytes())));
        let mut hooks = Hooks::default();
        hooks
            .redactors
            .push(Box::new(RedactStage(Arc::clone(&redactor))));
        if let Some(path) = &args.sign_key {
            refuse_key_the_command_can_read(path, user)?;
            let key = SigningKey::load(path).map_err(|e| e.to_string())?;
            let argv: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
            let command = redactor
                .redact_argv(&argv)
                .into_iter()
                .map(|r| OsText::from_bytes(r.bytes))
                .collect();
            let predicate = match args.attestation {
                AttestationArg::Receipt => Predicate::Receipt,
                AttestationArg::RuntimeTrace => Predicate::RuntimeTrace,
            };
            hooks.signers.push(Box::new(SignStage {
                key,
                predicate,
                command,
            }));
        }
        Ok(Self { hooks, redactor })
    }

    /// The redactor the receipt is redacted with (for the live event stream's lines).
    pub fn redactor(&self) -> Arc<Redactor> {
        Arc::clone(&self.redactor)
    }

    /// A line for glasshouse's stderr with secrets (and the home, if asked) redacted.
    pub fn line(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.redactor.redact_text(text.as_bytes()).bytes).into_owned()
    }
}

/// A redaction key named under sudo is not made by root: the path is the user's to choose, and
/// root creating a file (and its directories) wherever it leads, even after checking, could be
/// led elsewhere in between. The user makes it; an existing key is read as root (it is never
/// shown), so that the command, running as the user, need not be able to read it.
fn refuse_to_make_a_key_for_the_user(
    path: &Path,
    user: &glasshouse_run::user::RunUser,
) -> Result<(), String> {
    let Some(invoker) = user.invoker.as_ref().filter(|u| u.uid != 0) else {
        return Ok(());
    };
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    Err(format!(
        "redaction key {path} does not exist, and glasshouse (root) does not make a key at a path that uid {uid}, the user who started it through sudo, names; make it first (as root, so that the command cannot read it: sudo sh -c 'umask 077; head -c 32 /dev/urandom > {path}'), or leave out --redaction-key to use root's own key",
        path = path.display(),
        uid = invoker.uid
    ))
}

/// A signing key the command's user can read could leave with the command, which could then
/// sign receipts of runs that never happened: refused when glasshouse runs the command as
/// another user (a root command can read anything, and its receipt says so).
fn refuse_key_the_command_can_read(
    path: &std::path::Path,
    user: &glasshouse_run::user::RunUser,
) -> Result<(), String> {
    let c = &user.command;
    if !user.switch || c.uid == 0 {
        return Ok(());
    }
    let access = glasshouse_run::access::READ;
    if glasshouse_run::access::allowed(None, Some(path), c.uid, c.gid, &c.groups, access) {
        return Err(format!(
            "signing key {} can be read by uid {}, the user the command runs as: the command could copy it and sign receipts of runs that never happened; make the key readable by root only (chown root: and chmod 600 it; glasshouse keygen run as root makes it so), or choose another --sign-key",
            path.display(),
            c.uid
        ));
    }
    Ok(())
}
