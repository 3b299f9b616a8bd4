//! The v0.3.0 fields kept for older readers, derived in one place from their v0.4.0 sources.

use crate::{LegacyProcess, Receipt};

impl Receipt {
    /// Fills the legacy copies from the fields they mirror: `exit_code` from the outcome
    /// (128+N for signal N), `duration_ms` from `timing.duration_ms`, and `processes` (pid,
    /// ppid, argv joined by spaces) from `process_tree`. Call it after anything that changes
    /// those sources (redaction included), so the copies never say more than the originals.
    pub fn fill_legacy(&mut self) {
        self.exit_code = match (self.outcome.exit_code, self.outcome.signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => self.exit_code,
        };
        self.duration_ms = self.timing.duration_ms;
        self.processes = self
            .process_tree
            .iter()
            .map(|p| LegacyProcess {
                pid: p.pid,
                ppid: p.ppid,
                cmd: p
                    .argv
                    .iter()
                    .map(|a| a.display_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use crate::{OsText, ProcessNode, Provenance, Receipt};

    #[test]
    fn legacy_fields_mirror_their_sources() {
        let mut r = Receipt::new("id".into(), Provenance::Host, "t".into());
        r.outcome.signal = Some(9);
        r.timing.duration_ms = 42;
        r.process_tree.push(ProcessNode {
            pid: 7,
            ppid: 1,
            argv: vec![OsText::from_bytes("sh"), OsText::from_bytes("-c")],
            ..ProcessNode::default()
        });
        r.fill_legacy();
        assert_eq!(r.exit_code, 137);
        assert_eq!(r.duration_ms, 42);
        assert_eq!(r.processes.len(), 1);
        assert_eq!((r.processes[0].pid, r.processes[0].ppid), (7, 1));
        assert_eq!(r.processes[0].cmd, "sh -c");
        r.outcome.exit_code = Some(3);
        r.fill_legacy();
        assert_eq!(r.exit_code, 3);
    }
}
