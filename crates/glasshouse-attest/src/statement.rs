//! in-toto Statements (v1) about a run: the subjects (the command and its output streams) and
//! two predicates: glasshouse's own receipt, or the standard runtime-trace predicate.

use crate::AttestError;
use glasshouse_receipt::{OsText, OutputHash, Receipt};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

/// The Statement type this crate writes and reads.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Our predicate: the whole receipt, as `glasshouse schema` describes it (major version 0).
pub const RECEIPT_PREDICATE: &str = "https://glasshouse.invalid/attestation/receipt/v0";
/// The in-toto runtime-trace predicate.
pub const RUNTIME_TRACE_PREDICATE: &str = "https://in-toto.io/attestation/runtime-trace/v0.2";
/// `monitor.type` of runtime-trace statements: glasshouse's eBPF sensor.
pub const MONITOR_TYPE: &str = "https://glasshouse.invalid/monitor/ebpf/v0";
/// `monitoredProcess.type` of runtime-trace statements: one `glasshouse run`.
pub const PROCESS_TYPE: &str = "https://glasshouse.invalid/run/v0";

/// Which predicate a Statement carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Predicate {
    /// [`RECEIPT_PREDICATE`]: the receipt itself.
    Receipt,
    /// [`RUNTIME_TRACE_PREDICATE`]: monitor, monitored process and the trace, for in-toto tools.
    RuntimeTrace,
}

impl Predicate {
    /// The predicateType URI.
    pub fn type_uri(self) -> &'static str {
        match self {
            Self::Receipt => RECEIPT_PREDICATE,
            Self::RuntimeTrace => RUNTIME_TRACE_PREDICATE,
        }
    }
}

fn text(t: &OsText) -> String {
    t.display_lossy().into_owned()
}

/// The subjects: `stdout` and `stderr` by the receipt's digest of them (SHA-256, or BLAKE3
/// under `run --output-hash blake3`), and `command` by the SHA-256 of its argv joined by NUL
/// bytes (the argv, already redacted, in an annotation).
fn subjects(receipt: &Receipt, command: &[OsText]) -> Vec<Value> {
    let mut joined = Vec::new();
    for (i, a) in command.iter().enumerate() {
        if i > 0 {
            joined.push(0);
        }
        joined.extend_from_slice(a.as_bytes());
    }
    let argv: Vec<String> = command.iter().map(text).collect();
    vec![
        output_subject("stdout", &receipt.artifacts.stdout_hash),
        output_subject("stderr", &receipt.artifacts.stderr_hash),
        json!({
            "name": "command",
            "digest": { "sha256": hex::encode(Sha256::digest(&joined)) },
            "annotations": { "argv": argv },
        }),
    ]
}

/// A stream's subject, its digest set keyed by the algorithm the receipt names.
fn output_subject(name: &str, hash: &str) -> Value {
    let (algorithm, hex) = OutputHash::split(hash);
    json!({ "name": name, "digest": { algorithm: hex } })
}

