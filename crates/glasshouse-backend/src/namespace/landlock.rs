//! Landlock on top of the mounts: writes only beneath the writable paths, also where a mount
//! would allow more (a file system the host mounted read-write inside a writable directory's
//! reach stays as writable as its layer, but nothing else does). With `--enforce`, the
//! policy's allow-lists narrow it: writes only where both the sandbox and the policy allow
//! them, reads only beneath the trees the policy allows.
//!
//! The ruleset is built in glasshouse with the `landlock` crate (paths opened on the host;
//! rules follow inodes, so they hold at the same files inside the sandbox). The private `/tmp`
//! exists only inside, so the sandboxed process adds its rule itself, then restricts itself,
//! both with raw system calls.

use super::AccessLimit;
use landlock::{
    AccessFs, Compatible as _, PathBeneath, PathFd, Ruleset, RulesetAttr as _,
    RulesetCreatedAttr as _, ABI,
};
use std::os::fd::{AsRawFd as _, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The Landlock ABI whose write rights are handled (6.2 and later: truncate included).
const HANDLED: ABI = ABI::V3;

/// A ruleset ready for the sandboxed process.
pub(crate) struct Prepared {
    fd: OwnedFd,
    /// The rights granted in the private `/tmp`, which the sandboxed process adds itself.
    tmp_rights: u64,
}

/// The kernel's Landlock ABI version, 0 when Landlock is off.
pub(crate) fn kernel_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and size 0 and the VERSION flag, the call only returns the
    // ABI version.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(v).unwrap_or(0).max(0)
}

/// The trees both lists allow: of two nested paths the deeper one, nothing of disjoint ones.
fn intersect(a: &[&Path], b: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if y.starts_with(x) {
                out.push(y.clone());
            } else if x.starts_with(y) {
                out.push(x.to_path_buf());
            }
        }
    }
    out
}

/// A ruleset that allows writing beneath `writable` only (and, with `--enforce`, beneath the
/// policy's write limit too, and reading only beneath its read limit); `None` when this
/// kernel's Landlock is missing or older than [`HANDLED`].
pub(crate) fn prepare(
    writable: &[&Path],
    reads: Option<&AccessLimit>,
    writes: Option<&AccessLimit>,
) -> Result<Option<Prepared>, String> {
    if kernel_abi() < HANDLED as i32 {
        return Ok(None);
    }
    let write = AccessFs::from_write(HANDLED);
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let handled = if reads.is_some() { write | read } else { write };
    let mut ruleset = Ruleset::default()
        .set_compatibility(landlock::CompatLevel::HardRequirement)
        .handle_access(handled)
        .and_then(|r| r.create())
        .map_err(|e| format!("cannot create a Landlock ruleset: {e}"))?;
    let write_paths = match writes {
        None => writable.iter().map(|p| p.to_path_buf()).collect(),
        Some(limit) => intersect(writable, &limit.beneath),
    };
    let read_paths = reads.map_or_else(Vec::new, |l| l.beneath.clone());
    let grants = write_paths
        .iter()
        .map(|p| (p, write))
        .chain(read_paths.iter().map(|p| (p, read)));
    for (path, rights) in grants {
        let fd = PathFd::new(path)
            .map_err(|e| format!("cannot open {} for Landlock: {e}", path.display()))?;
        // A rule on a file may only grant what applies to files.
        let granted = if path.is_dir() {
            rights
        } else {
            rights & AccessFs::from_file(HANDLED)
        };
        // Rules on the same file add up.
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, granted))
            .map_err(|e| format!("cannot add a Landlock rule for {}: {e}", path.display()))?;
    }
    let mut tmp_rights = 0u64;
    if writes.is_none_or(|l| l.private_tmp) {
        tmp_rights |= write.bits();
    }
    if reads.is_some_and(|l| l.private_tmp) {
        tmp_rights |= read.bits();
    }
    let fd: Option<OwnedFd> = ruleset.into();
    Ok(fd.map(|fd| Prepared { fd, tmp_rights }))
}

impl Prepared {
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub(crate) fn tmp_rights(&self) -> u64 {
        self.tmp_rights
    }
}

/// In the sandboxed process: grants `tmp_rights` beneath `tmp` (none: no rule), then
/// restricts the process. Raw system calls only. `no_new_privs` must be set already.
pub(crate) fn restrict_self(
    ruleset: RawFd,
    tmp_rights: u64,
    tmp: &std::ffi::CStr,
) -> Result<(), i32> {
    #[repr(C, packed)]
    struct PathBeneathAttr {
        allowed_access: u64,
        parent_fd: i32,
    }
    const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;
    // SAFETY: open/landlock_add_rule/close/landlock_restrict_self on descriptors this
    // function owns or was given; the attribute is the kernel's packed layout.
    unsafe {
        if tmp_rights == 0 {
            if libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) < 0 {
                return Err(super::mounts::errno());
            }
            return Ok(());
        }
        let dir = libc::open(
            tmp.as_ptr(),
            libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY,
        );
        if dir < 0 {
            return Err(super::mounts::errno());
        }
        let attr = PathBeneathAttr {
            allowed_access: tmp_rights,
            parent_fd: dir,
        };
        let rc = libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        );
        let err = super::mounts::errno();
        libc::close(dir);
        if rc < 0 {
            return Err(err);
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) < 0 {
            return Err(super::mounts::errno());
        }
    }
    Ok(())
}
