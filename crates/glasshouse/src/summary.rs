//! The lines `glasshouse run` prints on stderr after a profiled run.

use glasshouse_receipt::Receipt;

/// What the receipt holds, in a few lines.
pub fn summary(r: &Receipt, path: &std::path::Path) -> String {
    let fs = &r.filesystem;
    let mut lines = vec![format!(
        "glasshouse: receipt {}: exit {}, {} processes, {} reads, {} writes, {} deletes, {} network attempts, {} failed operations ({} denied)",
        path.display(),
        r.exit_code,
        r.process_tree.len(),
        fs.reads.len(),
        fs.writes.len(),
        fs.deletes.len(),
        r.network.attempts.len(),
        fs.failed.len(),
        r.syscalls.denied.len(),
    )];
    let ended = r
        .process_tree
        .iter()
        .filter(|p| p.ended_by_glasshouse)
        .count();
    if ended > 0 {
        lines.push(format!(
            "glasshouse: ended {ended} processes that outlived the command past --linger"
        ));
    }
    if let Some(p) = &r.policy {
        lines.push(format!(
            "glasshouse: policy {}: {} violations",
            p.verdict,
            p.violations.len()
        ));
    }
    match &r.sensor {
        Some(s) if s.complete => lines.push(format!(
            "glasshouse: sensor coverage complete ({} hooks attached, no event lost)",
            s.hooks.len()
        )),
        Some(s) => {
            lines.push(format!(
                "glasshouse: sensor coverage INCOMPLETE: {} events lost, {} cut short; see sensor in the receipt",
                s.events_lost,
                s.truncated.len()
            ));
            lines.extend(s.notes.iter().map(|n| format!("glasshouse:   {n}")));
        }
        None => {}
    }
    lines.join("\n")
}
