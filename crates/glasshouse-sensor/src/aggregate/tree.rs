//! The process tree: who forked whom, what each process executed, how it ended.

use super::Aggregator;
use crate::event::Event;
use glasshouse_receipt::{ExecImage, OsText, ProcessNode, Truncation};

#[derive(Debug, Clone, Default)]
pub(super) struct Image {
    exe: Vec<u8>,
    argv: Vec<Vec<u8>>,
    cwd: Vec<u8>,
    argv_truncated: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Proc {
    pub(super) pid: u32,
    pub(super) ppid: u32,
    /// The pid in the process's own pid namespace (0: not reported).
    pub(super) ns_pid: u32,
    pub(super) image: Image,
    /// Every exec, in order.
    pub(super) execs: Vec<Image>,
    /// Wait status, once the process exited.
    pub(super) status: Option<i64>,
}

impl Aggregator {
    pub(super) fn on_fork(&mut self, e: &Event<'_>) {
        let parent_image = self
            .live
            .get(&e.aux)
            .map(|p| p.image.clone())
            .unwrap_or_default();
        let cwd = self.path(e, 0);
        self.stream.fork(e.tgid, e.aux);
        let proc = Proc {
            pid: e.tgid,
            ppid: e.aux,
            ns_pid: e.extra as u32,
            image: Image {
                cwd,
                ..parent_image
            },
            execs: Vec::new(),
            status: None,
        };
        if let Some(old) = self.live.insert(e.tgid, proc) {
            // Its exit was not seen (lost); keep what we knew.
            self.finished.push(old);
        }
    }

    pub(super) fn on_exec(&mut self, e: &Event<'_>) {
        let exe = self.path(e, 0);
        let cwd = self.path(e, 1);
        let mut argv: Vec<Vec<u8>> = e.strings[2]
            .split(|b| *b == 0)
            .map(<[u8]>::to_vec)
            .collect();
        // The argument area ends with a NUL, which leaves one empty piece.
        if argv.last().is_some_and(Vec::is_empty) {
            argv.pop();
        }
        let argv_truncated = e.truncated(2);
        if argv_truncated {
            self.truncate(Truncation::new(
                "argv",
                e.tgid,
                OsText::from_bytes(e.strings[2].to_vec()),
            ));
        }
        let image = Image {
            exe,
            argv,
            cwd,
            argv_truncated,
        };
        let root_ppid = self.root_ppid;
        let proc = self.live.entry(e.tgid).or_insert_with(|| Proc {
            pid: e.tgid,
            ppid: root_ppid,
            ..Proc::default()
        });
        if e.extra != 0 {
            proc.ns_pid = e.extra as u32;
        }
        self.stream.exec(
            e.tgid,
            proc.ppid,
            &image.exe,
            &image.argv,
            &image.cwd,
            image.argv_truncated,
        );
        proc.image = image.clone();
        proc.execs.push(image);
    }

    /// The process tree, sorted by pid (a reused pid keeps its order of appearance).
    pub fn processes(&self) -> Vec<ProcessNode> {
        let mut out: Vec<ProcessNode> = self
            .finished
            .iter()
            .chain(self.live.values())
            .map(node)
            .collect();
        out.sort_by_key(|n| n.pid);
        out
    }
}

fn node(p: &Proc) -> ProcessNode {
    let mut n = ProcessNode::default();
    n.pid = p.pid;
    n.ppid = p.ppid;
    n.ns_pid = (p.ns_pid != 0 && p.ns_pid != p.pid).then_some(p.ns_pid);
    n.exe = OsText::from_bytes(p.image.exe.clone());
    n.argv = p
        .image
        .argv
        .iter()
        .map(|a| OsText::from_bytes(a.clone()))
        .collect();
    n.working_dir = OsText::from_bytes(p.image.cwd.clone());
    n.argv_truncated = p.image.argv_truncated;
    if p.execs.len() > 1 {
        n.execs = p
            .execs
            .iter()
            .map(|i| {
                let mut x = ExecImage::default();
                x.exe = OsText::from_bytes(i.exe.clone());
                x.argv = i
                    .argv
                    .iter()
                    .map(|a| OsText::from_bytes(a.clone()))
                    .collect();
                x.working_dir = OsText::from_bytes(i.cwd.clone());
                x.argv_truncated = i.argv_truncated;
                x
            })
            .collect();
    }
    if let Some(status) = p.status {
        let status = status as i32;
        let sig = status & 0x7f;
        if sig == 0 {
            n.exit_code = Some((status >> 8) & 0xff);
        } else {
            n.signal = Some(sig);
        }
    }
    n
}
