//! The sandbox's file system, planned in glasshouse (paths resolved, strings allocated) and
//! carried out by the sandbox's first process with raw system calls: the host's tree bound
//! read-only under a new root, the writable, read-only and hidden layers on top, a private
//! `/tmp`, a procfs of the new pid namespace, then `pivot_root`.

use super::SandboxError;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

/// Where the host's root is while the new root is assembled (inside the staging tmpfs).
const OLD_ROOT: &str = "/oldroot";
/// The new root being assembled.
const NEW_ROOT: &str = "/newroot";
/// The staging tmpfs is mounted over this directory (in the sandbox's mount namespace only).
const STAGE: &str = "/tmp";
/// Where the proxy's socket directory appears inside the sandbox.
pub(crate) const PROXY_DIR_INSIDE: &str = "/tmp/.glasshouse";

/// File systems whose mounts a sandboxed command never sees (glasshouse's BPF objects live on
/// bpf; tracefs and debugfs expose kernel tracing).
const HIDDEN_FS_TYPES: [&str; 3] = ["bpf", "tracefs", "debugfs"];

/// How a path appears in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// The host's file, writable.
    Writable,
    /// The host's file, read-only.
    ReadOnly,
    /// An empty, read-only stand-in (a directory without entries, an empty file).
    Hidden,
    /// A fresh tmpfs, writable, gone when the sandbox ends.
    PrivateTmp,
    /// The proxy's socket directory, read-only.
    ProxySocket,
}

/// One step the sandbox's first process takes.
pub(crate) enum Op {
    /// mount(2).
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// mount_setattr(2) on a tree: set and clear mount attributes.
    SetAttr {
        target: CString,
        set: u64,
        clear: u64,
    },
    /// mkdir(2), an existing directory is fine.
    Mkdir { path: CString, mode: libc::mode_t },
    /// Creates an empty file to mount a file onto; an existing one is fine.
    Touch { path: CString },
    /// pivot_root(2) into `new_root` with the old root stacked under it, then detach the old.
    PivotInto { new_root: CString },
    /// pivot_root(2) with the old root kept at `put_old`.
    PivotKeeping { new_root: CString, put_old: CString },
}

impl Op {
    /// What this step is, for an error message.
    pub(crate) fn describe(&self) -> String {
        let s = |c: &CStr| c.to_string_lossy().into_owned();
        match self {
            Op::Mount {
                source,
                target,
                fstype,
                ..
            } => format!(
                "mount {} on {}",
                fstype
                    .as_deref()
                    .or(source.as_deref())
                    .map_or_else(|| "(flags)".to_owned(), s),
                s(target)
            ),
            Op::SetAttr { target, .. } => format!("set mount attributes of {}", s(target)),
            Op::Mkdir { path, .. } => format!("create directory {}", s(path)),
            Op::Touch { path } => format!("create mount point {}", s(path)),
            Op::PivotInto { new_root } => format!("pivot_root into {}", s(new_root)),
            Op::PivotKeeping { new_root, .. } => format!("pivot_root into {}", s(new_root)),
        }
    }
}

/// A path's layer, as planned.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub path: PathBuf,
    pub layer: Layer,
    /// Where the host's content comes from (the proxy directory differs from its target).
    pub source: PathBuf,
}

fn cstring(p: &Path) -> Result<CString, SandboxError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| SandboxError::Invalid {
        what: format!("{} contains a NUL byte", p.display()),
    })
}

fn under(prefix: &str, p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    Path::new(prefix).join(rel)
}

