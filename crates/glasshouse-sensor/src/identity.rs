//! What a kept program set is, as the kernel describes it: each program's tag, type, attach
//! target and name and the maps it uses, each map's id, type and sizes. A run that pins a set it
//! loaded itself records this (see [`crate::pool::Slot::record`]); a run that takes a set checks
//! the set's pins against that record before it uses them, so a program or map pinned over one
//! of the set's (a do-nothing program, a copy using other maps) is refused.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd as _, BorrowedFd};

/// `bpf(BPF_OBJ_GET_INFO_BY_FD)`.
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// Fills `info` (a `bpf_prog_info` or `bpf_map_info`) for the object `fd` refers to.
fn info_by_fd<T>(fd: BorrowedFd<'_>, info: &mut T) -> std::io::Result<()> {
    let attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<T>() as u32,
        info: info as *mut T as u64,
    };
    // SAFETY: the kernel writes at most `info_len` bytes at `info`, which points to a `T` that
    // outlives the call; the callers pass the kernel's own info structs (plain integers), so any
    // bytes written are a valid `T`. Pointers inside `T` (map_ids) point to buffers the caller
    // sized in the same struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &attr as *const InfoAttr,
            std::mem::size_of::<InfoAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn name_of(raw: &[libc::c_char; 16]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One line describing the program `fd` refers to, pinned as `pin`.
pub(crate) fn program(pin: &str, fd: BorrowedFd<'_>) -> Result<String, String> {
    use aya_obj::generated::bpf_prog_info;
    let err = |e: std::io::Error| format!("program {pin}: reading its identity: {e}");
    // SAFETY: bpf_prog_info is plain integers and arrays of them: all zeros is a valid value.
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    info_by_fd(fd, &mut info).map_err(err)?;
    let mut map_ids = vec![0u32; info.nr_map_ids as usize];
    // SAFETY: as above.
    let mut with_maps: bpf_prog_info = unsafe { std::mem::zeroed() };
    with_maps.nr_map_ids = map_ids.len() as u32;
    with_maps.map_ids = map_ids.as_mut_ptr() as u64;
    info_by_fd(fd, &mut with_maps).map_err(err)?;
    map_ids.truncate(with_maps.nr_map_ids as usize);
    map_ids.sort_unstable();
    let mut line = format!(
        "program {pin}: name {} type {} attach_btf_id {} tag {} maps",
        name_of(&info.name),
        info.type_,
        info.attach_btf_id,
        info.tag
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    );
    for id in map_ids {
        let _ = write!(line, " {id}");
    }
    Ok(line)
}

/// One line describing the map `fd` refers to, pinned as `pin`.
pub(crate) fn map(pin: &str, fd: BorrowedFd<'_>) -> Result<String, String> {
    use aya_obj::generated::bpf_map_info;
    // SAFETY: bpf_map_info is plain integers and arrays of them: all zeros is a valid value.
    let mut info: bpf_map_info = unsafe { std::mem::zeroed() };
    info_by_fd(fd, &mut info).map_err(|e| format!("map {pin}: reading its identity: {e}"))?;
    Ok(format!(
        "map {pin}: id {} name {} type {} key {} value {} entries {} flags {:#x}",
        info.id,
        name_of(&info.name),
        info.type_,
        info.key_size,
        info.value_size,
        info.max_entries,
        info.map_flags,
    ))
}

/// The first difference between a set's record and what its pins are now, if any.
pub(crate) fn mismatch(recorded: &str, found: &[String]) -> Option<String> {
    let recorded: Vec<&str> = recorded.lines().collect();
    for (i, line) in found.iter().enumerate() {
        match recorded.get(i) {
            Some(r) if *r == line => {}
            Some(r) => return Some(format!("pinned {line}; recorded {r}")),
            None => return Some(format!("pinned {line}, which the record does not name")),
        }
    }
    (recorded.len() != found.len()).then(|| "the record names more than is pinned".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_named() {
        let found = vec!["map a: id 1".to_owned(), "program p: tag 00".to_owned()];
        assert_eq!(mismatch("map a: id 1\nprogram p: tag 00\n", &found), None);
        assert_eq!(
            mismatch("map a: id 1\nprogram p: tag 11\n", &found).as_deref(),
            Some("pinned program p: tag 00; recorded program p: tag 11")
        );
        assert!(mismatch("map a: id 1\n", &found).is_some());
        assert!(mismatch("map a: id 1\nprogram p: tag 00\nmap b: id 2\n", &found).is_some());
    }
}
