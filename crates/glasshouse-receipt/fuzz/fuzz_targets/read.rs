//! Fuzz target: for any bytes the receipt reader returns a receipt or a typed error, never a
//! panic; the text and the file readers agree; and an accepted receipt writes back to JSON that
//! reads as the same receipt.

#![no_main]

use glasshouse_receipt::{Receipt, ReceiptError};
use libfuzzer_sys::fuzz_target;
use std::io::Write as _;

fuzz_target!(|data: &[u8]| {
    // The file reader streams bytes: it must refuse what is not UTF-8 as the text reader would.
    let mut file = tempfile_in_memory();
    file.write_all(data).expect("write to the in-memory file");
    let from_file = Receipt::read(&file.path);
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(from_file.is_err(), "non-UTF-8 bytes were accepted");
        return;
    };
    let from_text = Receipt::from_json(text);
    match (&from_text, &from_file) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(kind(a), kind(b), "{a} / {b}"),
        _ => panic!("the text and file readers disagree: {from_text:?} / {from_file:?}"),
    }
    if let Ok(receipt) = from_text {
        let json = receipt.to_json().expect("an accepted receipt serializes");
        let back = Receipt::from_json(&json).expect("a written receipt reads back");
        assert_eq!(back, receipt);
    }
});

fn kind(error: &ReceiptError) -> &'static str {
    match error {
        ReceiptError::UnsupportedVersion { .. } => "version",
        ReceiptError::MissingVersion { .. } => "missing",
        ReceiptError::Malformed(_) => "malformed",
        ReceiptError::Io { .. } => "io",
        _ => "other",
    }
}

/// A file under /dev/shm (memory), removed when dropped.
struct ShmFile {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl std::io::Write for ShmFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for ShmFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn tempfile_in_memory() -> ShmFile {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("glasshouse-fuzz-receipt-{}", std::process::id()));
    let file = std::fs::File::create(&path).expect("create the fuzz input file");
    ShmFile { path, file }
}
