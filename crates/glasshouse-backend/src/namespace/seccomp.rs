//! A seccomp filter for the sandboxed command: system calls that would let it reach past the
//! sandbox or into the recorder fail with EPERM (loading BPF programs or reading glasshouse's
//! maps, tracing other processes, kernel modules, mounts, entering other namespaces, opening
//! files by handle). Everything else is allowed: the filter is a fence around glasshouse, not
//! a policy of its own. It matters most for a command that runs as root.
//!
//! The program is built in glasshouse and installed by the command just before exec.

/// System calls refused inside the sandbox.
const DENIED: &[libc::c_long] = &[
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_setns,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_syslog,
    libc::SYS_acct,
];

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// x32 system calls are numbered from here; none is allowed (they would dodge the list).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The filter program: any other architecture or an x32 call is refused, then each listed
/// call, then everything else is allowed.
pub(crate) fn program() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
    const RET: u32 = libc::BPF_RET | libc::BPF_K;
    // Offsets in struct seccomp_data: nr at 0, arch at 4.
    let n = DENIED.len();
    // Layout: [0] ld arch, [1] jeq arch, [2] ld nr, [3] jge x32, [4..4+n] jeq nr, [4+n] allow,
    // [5+n] deny. A jump's offset counts the instructions it skips.
    let deny_from = |at: usize| (5 + n - at - 1) as u8;
    let mut prog = vec![
        stmt(LD_W_ABS, 4),
        jump(JEQ, AUDIT_ARCH_X86_64, 0, deny_from(1)),
        stmt(LD_W_ABS, 0),
        jump(JGE, X32_SYSCALL_BIT, deny_from(3), 0),
    ];
    for (i, nr) in DENIED.iter().enumerate() {
        prog.push(jump(JEQ, *nr as u32, deny_from(4 + i), 0));
    }
    prog.push(stmt(RET, SECCOMP_RET_ALLOW));
    prog.push(stmt(RET, SECCOMP_RET_ERRNO | libc::EPERM as u32));
    prog
}

/// Installs `prog` on the calling thread (raw system call; `no_new_privs` must be set).
pub(crate) fn install(prog: &[libc::sock_filter]) -> Result<(), i32> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies the program `fprog` points at, which the caller keeps alive.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if rc < 0 {
        Err(super::mounts::errno())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_denial_jumps_to_the_final_deny() {
        let prog = program();
        let deny = prog.len() - 1;
        assert_eq!(prog[deny].k, SECCOMP_RET_ERRNO | libc::EPERM as u32);
        assert_eq!(prog[deny - 1].k, SECCOMP_RET_ALLOW);
        assert_eq!(1 + 1 + usize::from(prog[1].jf), deny);
        assert_eq!(3 + 1 + usize::from(prog[3].jt), deny);
        for (i, insn) in prog.iter().enumerate().take(deny - 1).skip(4) {
            assert_eq!(i + 1 + usize::from(insn.jt), deny, "instruction {i}");
            assert_eq!(insn.jf, 0);
        }
    }
}
