//! The walk over every string of a JSON document (a receipt, an event): exhaustive by
//! construction, since it visits the serialized form, so a field added to the receipt later is
//! redacted without anyone remembering to list it.
//!
//! Lossless text (`{"base64": ...}`) is decoded, scanned as bytes and encoded again. A list held
//! by a field named `argv` is scanned as an argument vector (a flag and its value may be two
//! elements). Map keys are scanned too. Counts are kept per field path, `[]` standing for the
//! elements of a list (`process_tree[].argv`).

use crate::Redactor;
use base64::Engine as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// How many values were redacted, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Secrets replaced by markers, per field path.
    pub fields: BTreeMap<String, u64>,
    /// Secrets replaced, all fields together.
    pub secrets: u64,
    /// Home directory prefixes shown as `~`.
    pub home_paths: u64,
}

impl Tally {
    fn add(&mut self, path: &str, secrets: u64, home: u64) {
        if secrets > 0 {
            *self.fields.entry(path.to_owned()).or_default() += secrets;
            self.secrets += secrets;
        }
        self.home_paths += home;
    }
}

/// The bytes of a lossless-text value, when it is one.
fn os_text_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Object(m) if m.len() == 1 => m
            .get("base64")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
        _ => None,
    }
}

/// Bytes as lossless text: a string when UTF-8, else `{"base64": ...}`.
fn os_text_value(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s) => Value::String(s),
        Err(e) => {
            let mut m = serde_json::Map::new();
            m.insert(
                "base64".to_owned(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(e.as_bytes())),
            );
            Value::Object(m)
        }
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Redacts every string under `v`, except at the paths `keep` says to keep as they are.
pub(crate) fn walk(
    red: &Redactor,
    v: &mut Value,
    path: &str,
    keep: &dyn Fn(&str) -> bool,
    tally: &mut Tally,
) {
    if keep(path) {
        return;
    }
    match v {
        Value::String(s) => {
            if let Some(r) = red.redact_changed(s.as_bytes()) {
                tally.add(path, r.secrets, r.home_paths);
                *v = os_text_value(r.bytes);
            }
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("base64") => {
            if let Some(bytes) = os_text_bytes(v) {
                if let Some(r) = red.redact_changed(&bytes) {
                    tally.add(path, r.secrets, r.home_paths);
                    *v = os_text_value(r.bytes);
                }
            }
        }
        Value::Object(m) => {
            let mut renamed = Vec::new();
            for (key, value) in m.iter_mut() {
                walk(red, value, &child(path, key), keep, tally);
                if let Some(k) = red.redact_changed(key.as_bytes()) {
                    tally.add(&format!("{path}{{}}"), k.secrets, k.home_paths);
                    renamed.push((key.clone(), String::from_utf8_lossy(&k.bytes).into_owned()));
                }
            }
            for (old, new) in renamed {
                if let Some(value) = m.remove(&old) {
                    m.insert(new, value);
                }
            }
        }
        Value::Array(items) => {
            let elements = format!("{path}[]");
            let is_argv = path == "argv" || path.ends_with(".argv");
            let argv: Option<Vec<Vec<u8>>> = if is_argv {
                items.iter().map(os_text_bytes).collect()
            } else {
                None
            };
            match argv {
                Some(argv) => {
                    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                    for (item, r) in items.iter_mut().zip(red.redact_argv(&refs)) {
                        if r.changed() {
                            tally.add(&elements, r.secrets, r.home_paths);
                            *item = os_text_value(r.bytes);
                        }
                    }
                }
                None => {
                    for item in items.iter_mut() {
                        walk(red, item, &elements, keep, tally);
                    }
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
