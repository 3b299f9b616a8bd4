//! Program sets that stay loaded between runs: loaded and verified by the first run of a boot,
//! pinned in a BPF file system, attached only while a run holds one.
//!
//! Loading costs tens of milliseconds (kernel BTF parsing, map creation, verification), which is
//! most of a short command's run. A set is a directory of pins under [`PIN_ROOT`] holding one
//! copy of every program and of the maps user space reads. A run holds a set with an exclusive
//! `flock` on its directory, so two runs never share maps; a run that finds every set busy makes
//! one more (up to [`MAX_SETS`], then it loads programs of its own that are not kept). The lock
//! dies with its process, so a crashed run frees its set, and the next holder resets the set's
//! state before attaching (see `Sensor::start`).

use nix::fcntl::{Flock, FlockArg};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

/// The BPF file system that holds the sets: glasshouse's own instance, mounted on first use.
pub(crate) const PIN_ROOT: &str = "/run/glasshouse/bpf";

/// Where the run that pinned a set records what it pinned ([`crate::identity`]), at the set's
/// name and number: in root's runtime directory beside the relocated object (a BPF file system
/// holds pins only), so the record is as trusted as the object a fresh load would use.
pub(crate) const RECORD_ROOT: &str = "/run/glasshouse/kept";

/// Sets kept per object at most: as many runs at once start without loading.
pub(crate) const MAX_SETS: u32 = 4;

/// The maps of a set that user space opens; every program is pinned too.
pub(crate) const PINNED_MAPS: &[&str] = &[
    "tracked",
    "inflight",
    "events",
    "syscall_counts",
    "uring_ops",
    "stats",
    "tcp_pending",
    "uring_pending",
    "run",
];

/// A set's directory, held by this run until dropped.
pub(crate) struct Slot {
    dir: PathBuf,
    /// The record of what the run that pinned the set pinned.
    record: PathBuf,
    /// The directory, open and locked.
    _lock: Flock<std::fs::File>,
}

impl Slot {
    /// Where the program or map `name` of this set is pinned.
    pub(crate) fn pin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether every object of a set is pinned here (a run that died while pinning leaves a
    /// partial set).
    pub(crate) fn is_complete(&self, programs: &[&str]) -> bool {
        programs
            .iter()
            .chain(PINNED_MAPS)
            .all(|name| self.pin(name).exists())
    }

    /// Unpins everything in the set, which unloads it once no run uses it, and forgets its
    /// record.
    pub(crate) fn clear(&self) {
        let _ = std::fs::remove_file(&self.record);
        clear_dir(&self.dir);
    }

    /// The set's number among the sets of its object.
    pub(crate) fn number(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// What the run that pinned the set recorded, if there is a record.
    pub(crate) fn recorded(&self) -> Option<String> {
        let dir = crate::relocated::usable_dir(self.record.parent()?)?;
        std::fs::read_to_string(dir.join(self.record.file_name()?)).ok()
    }

    /// Records what was just pinned, atomically.
    pub(crate) fn record(&self, text: &str) -> Result<(), String> {
        let dir = self
            .record
            .parent()
            .and_then(crate::relocated::usable_dir)
            .ok_or_else(|| format!("{} is missing or not private", RECORD_ROOT))?;
        let mut file =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("recording the set: {e}"))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("recording the set: {e}"))?;
        file.persist(&self.record)
            .map_err(|e| format!("recording the set: {e}"))?;
        Ok(())
    }
}

fn clear_dir(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(entry.path());
    }
}

/// The name of the sets of the object whose relocation is kept as `object_key`, loaded with
/// argv capture on or off (a load-time constant of the programs).
pub(crate) fn set_name(object_key: &str, capture_argv: bool) -> String {
    let digest = object_key
        .trim_start_matches("core-")
        .trim_end_matches(".o");
    let short = digest.get(..32).unwrap_or(digest);
    format!("{short}-argv{}", u8::from(capture_argv))
}

/// A free set for objects named `key`, created empty when every existing one is busy; `None`
/// when no set can be held (no BPF file system, all [`MAX_SETS`] busy).
pub(crate) fn take(key: &str) -> Option<Slot> {
    let root = mounted_root()?;
    let sets = root.join(key);
    make_private_dir(&sets)?;
    for n in 0..MAX_SETS {
        let dir = sets.join(n.to_string());
        if !dir.exists() {
            // Another run may create it at the same moment: whoever locks it first has it.
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            if n == 0 {
                remove_other_objects(&root, key);
            }
        }
        let Ok(file) = std::fs::File::open(&dir) else {
            continue;
        };
        if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let record = Path::new(RECORD_ROOT).join(key).join(n.to_string());
            return Some(Slot {
                dir,
                record,
                _lock: lock,
            });
        }
    }
    None
}

