//! The sensor's object with its CO-RE relocations already applied for the running kernel, kept
//! between runs.
//!
//! aya relocates an object by scanning the kernel's whole BTF once per relocated type, which is
//! about a third of the sensor's start-up. The result depends only on the object and the
//! kernel, and the kernel's BTF cannot change without a reboot, so the relocated object is
//! stored under `/run` (emptied at boot) keyed by the object's digest and the boot id; a later
//! run loads it with nothing left to relocate.

use aya::Btf;
use object::{Object as _, ObjectSection as _};
use sha2::{Digest as _, Sha256};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Where relocated objects are kept: root's runtime directory, emptied at every boot.
pub(crate) const CACHE_DIR: &str = "/run/glasshouse";

/// Applies `object`'s CO-RE relocations against `kernel_btf` and returns the object with the
/// relocated instructions written in and its CO-RE records removed, so that loading it relocates
/// nothing. Everything else in the object is left as it was.
pub(crate) fn relocate(object: &[u8], kernel_btf: &Btf) -> Result<Vec<u8>, String> {
    let mut parsed =
        aya_obj::Object::parse(object).map_err(|e| format!("parsing the BPF object: {e}"))?;
    parsed.relocate_btf(kernel_btf).map_err(|e| {
        format!(
            "relocating the BPF object: {}",
            crate::load::error_chain(&e)
        )
    })?;
    let elf = object::File::parse(object).map_err(|e| format!("reading the BPF object: {e}"))?;
    let mut out = object.to_vec();
    for function in parsed.functions.values() {
        let section = elf
            .section_by_index(function.section_index)
            .map_err(|e| format!("function {}: {e}", function.name))?;
        let (start, size) = section
            .file_range()
            .ok_or_else(|| format!("function {} is in a section without data", function.name))?;
        let code = instruction_bytes(&function.instructions);
        let from = usize::try_from(start)
            .ok()
            .and_then(|s| s.checked_add(function.section_offset))
            .ok_or_else(|| format!("function {} lies outside the object", function.name))?;
        let end = from + code.len();
        if end as u64 > start + size || end > out.len() {
            return Err(format!("function {} overruns its section", function.name));
        }
        out[from..end].copy_from_slice(code);
    }
    clear_core_records(&elf, &mut out)?;
    Ok(out)
}

fn instruction_bytes(instructions: &[aya_obj::generated::bpf_insn]) -> &[u8] {
    // SAFETY: bpf_insn is a plain #[repr(C)] 8-byte struct without padding; viewing the
    // vector's initialized elements as bytes reads exactly the memory they occupy.
    unsafe {
        std::slice::from_raw_parts(
            instructions.as_ptr().cast::<u8>(),
            std::mem::size_of_val(instructions),
        )
    }
}

/// Sets the length of the CO-RE record table in the `.BTF.ext` header to zero.
fn clear_core_records(elf: &object::File<'_>, out: &mut [u8]) -> Result<(), String> {
    // Header: magic u16, version u8, flags u8, hdr_len u32, then (offset, length) u32 pairs for
    // func_info, line_info and, when hdr_len reaches 32 bytes, the CO-RE records.
    const HDR_LEN_AT: usize = 4;
    const CORE_RELO_LEN_AT: usize = 28;
    let Some(section) = elf.section_by_name(".BTF.ext") else {
        return Ok(()); // no BTF.ext, no CO-RE records
    };
    let Some((start, _)) = section.file_range() else {
        return Ok(());
    };
    let start = usize::try_from(start).map_err(|_| ".BTF.ext lies outside the object")?;
    let field = |at: usize| start + at..start + at + 4;
    let hdr_len = out
        .get(field(HDR_LEN_AT))
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(".BTF.ext is truncated")?;
    if (hdr_len as usize) < CORE_RELO_LEN_AT + 4 {
        return Ok(());
    }
    out.get_mut(field(CORE_RELO_LEN_AT))
        .ok_or(".BTF.ext is truncated")?
        .copy_from_slice(&0u32.to_le_bytes());
    Ok(())
}

/// What is kept under a key's digest: the relocated object (`core-<digest>.o`) and the choice
/// of programs for the kernel's tracepoints (`hooks-<digest>.txt`, see `variants`). A new
/// format takes new keys.
const CACHE_FORMAT: &[u8] = b"object+hooks 2";

/// The name under which `object`'s relocation for this boot of this kernel is kept, or `None`
/// when the boot cannot be identified (then nothing is cached).
pub(crate) fn cache_key(object: &[u8]) -> Option<String> {
    let boot_id = std::fs::read("/proc/sys/kernel/random/boot_id").ok()?;
    let release = std::fs::read("/proc/sys/kernel/osrelease").ok()?;
    let mut hash = Sha256::new();
    for part in [CACHE_FORMAT, object, &boot_id, &release] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("core-{hex}.o"))
}

/// A cache directory that only this user can write, created when missing; `None` when `dir`
/// cannot be used safely.
pub(crate) fn usable_dir(dir: &Path) -> Option<&Path> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(dir)
            .ok()?;
    }
    let meta = std::fs::symlink_metadata(dir).ok()?;
    let me = nix::unistd::geteuid().as_raw();
    let private = meta.is_dir() && meta.uid() == me && meta.permissions().mode() & 0o022 == 0;
    private.then_some(dir)
}

