//! A kept program set with a program pinned over one of its own (a do-nothing program on the
//! same tracepoint) must be refused: the run loads afresh, records everything, and says so.
//! Loads real eBPF (needs root). Other glasshouse runs of the same object on this machine may
//! take or replace the sets between the steps; the test then fails with a message naming that.

use crate::fault_tests::{cat_hostname, read_hostname};
use crate::load::{Kernel, EMBEDDED_OBJECT};
use crate::{identity, pool, relocated, ArgvSetting, Sensor, SensorOptions};
use std::ffi::CString;
use std::os::fd::{AsFd as _, FromRawFd as _, OwnedFd};

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_btf_obj_fd: u32,
    pad: [u64; 4],
}

#[repr(C)]
struct PinAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_RAW_TP: u32 = 23;

/// `return 0` on tp_btf/sys_enter, named like the sensor's program: a program that blinds.
fn do_nothing_on_sys_enter() -> OwnedFd {
    use aya_obj::btf::BtfKind;
    let btf = aya::Btf::from_sys_fs().expect("kernel BTF");
    let target = btf
        .id_by_type_name_kind("btf_trace_sys_enter", BtfKind::Typedef)
        .expect("btf_trace_sys_enter in the kernel's BTF");
    // r0 = 0; exit
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"gh_sys_enter");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_TRACING,
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_TRACE_RAW_TP,
        attach_btf_id: target,
        ..ProgLoadAttr::default()
    };
    // SAFETY: BPF_PROG_LOAD reads `attr` and the instructions and license it points to, all
    // alive for the call, and returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    assert!(
        fd >= 0,
        "loading the do-nothing program: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the descriptor was just returned by the kernel and is owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Pins `fd` at `path`, in place of whatever is pinned there.
fn pin_over(fd: &OwnedFd, path: &std::path::Path) {
    std::fs::remove_file(path).expect("unpin the set's program");
    let path = CString::new(path.as_os_str().as_encoded_bytes()).expect("pin path");
    let attr = PinAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: std::os::fd::AsRawFd::as_raw_fd(fd) as u32,
        file_flags: 0,
    };
    // SAFETY: BPF_OBJ_PIN reads `attr` and the path it points to, alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_PIN,
            &attr as *const PinAttr,
            std::mem::size_of::<PinAttr>(),
        )
    };
    assert_eq!(rc, 0, "pinning: {}", std::io::Error::last_os_error());
}

#[test]
fn a_replaced_program_is_refused_and_the_set_loaded_afresh() {
    let options = SensorOptions {
        bpf_dir: None,
        argv: ArgvSetting::Default,
        keep_programs: true,
        fault_f_path: 0,
        kernel_btf: None,
    };
    let start = || Sensor::start(&options, std::process::id()).expect("the sensor starts (root)");
    // A run leaves a verified set behind (it pins one when none is free).
    let first = cat_hostname(start());
    assert!(first.coverage.complete, "{:?}", first.coverage.notes);
    let key = relocated::cache_key(EMBEDDED_OBJECT).expect("boot id");
    let capture = first.coverage.argv_capture.captured;
    let name = pool::set_name(&key, capture);
    let cpus = aya::util::nr_cpus().expect("cpus");
    let plan = crate::variants::for_this_boot(Some(&key)).expect("the kernel's plan");

    let nothing = do_nothing_on_sys_enter();
    let nothing_id = identity::program("gh_sys_enter", nothing.as_fd()).expect("identity");
    let mut tampered = 0;
    for slot in pool::take_all_free(&name) {
        let programs: Vec<&str> = plan.loadable().map(|(n, _)| n).collect();
        if !slot.is_complete(&programs) {
            continue;
        }
        // The set as its run pinned it passes the check.
        if let Err(e) = Kernel::from_pins(&slot, cpus, &plan) {
            panic!("a set as it was pinned is refused: {e}");
        }
        pin_over(&nothing, &slot.pin("gh_sys_enter"));
        tampered += 1;
    }
    assert!(
        tampered > 0,
        "no free kept set of {name} to replace a program in (another run holds them all?)"
    );

    let second = cat_hostname(start());
    let discarded = second
        .coverage
        .notes
        .iter()
        .find(|n| n.contains("was discarded and the programs loaded afresh"));
    let cleanup = || {
        for slot in pool::take_all_free(&name) {
            let pinned = aya::programs::BtfTracePoint::from_pin(slot.pin("gh_sys_enter"));
            let ours = pinned.ok().and_then(|p| {
                let fd = p.fd().ok()?.try_clone().ok()?;
                identity::program("gh_sys_enter", fd.as_fd()).ok()
            });
            if ours.as_deref() == Some(nothing_id.as_str()) {
                slot.clear();
            }
        }
    };
    cleanup();
    let note = discarded.unwrap_or_else(|| {
        panic!(
            "no note of the discarded set (did another run take it?): {:?}",
            second.coverage.notes
        )
    });
    assert!(
        note.contains("it is not what was pinned in it (pinned program gh_sys_enter: name gh_sys_enter type 26")
            && note.contains(nothing_id.split(" tag ").nth(1).unwrap_or("?").split(' ').next().unwrap_or("?")),
        "{note}"
    );
    assert!(second.coverage.complete, "{:?}", second.coverage.notes);
    assert!(read_hostname(&second), "{:?}", second.filesystem.reads);
}
