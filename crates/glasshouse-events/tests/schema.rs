//! The committed JSON Schema of the event lines must equal the generated one; regenerate with
//! `GLASSHOUSE_BLESS=1 cargo test -p glasshouse-events --test schema`.

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(glasshouse_events::schema_file_name())
}

#[test]
fn committed_schema_matches_generated() {
    let generated = glasshouse_events::schema_json();
    let path = committed_path();
    if std::env::var_os("GLASSHOUSE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; run GLASSHOUSE_BLESS=1 cargo test -p glasshouse-events --test schema", path.display())
    });
    assert!(
        committed == generated,
        "{} is stale: the line types changed. Regenerate it with GLASSHOUSE_BLESS=1 cargo test -p glasshouse-events --test schema (and document the change in docs/events.md)",
        path.display()
    );
}

#[test]
fn the_schema_accepts_lines_and_refuses_wrong_ones() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = serde_json::json!({
        "type": "file", "run": "r", "seq": 0, "ts_ns": 1, "pid": 3,
        "path": {"base64": "/w=="}, "action": "delete"
    });
    assert!(
        validator.is_valid(&good),
        "{:?}",
        validator
            .iter_errors(&good)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    for bad in [
        serde_json::json!({"type": "file", "run": "r", "seq": 0, "ts_ns": 1, "pid": 3, "path": "/x", "action": "chmod"}),
        serde_json::json!({"type": "nonesuch", "run": "r", "seq": 0, "ts_ns": 1}),
        serde_json::json!({"type": "fork", "run": "r", "seq": 0, "pid": 3, "ppid": 1}),
        serde_json::json!({"type": "exec", "run": "r", "seq": 0, "ts_ns": 1, "pid": 3, "ppid": 1, "exe": "/x", "argv": "x", "working_dir": "/"}),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}
