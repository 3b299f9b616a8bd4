//! Passes stdin to stdout through glasshouse's tee (copy + SHA-256), without a sensor or a
//! child process: `cat FILE | passthrough | cat > /dev/null` isolates the tee's own cost from
//! the rest of a run (bench/passthrough.sh measures the whole run). Prints the hash on stderr.

//!
//! `passthrough blake3` hashes with BLAKE3 instead (`run --output-hash blake3`).

use glasshouse_receipt::OutputHash;

fn main() {
    let algorithm = match std::env::args().nth(1).as_deref() {
        Some("blake3") => OutputHash::Blake3,
        _ => OutputHash::Sha256,
    };
    let tee = glasshouse_run::tee::Tee::start(std::io::stdin(), std::io::stdout(), algorithm);
    let result = tee.finish(std::time::Duration::from_secs(3600));
    eprintln!("{} {}", result.hash, result.bytes);
}