/// The cached relocated object named `key`, if there is one.
pub(crate) fn load(dir: &Path, key: &str) -> Option<Vec<u8>> {
    std::fs::read(usable_dir(dir)?.join(key)).ok()
}

/// Keeps `bytes` as `key`, atomically, in place of any other file of its kind kept there (one is enough: they are only ever stale copies). A failure only means the next run relocates again.
pub(crate) fn store(dir: &Path, key: &str, bytes: &[u8]) {
    let Some(dir) = usable_dir(dir) else { return };
    let Ok(mut file) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    if std::io::Write::write_all(&mut file, bytes).is_err() || file.persist(dir.join(key)).is_err()
    {
        return;
    }
    // `core-<digest>.o`, `hooks-<digest>.txt`: the kind is the name up to its first '-'.
    let kind = key.split_inclusive('-').next().unwrap_or(key);
    let stale = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for entry in stale {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(kind) && name != key {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes a cached object that the kernel refused, so the next run relocates afresh.
pub(crate) fn forget(dir: &Path, key: &str) {
    let _ = std::fs::remove_file(PathBuf::from(dir).join(key));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_btf() -> Btf {
        Btf::from_sys_fs().expect("these tests need the kernel's BTF at /sys/kernel/btf/vmlinux")
    }

    #[test]
    fn relocated_object_carries_aya_relocations_and_no_records() {
        let btf = kernel_btf();
        let relocated = relocate(crate::EMBEDDED_OBJECT, &btf).expect("relocate");
        let mut expected = aya_obj::Object::parse(crate::EMBEDDED_OBJECT).expect("parse");
        assert!(
            expected.has_btf_relocations(),
            "the object has CO-RE records"
        );
        expected.relocate_btf(&btf).expect("aya relocates");
        let reparsed = aya_obj::Object::parse(&relocated).expect("reparse");
        assert!(!reparsed.has_btf_relocations(), "no CO-RE records left");
        assert_eq!(expected.functions.len(), reparsed.functions.len());
        for (key, function) in &expected.functions {
            let again = &reparsed.functions[key];
            assert_eq!(
                instruction_bytes(&function.instructions),
                instruction_bytes(&again.instructions),
                "function {}",
                function.name
            );
        }
        // Relocating an already relocated object changes nothing.
        assert_eq!(relocate(&relocated, &btf).expect("again"), relocated);
    }

    /// The functions of the object that read members only some kernels have: each is called
    /// only behind a `bpf_core_field_exists` check, so where its members are missing its
    /// poisoned reads are never reached (the verifier skips the branch).
    const ONLY_WHERE_PRESENT: &[&str] = &["uring_send_user_dest"];

    /// aya marks a CO-RE access it found no kernel member for with a call to an invalid helper
    /// (a "poisoned" instruction), which makes the program fail to load. None may be left for
    /// the running kernel outside ONLY_WHERE_PRESENT: an access through a structure of the
    /// object's own (not the kernel's) inside BPF_CORE_READ is recorded as a relocation too,
    /// and is poisoned.
    #[test]
    fn every_member_the_programs_read_is_found_in_this_kernel() {
        const POISON: i32 = 0xBAD2310;
        let relocated = relocate(crate::EMBEDDED_OBJECT, &kernel_btf()).expect("relocate");
        let parsed = aya_obj::Object::parse(&relocated).expect("parse");
        let names: Vec<&str> = parsed.functions.values().map(|f| f.name.as_str()).collect();
        for guarded in ONLY_WHERE_PRESENT {
            assert!(
                names.contains(guarded),
                "{guarded} is a function of the object"
            );
        }
        let poisoned: Vec<String> = parsed
            .functions
            .values()
            .filter(|f| !ONLY_WHERE_PRESENT.contains(&f.name.as_str()))
            .flat_map(|f| {
                f.instructions
                    .iter()
                    .enumerate()
                    .filter(|(_, ins)| ins.code == 0x85 && ins.imm == POISON)
                    .map(move |(i, _)| format!("{} #{i}", f.name))
            })
            .collect();
        assert_eq!(poisoned, Vec::<String>::new());
    }

    #[test]
    fn cache_round_trip_and_refusal_of_a_shared_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        assert_eq!(load(&cache, "core-1.o"), None);
        store(&cache, "core-1.o", b"first");
        store(&cache, "core-2.o", b"relocated");
        assert_eq!(
            load(&cache, "core-1.o"),
            None,
            "a newer object replaces the older"
        );
        assert_eq!(load(&cache, "core-2.o").as_deref(), Some(&b"relocated"[..]));
        let mode = std::fs::metadata(&cache)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        forget(&cache, "core-2.o");
        assert_eq!(load(&cache, "core-2.o"), None);

        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        std::fs::write(shared.join("k.o"), b"planted").expect("write");
        assert_eq!(
            load(&shared, "k.o"),
            None,
            "a directory others can write is not trusted"
        );
        store(&shared, "other.o", b"x");
        assert!(!shared.join("other.o").exists());
    }

    #[test]
    fn key_depends_on_the_object() {
        let a = cache_key(b"one object").expect("boot id");
        let b = cache_key(b"another object").expect("boot id");
        assert_ne!(a, b);
        assert_eq!(a, cache_key(b"one object").expect("boot id"));
    }
}
