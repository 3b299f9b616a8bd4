//! Passes stdin to stdout through glasshouse's tee (copy + SHA-256), without a sensor or a
//! child process: `cat FILE | passthrough | cat > /dev/null` isolates the tee's own cost from
//! the rest of a run (bench/passthrough.sh measures the whole run). Prints the hash on stderr.

fn main() {
    let tee = glasshouse_run::tee::Tee::start(std::io::stdin(), std::io::stdout());
    let result = tee.finish(std::time::Duration::from_secs(3600));
    eprintln!("{} {}", result.sha256, result.bytes);
}