/// Every existing set of objects named `key` that no run holds, held (for tests that tamper
/// with kept sets).
#[cfg(test)]
pub(crate) fn take_all_free(key: &str) -> Vec<Slot> {
    let mut held = Vec::new();
    for n in 0..MAX_SETS {
        let dir = Path::new(PIN_ROOT).join(key).join(n.to_string());
        let Ok(file) = std::fs::File::open(&dir) else {
            continue;
        };
        if let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let record = Path::new(RECORD_ROOT).join(key).join(n.to_string());
            held.push(Slot {
                dir,
                record,
                _lock: lock,
            });
        }
    }
    held
}

/// glasshouse's BPF file system, mounted when it is not yet.
fn mounted_root() -> Option<PathBuf> {
    use nix::sys::statfs::{statfs, BPF_FS_MAGIC};
    let root = PathBuf::from(PIN_ROOT);
    let is_bpffs = |p: &Path| statfs(p).is_ok_and(|s| s.filesystem_type() == BPF_FS_MAGIC);
    if is_bpffs(&root) {
        return Some(root);
    }
    let parent = crate::relocated::usable_dir(root.parent()?)?;
    make_private_dir(&root)?;
    // Runs starting together must not mount twice (the second mount would hide the first).
    let parent_lock =
        Flock::lock(std::fs::File::open(parent).ok()?, FlockArg::LockExclusive).ok()?;
    if !is_bpffs(&root) {
        use nix::mount::{mount, MsFlags};
        mount(
            Some("bpf"),
            &root,
            Some("bpf"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0700"),
        )
        .ok()?;
    }
    drop(parent_lock);
    is_bpffs(&root).then_some(root)
}

fn make_private_dir(dir: &Path) -> Option<()> {
    if !dir.is_dir() {
        std::fs::DirBuilder::new().mode(0o700).create(dir).ok()?;
    }
    Some(())
}

/// Unloads the sets of other objects (an earlier glasshouse, another kernel object) that no run
/// holds: each costs kernel memory for as long as it is pinned. Sets of the same object loaded
/// with the other argv setting stay.
fn remove_other_objects(root: &Path, key: &str) {
    let object = |name: &str| name.split('-').next().unwrap_or_default().to_owned();
    let ours = object(key);
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if object(&entry.file_name().to_string_lossy()) == ours {
            continue;
        }
        let sets = entry.path();
        for set in std::fs::read_dir(&sets).into_iter().flatten().flatten() {
            let dir = set.path();
            let Ok(file) = std::fs::File::open(&dir) else {
                continue;
            };
            if let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                clear_dir(&dir);
                let _ = std::fs::remove_dir(&dir);
                if root == Path::new(PIN_ROOT) {
                    let record = Path::new(RECORD_ROOT)
                        .join(entry.file_name())
                        .join(set.file_name());
                    let _ = std::fs::remove_file(record);
                }
            }
        }
        let _ = std::fs::remove_dir(&sets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_with_pin(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name).join("0");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("gh_sys_enter"), b"").expect("pin stand-in");
        dir
    }

    #[test]
    fn set_names_keep_the_object_and_the_argv_setting_apart() {
        let key = format!("core-{}.o", "ab".repeat(32));
        assert_eq!(set_name(&key, true), format!("{}-argv1", "ab".repeat(16)));
        assert_eq!(set_name(&key, false), format!("{}-argv0", "ab".repeat(16)));
    }

    #[test]
    fn other_objects_sets_go_unless_a_run_holds_them() {
        let root = tempfile::tempdir().expect("tempdir");
        let ours = set_with_pin(root.path(), "aaaa-argv1");
        let ours_other_argv = set_with_pin(root.path(), "aaaa-argv0");
        let stale = set_with_pin(root.path(), "bbbb-argv1");
        let held = set_with_pin(root.path(), "cccc-argv1");
        let lock = Flock::lock(
            std::fs::File::open(&held).expect("open"),
            FlockArg::LockExclusiveNonblock,
        )
        .map_err(|(_, e)| e)
        .expect("lock");
        remove_other_objects(root.path(), "aaaa-argv1");
        assert!(ours.join("gh_sys_enter").exists());
        assert!(ours_other_argv.join("gh_sys_enter").exists());
        assert!(!root.path().join("bbbb-argv1").exists(), "{stale:?}");
        assert!(held.join("gh_sys_enter").exists(), "a held set stays");
        drop(lock);
    }
}