fn depth(p: &Path) -> usize {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

/// Mount points of the hidden file system types, from `/proc/self/mountinfo`.
pub(crate) fn hidden_fs_mounts() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount_point = left.split(' ').nth(4)?;
            HIDDEN_FS_TYPES
                .contains(&fstype)
                .then(|| PathBuf::from(unescape_mountinfo(mount_point)))
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Orders the layers so that a deeper path is mounted on top of a shallower one, dropping any
/// that sit inside a hidden path (they could not be reached anyway).
pub(crate) fn order(mut layers: Vec<Placed>) -> Vec<Placed> {
    layers.sort_by_key(|l| depth(&l.path));
    let mut kept: Vec<Placed> = Vec::new();
    for l in layers {
        let inside_hidden = kept
            .iter()
            .any(|k| k.layer == Layer::Hidden && l.path.starts_with(&k.path) && l.path != k.path);
        if !inside_hidden {
            kept.push(l);
        }
    }
    kept
}

/// The steps that build the sandbox's file system from `layers` (already ordered).
pub(crate) fn plan(layers: &[Placed]) -> Result<Vec<Op>, SandboxError> {
    let c = |s: &str| CString::new(s).map_err(|_| SandboxError::Invalid { what: s.to_owned() });
    let mut ops = vec![
        // Nothing done here may propagate back to the host.
        Op::Mount {
            source: None,
            target: c("/")?,
            fstype: None,
            flags: libc::MS_REC | libc::MS_PRIVATE,
            data: None,
        },
        Op::Mount {
            source: Some(c("glasshouse")?),
            target: c(STAGE)?,
            fstype: Some(c("tmpfs")?),
            flags: libc::MS_NOSUID | libc::MS_NODEV,
            data: Some(c("mode=0755")?),
        },
        Op::Mkdir {
            path: c(&format!("{STAGE}{NEW_ROOT}"))?,
            mode: 0o755,
        },
        Op::Mkdir {
            path: c(&format!("{STAGE}{OLD_ROOT}"))?,
            mode: 0o755,
        },
        Op::Touch {
            path: c(&format!("{STAGE}/empty"))?,
        },
        Op::PivotKeeping {
            new_root: c(STAGE)?,
            put_old: c(&format!("{STAGE}{OLD_ROOT}"))?,
        },
        Op::Mount {
            source: Some(c(OLD_ROOT)?),
            target: c(NEW_ROOT)?,
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REC,
            data: None,
        },
        Op::SetAttr {
            target: c(NEW_ROOT)?,
            set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
            clear: 0,
        },
    ];
    let private_tmps: Vec<&Path> = layers
        .iter()
        .filter(|l| l.layer == Layer::PrivateTmp)
        .map(|l| l.path.as_path())
        .collect();
    for l in layers {
        let target = under(NEW_ROOT, &l.path);
        // Inside a private tmpfs the mount point has to be made first.
        if let Some(tmp) = private_tmps
            .iter()
            .find(|t| l.path.starts_with(t) && l.path != **t)
        {
            let mut dir = under(NEW_ROOT, tmp);
            let rel = l.path.strip_prefix(tmp).unwrap_or(&l.path);
            let parts: Vec<_> = rel.components().collect();
            for (i, part) in parts.iter().enumerate() {
                dir.push(part);
                let last = i + 1 == parts.len();
                if last && l.layer != Layer::ProxySocket && !l.source.is_dir() {
                    ops.push(Op::Touch {
                        path: cstring(&dir)?,
                    });
                } else {
                    ops.push(Op::Mkdir {
                        path: cstring(&dir)?,
                        mode: 0o755,
                    });
                }
            }
        }
        let bind = |ops: &mut Vec<Op>| -> Result<(), SandboxError> {
            ops.push(Op::Mount {
                source: Some(cstring(&under(OLD_ROOT, &l.source))?),
                target: cstring(&target)?,
                fstype: None,
                flags: libc::MS_BIND | libc::MS_REC,
                data: None,
            });
            Ok(())
        };
        match l.layer {
            Layer::Writable => {
                bind(&mut ops)?;
                ops.push(Op::SetAttr {
                    target: cstring(&target)?,
                    set: MOUNT_ATTR_NOSUID,
                    clear: 0,
                });
            }
            Layer::ReadOnly | Layer::ProxySocket => {
                bind(&mut ops)?;
                ops.push(Op::SetAttr {
                    target: cstring(&target)?,
                    set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
                    clear: 0,
                });
            }
            Layer::PrivateTmp => ops.push(Op::Mount {
                source: Some(c("tmpfs")?),
                target: cstring(&target)?,
                fstype: Some(c("tmpfs")?),
                flags: libc::MS_NOSUID | libc::MS_NODEV,
                data: Some(c("mode=1777")?),
            }),
            Layer::Hidden if l.source.is_dir() => ops.push(Op::Mount {
                source: Some(c("hidden")?),
                target: cstring(&target)?,
                fstype: Some(c("tmpfs")?),
                flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                data: Some(c("mode=000")?),
            }),
            Layer::Hidden => {
                ops.push(Op::Mount {
                    source: Some(c("/empty")?),
                    target: cstring(&target)?,
                    fstype: None,
                    flags: libc::MS_BIND,
                    data: None,
                });
                ops.push(Op::SetAttr {
                    target: cstring(&target)?,
                    set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                    clear: 0,
                });
            }
        }
    }
    ops.push(Op::Mount {
        source: Some(c("proc")?),
        target: c(&format!("{NEW_ROOT}/proc"))?,
        fstype: Some(c("proc")?),
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: None,
    });
    ops.push(Op::PivotInto {
        new_root: c(NEW_ROOT)?,
    });
    Ok(ops)
}

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Carries out one step. Runs in the sandbox's first process between clone and exec: raw
/// system calls on memory prepared by the parent, no allocation.
pub(crate) fn execute(op: &Op) -> Result<(), i32> {
    let ptr = |c: &Option<CString>| c.as_deref().map_or(std::ptr::null(), CStr::as_ptr);
    let check = |rc: libc::c_long| if rc < 0 { Err(errno()) } else { Ok(()) };
    match op {
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => {
            // SAFETY: every pointer is null or a NUL-terminated string owned by the plan.
            let rc = unsafe {
                libc::mount(
                    ptr(source),
                    target.as_ptr(),
                    ptr(fstype),
                    *flags,
                    ptr(data).cast(),
                )
            };
            check(rc.into())
        }
        Op::SetAttr { target, set, clear } => {
            #[repr(C)]
            struct MountAttr {
                attr_set: u64,
                attr_clr: u64,
                propagation: u64,
                userns_fd: u64,
            }
            let attr = MountAttr {
                attr_set: *set,
                attr_clr: *clear,
                propagation: 0,
                userns_fd: 0,
            };
            const AT_RECURSIVE: libc::c_uint = 0x8000;
            // SAFETY: mount_setattr reads the path and `attr` (its documented size) only.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    AT_RECURSIVE,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                )
            };
            check(rc)
        }
        Op::Mkdir { path, mode } => {
            // SAFETY: a NUL-terminated path owned by the plan.
            let rc = unsafe { libc::mkdir(path.as_ptr(), *mode) };
            if rc < 0 && errno() != libc::EEXIST {
                return Err(errno());
            }
            Ok(())
        }
        Op::Touch { path } => {
            // SAFETY: a NUL-terminated path owned by the plan; the descriptor is closed here.
            let fd = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o000,
                )
            };
            if fd < 0 {
                return if errno() == libc::EEXIST {
                    Ok(())
                } else {
                    Err(errno())
                };
            }
            // SAFETY: fd was opened above.
            unsafe { libc::close(fd) };
            Ok(())
        }
        Op::PivotKeeping { new_root, put_old } => {
            // SAFETY: NUL-terminated paths owned by the plan.
            check(unsafe {
                libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr())
            })?;
            // SAFETY: a static NUL-terminated path.
            check(unsafe { libc::chdir(c"/".as_ptr()) }.into())
        }
        Op::PivotInto { new_root } => {
            let dot = c".".as_ptr();
            // SAFETY: NUL-terminated paths; pivot_root(".", ".") stacks the old root under the
            // new one, and the detach below removes it (and everything of the host not bound).
            unsafe {
                check(libc::chdir(new_root.as_ptr()).into())?;
                check(libc::syscall(libc::SYS_pivot_root, dot, dot))?;
                check(libc::umount2(dot, libc::MNT_DETACH).into())?;
                check(libc::chdir(c"/".as_ptr()).into())
            }
        }
    }
}

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(path: &str, layer: Layer) -> Placed {
        Placed {
            path: path.into(),
            layer,
            source: path.into(),
        }
    }

    #[test]
    fn deeper_layers_go_on_top_and_nothing_is_mounted_inside_a_hidden_path() {
        let ordered = order(vec![
            placed("/a/b/c", Layer::Writable),
            placed("/tmp", Layer::PrivateTmp),
            placed("/a", Layer::Hidden),
            placed("/x/y", Layer::ReadOnly),
        ]);
        let paths: Vec<_> = ordered.iter().map(|p| p.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["/tmp", "/a", "/x/y"]);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn a_writable_path_under_the_private_tmp_gets_its_mount_point_made() {
        let dir = tempfile::tempdir().unwrap();
        let layers = order(vec![
            placed("/tmp", Layer::PrivateTmp),
            Placed {
                path: dir.path().into(),
                layer: Layer::Writable,
                source: dir.path().into(),
            },
        ]);
        let steps: Vec<_> = plan(&layers).unwrap().iter().map(Op::describe).collect();
        let mkdir = format!("create directory /newroot{}", dir.path().display());
        let bind = format!(
            "mount /oldroot{} on /newroot{}",
            dir.path().display(),
            dir.path().display()
        );
        let (m, b) = (
            steps.iter().position(|s| *s == mkdir).unwrap(),
            steps.iter().position(|s| *s == bind).unwrap(),
        );
        assert!(m < b, "{steps:#?}");
        assert_eq!(steps.last().unwrap(), "pivot_root into /newroot");
    }
}
