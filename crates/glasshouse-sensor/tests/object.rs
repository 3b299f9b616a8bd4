//! The committed BPF object must have been built from the committed sources: `bpf/SOURCES.sha256`
//! (written by `scripts/build-ebpf.sh`) must name the sources as they are now.

use sha2::{Digest as _, Sha256};
use std::path::Path;

#[test]
fn object_was_rebuilt_after_the_sources_changed() {
    let bpf = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf");
    let record = std::fs::read_to_string(bpf.join("SOURCES.sha256"))
        .expect("bpf/SOURCES.sha256 is missing: run scripts/build-ebpf.sh");
    let mut checked = 0;
    for line in record.lines() {
        let (hash, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(bpf.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            actual, hash,
            "bpf/{name} changed since glasshouse.bpf.o was built: run scripts/build-ebpf.sh and commit the object"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 4,
        "the record must cover glasshouse.bpf.c, glasshouse.h, syscalls.h and vmlinux.h"
    );
    assert!(bpf.join("glasshouse.bpf.o").metadata().unwrap().len() > 0);
}
