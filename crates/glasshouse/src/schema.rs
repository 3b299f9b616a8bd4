//! `glasshouse schema`: prints the JSON Schema of the receipts this build writes.

use std::io::Write as _;

/// Prints the schema; returns the exit status (1 when stdout cannot take it).
pub fn run() -> i32 {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(glasshouse_receipt::schema_json().as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "glasshouse: error: cannot write to stdout: {e}"
            );
            1
        }
    }
}
