//! The committed JSON Schema must equal the generated one; regenerate with
//! `GLASSHOUSE_BLESS=1 cargo test -p glasshouse-receipt --test schema`.

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(glasshouse_receipt::schema_file_name())
}

#[test]
fn committed_schema_matches_generated() {
    let generated = glasshouse_receipt::schema_json();
    let path = committed_path();
    if std::env::var_os("GLASSHOUSE_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; run GLASSHOUSE_BLESS=1 cargo test -p glasshouse-receipt --test schema", path.display())
    });
    assert!(
        committed == generated,
        "{} is stale: the receipt types changed. Regenerate it with GLASSHOUSE_BLESS=1 cargo test -p glasshouse-receipt --test schema, and bump SCHEMA_VERSION if fields were added",
        path.display()
    );
}

#[test]
fn sample_receipt_validates_against_committed_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut r = glasshouse_receipt::Receipt::new(
        "id".into(),
        glasshouse_receipt::Provenance::Host,
        "2026-01-01T00:00:00Z".into(),
    );
    r.filesystem
        .writes
        .push(glasshouse_receipt::OsText::from_bytes(vec![0xc3, 0x28]));
    let value = serde_json::to_value(&r).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
