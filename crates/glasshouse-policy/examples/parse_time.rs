//! Times `Policy::parse` alone on policy files, for bench/readers.sh: prints, per file, its
//! rule count and the median wall time of a few parses.
//!
//!   cargo run --release -p glasshouse-policy --example parse_time -- FILE... [--runs N]

use glasshouse_policy::Policy;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 5usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().ok_or("--runs needs a number")?.parse()?;
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() || runs == 0 {
        return Err("usage: parse_time FILE... [--runs N (>= 1)]".into());
    }
    for file in files {
        let bytes = std::fs::read(&file)?;
        let mut times: Vec<Duration> = Vec::with_capacity(runs);
        let mut rules = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let policy = Policy::parse(&bytes, &file)?;
            times.push(start.elapsed());
            rules = policy.rules().len();
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{file}\t{rules} rules\t{} bytes\tmedian {:.3} s over {runs} parses",
            bytes.len(),
            median.as_secs_f64()
        );
    }
    Ok(())
}