/// `file://` URI of a path: bytes outside the unreserved set and `/` percent-encoded.
fn file_uri(path: &OsText) -> String {
    let mut uri = String::from("file://");
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// `ip` and `port` of `a.b.c.d:port` or `[v6]:port`.
fn ip_port(dst: &str) -> Option<(&str, u16)> {
    let (host, port) = dst.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<std::net::IpAddr>().ok()?;
    Some((host, port))
}

fn runtime_trace(receipt: &Receipt) -> Result<Value, AttestError> {
    let process: Vec<Value> = receipt
        .process_tree
        .iter()
        .map(|p| {
            json!({
                "pid": p.pid,
                "ppid": p.ppid,
                "processBinary": text(&p.exe),
                "arguments": p.argv.iter().map(text).collect::<Vec<_>>(),
                "workingDir": text(&p.working_dir),
                "exitCode": p.exit_code,
                "signal": p.signal,
            })
        })
        .collect();
    let network: Vec<Value> = receipt
        .network
        .attempts
        .iter()
        .map(|a| {
            let dst = text(&a.dst);
            let mut entry = Map::new();
            match ip_port(&dst) {
                Some((ip, port)) => {
                    entry.insert("ip".into(), ip.into());
                    entry.insert("port".into(), port.into());
                }
                None => {
                    entry.insert("address".into(), dst.clone().into());
                }
            }
            entry.insert("protocol".into(), a.protocol.clone().into());
            entry.insert("result".into(), a.result.clone().into());
            Value::Object(entry)
        })
        .collect();
    let fs = &receipt.filesystem;
    let file_access: Vec<Value> = [
        ("read", &fs.reads),
        ("write", &fs.writes),
        ("delete", &fs.deletes),
    ]
    .into_iter()
    .flat_map(|(access, paths)| {
        paths.iter().map(move |p| {
                json!({ "name": text(p), "uri": file_uri(p), "annotations": { "access": access } })
            })
    })
    .collect();
    let sensor = receipt.sensor.as_ref();
    let trace_policy = json!({
        "sensor": sensor.map_or("none", |s| s.kind.as_str()),
        "complete": sensor.is_some_and(|s| s.complete),
        "eventsLost": sensor.map_or(0, |s| s.events_lost),
        "hooksNotAttached": sensor.map_or_else(Vec::new, |s| s.hooks.iter().filter(|h| !h.attached).map(|h| h.name.clone()).collect()),
        "receiptVersion": receipt.version,
        "redaction": receipt.redaction,
    });
    Ok(json!({
        "monitor": { "type": MONITOR_TYPE, "tracePolicy": trace_policy },
        "monitoredProcess": {
            "hostID": format!("urn:glasshouse:{}", receipt.provenance.as_str()),
            "type": PROCESS_TYPE,
            "event": receipt.execution_id,
        },
        "monitorLog": { "process": process, "network": network, "fileAccess": file_access },
        "metadata": { "buildStartedOn": receipt.timestamp },
    }))
}

/// The Statement about a run, as JSON bytes (the DSSE payload).
pub fn statement(
    receipt: &Receipt,
    command: &[OsText],
    predicate: Predicate,
) -> Result<Vec<u8>, AttestError> {
    let body = match predicate {
        Predicate::Receipt => serde_json::to_value(receipt)
            .map_err(|e| AttestError::Encode(format!("receipt: {e}")))?,
        Predicate::RuntimeTrace => runtime_trace(receipt)?,
    };
    let st = json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects(receipt, command),
        "predicateType": predicate.type_uri(),
        "predicate": body,
    });
    serde_json::to_vec(&st).map_err(|e| AttestError::Encode(format!("statement: {e}")))
}

/// What a verified Statement says.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Checked {
    /// The predicate it carries.
    pub predicate: Predicate,
    /// Whether the sensor's coverage was complete, as the signed predicate says.
    pub complete: bool,
    /// The Statement.
    pub statement: Value,
}

/// Checks a (signature-verified) payload: a Statement v1 with a predicate of a version this
/// glasshouse reads.
pub fn check(payload: &[u8]) -> Result<Checked, AttestError> {
    let st: Value = serde_json::from_slice(payload)
        .map_err(|e| AttestError::Malformed(format!("the payload is not JSON: {e}")))?;
    let kind = st.get("_type").and_then(Value::as_str).unwrap_or("");
    if kind != STATEMENT_TYPE {
        return Err(AttestError::UnsupportedStatement(kind.to_owned()));
    }
    let ptype = st
        .get("predicateType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let predicate = match ptype {
        RECEIPT_PREDICATE => Predicate::Receipt,
        RUNTIME_TRACE_PREDICATE => Predicate::RuntimeTrace,
        other => return Err(AttestError::UnsupportedPredicate(other.to_owned())),
    };
    let body = st.get("predicate").unwrap_or(&Value::Null);
    let complete = match predicate {
        Predicate::Receipt => {
            let version = body.get("version").and_then(Value::as_str);
            glasshouse_receipt::check_version(version)
                .map_err(|e| AttestError::UnsupportedVersion(e.to_string()))?;
            let receipt: Receipt = serde_json::from_value(body.clone()).map_err(|e| {
                AttestError::Malformed(format!("the predicate is not a receipt: {e}"))
            })?;
            receipt.sensor.is_some_and(|s| s.complete)
        }
        Predicate::RuntimeTrace => {
            let policy = body.pointer("/monitor/tracePolicy");
            let version = policy
                .and_then(|p| p.get("receiptVersion"))
                .and_then(Value::as_str);
            glasshouse_receipt::check_version(version)
                .map_err(|e| AttestError::UnsupportedVersion(e.to_string()))?;
            policy
                .and_then(|p| p.get("complete"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        }
    };
    Ok(Checked {
        predicate,
        complete,
        statement: st,
    })
}
