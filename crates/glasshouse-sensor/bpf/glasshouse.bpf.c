// SPDX-License-Identifier: GPL-2.0
/* glasshouse kernel sensor: follows one process tree (keyed by tgid) and reports its execs, file
 * accesses and path operations through one ring buffer, counting syscalls in a map.
 *
 * Only tracepoints are used (tp_btf): fentry/LSM are refused on the kernels we target. Paths are
 * resolved from kernel objects (the opened struct file, the cwd, the dirfd), never trusted from
 * the caller's strings alone. Anything that cannot be delivered is counted in `stats`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "glasshouse.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_WRONLY 01
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_PATH 0x4000
#define FMODE_CREATED 0x100000
#define EINPROGRESS 115
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define SOCKADDR_MAX 128 /* sizeof(struct sockaddr_storage) */
#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFBLK 0060000
#define S_IFREG 0100000

#define DATA_SIZE 32768
#define DATA_MASK (DATA_SIZE - 1)
#define PATH_MASK (GH_PATH_MAX - 1)
#define NAME_MASK 255
#define MAX_COMPONENTS 160

/* Set by the loader before load. */
const volatile __u32 cfg_capture_argv = 1;
/* Added to the offset of struct file's f_path where an open is reported: always 0, except in
 * the test that proves the self-check catches a wrong offset. */
const volatile __u32 cfg_fault_f_path = 0;

struct scratch {
    struct gh_event_header h;
    char data[DATA_SIZE + GH_ARGV_MAX];
    char path[GH_PATH_MAX * 2];
};

/* A thread's entry. `gen` comes first: user space writes the command's first entry itself. */
struct inflight {
    __u32 gen;    /* the run that made it: an entry left by an earlier run is not of this tree */
    __u32 nr;
    __u32 active;
    __u32 probe;  /* the sensor's own self-check probe: its syscalls are not the tree's */
    __u64 args[6];
};

struct seen_key {
    __u32 gen;
    __u32 tgid;
    __u32 access;
    __u32 pad;
    __u64 dentry;
    __u64 mnt;
    __u64 parent;
    __u64 ino;
    __u64 name_hash;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct gh_process);
} tracked SEC(".maps");

#define EVENTS_RING_BYTES (16 * 1024 * 1024)
/* The drain thread is woken only once this much is waiting; below it, it drains on its own short
 * timer, so a busy tree does not cost one wake-up (and one context switch) per event. */
#define EVENTS_WAKE_BYTES (EVENTS_RING_BYTES / 4)

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

/* The run the programs serve now. A program set stays loaded between runs, and every run takes a
 * new generation: per-thread entries and dedup keys of an earlier run then match nothing. */
struct run_state {
    __u32 gen;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct run_state);
} run SEC(".maps");

static __always_inline __u32 current_gen(void)
{
    __u32 zero = 0;
    struct run_state *r = bpf_map_lookup_elem(&run, &zero);
    return r ? r->gen : 0;
}

/* One scratch area per CPU; max_entries is set to the number of possible CPUs by the loader. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

/* Every thread of the tree has an entry here, made when it is created (the command's first
 * thread registers itself from user space): its presence is what the syscall hooks check, and
 * it holds the arguments of the syscall the thread is in, from sys_enter to sys_exit. Task
 * storage: for a thread outside the tree the check is one pointer test, no key to hash; nothing
 * to delete; it follows a thread through exec. */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct inflight);
} inflight SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 131072);
    __type(key, struct seen_key);
    __type(value, __u8);
} seen SEC(".maps");

struct net_key {
    __u32 gen;
    __u32 tgid;
    __u32 nr;
    __s64 ret;
    __u32 sock;
    __u32 addr_len;
    char addr[SOCKADDR_MAX];
};

/* Destinations already reported per process, so a UDP flood to one address is one event. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct net_key);
    __type(value, __u8);
} net_seen SEC(".maps");

/* TCP sockets whose connect is in progress: struct sock pointer -> tgid. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u32);
} tcp_pending SEC(".maps");

/* io_uring requests of the tree that were reported at submission: request -> opcode, with
 * URING_PENDING_DIRECT set for an open into the ring's fixed-file table. */
#define URING_PENDING_DIRECT (1u << 16)
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u32);
} uring_pending SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, GH_URING_OPS);
    __type(key, __u32);
    __type(value, __u64);
} uring_ops SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, GH_MAX_SYSCALLS);
    __type(key, __u32);
    __type(value, __u64);
} syscall_counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, GH_STAT_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &idx);
    if (v)
        *v += n;
}

static __always_inline void stat_inc(__u32 idx)
{
    stat_add(idx, 1);
}

static __always_inline struct scratch *get_scratch(void)
{
    __u32 cpu = bpf_get_smp_processor_id();
    return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline int is_tracked(__u32 tgid)
{
    return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

static __always_inline void start_event(struct scratch *s, __u32 kind, __u32 aux, __s64 ret)
{
    __u64 id = bpf_get_current_pid_tgid();
    s->h.kind = kind;
    s->h.tgid = id >> 32;
    s->h.pid = (__u32)id;
    s->h.aux = aux;
    s->h.ret = ret;
    s->h.extra = 0;
    s->h.flags = 0;
    s->h.len[0] = 0;
    s->h.len[1] = 0;
    s->h.len[2] = 0;
    s->h.len[3] = 0;
    s->h.sock = 0;
}

static __always_inline int emit(struct scratch *s, __u32 off, __u32 hook)
{
    __u64 size = sizeof(struct gh_event_header) + (off & DATA_MASK);
    __u64 wake = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EVENTS_WAKE_BYTES
                     ? BPF_RB_FORCE_WAKEUP
                     : BPF_RB_NO_WAKEUP;
    if (bpf_ringbuf_output(&events, &s->h, size, wake)) {
        stat_inc(GH_STAT_LOST_BASE + hook);
        return -1;
    }
    return 0;
}

/* Every member of a kernel structure is read through CO-RE: aya relocates each access for the
 * running kernel's layout (their offsets differ between kernel versions: struct file's f_mode
 * and f_path, struct mount's mnt_ns, ...), and a member the kernel lacks makes the program fail
 * to load rather than read the wrong bytes. Nothing here may use an offset of vmlinux.h:
 * __builtin_offsetof and block copies of a structure's head are compile-time offsets. The
 * sensor's self-check (src/self_check.rs) opens a known file at attach and compares. */
static __always_inline struct mount *real_mount(struct vfsmount *m)
{
    return (struct mount *)((char *)m - bpf_core_field_offset(struct mount, mnt));
}

static __always_inline struct vfsmount *mount_vfs(struct mount *m)
{
    return (struct vfsmount *)((char *)m + bpf_core_field_offset(struct mount, mnt));
}

struct walk {
    struct dentry *dentry;
    struct mount *mnt;
    struct dentry *mnt_root;
    int pos;
    int reached_root;
    int truncated;
    int pseudo;
};

/* One step of the dentry walk, run by bpf_loop: prepend one component, or cross one mount
 * point. Returns 1 when the walk is over. */
static long walk_step(__u64 index, void *data)
{
    struct walk *w = data;
    struct scratch *s = get_scratch();
    if (!s)
        return 1;
    /* Copied out of `w` first: inside BPF_CORE_READ, an access to a member of `struct walk`
     * (a type of ours, unknown to the kernel) would be recorded as a relocation too, and a
     * relocation without a kernel counterpart poisons its instruction. */
    struct dentry *dentry = w->dentry;
    struct mount *mnt = w->mnt;
    if (dentry == w->mnt_root) {
        struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
        if (parent == mnt || !parent) {
            w->reached_root = 1;
            return 1;
        }
        struct vfsmount *parent_vfs = mount_vfs(parent);
        w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
        w->mnt = parent;
        w->mnt_root = BPF_CORE_READ(parent_vfs, mnt_root);
        return 0;
    }
    struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
    /* A dentry that is its own parent but not a mount's root is a pseudo file (memfd, pipe,
     * socket, anon inode): its name is all there is, as the kernel's d_path shows it. */
    int pseudo = parent == dentry || !parent;
    __u32 len = BPF_CORE_READ(dentry, d_name.len) & NAME_MASK;
    const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
    if ((int)len + 1 > w->pos) {
        w->truncated = 1;
        return 1;
    }
    w->pos -= len;
    bpf_probe_read_kernel(&s->path[w->pos & PATH_MASK], len, name);
    w->pos -= 1;
    s->path[w->pos & PATH_MASK] = '/';
    if (pseudo) {
        w->reached_root = 1;
        w->pseudo = 1;
        return 1;
    }
    w->dentry = parent;
    return 0;
}

/* Runs the dentry walk. A global function: the verifier checks it once, not once per path walk
 * inlined in every program, which keeps glasshouse's start-up short. */
__noinline int gh_walk(struct walk *w)
{
    if (!w)
        return 0;
    struct walk local = *w; /* bpf_loop's context must live on this function's stack */
    bpf_loop(MAX_COMPONENTS, walk_step, &local, 0);
    *w = local;
    return 0;
}

/* Appends the absolute path of (dentry, vfsmnt) to the event being built in this CPU's scratch
 * as string `idx`, and returns the new end of the data. A global function, verified once rather
 * than at each of its many call sites. */
__noinline __u32 gh_append_path(__u32 off, __u64 dentry_addr, __u64 vfsmnt_addr, __u32 idx)
{
    struct dentry *dentry = (struct dentry *)dentry_addr;
    struct vfsmount *vfsmnt = (struct vfsmount *)vfsmnt_addr;
    struct scratch *s = get_scratch();
    if (!s || !dentry || !vfsmnt)
        return off;
    struct walk w = {
        .dentry = dentry,
        .mnt = real_mount(vfsmnt),
        .mnt_root = BPF_CORE_READ(vfsmnt, mnt_root),
        .pos = GH_PATH_MAX,
    };
    gh_walk(&w);
    if (!w.reached_root)
        w.truncated = 1;
    if (w.pos == GH_PATH_MAX) {
        w.pos -= 1;
        s->path[w.pos & PATH_MASK] = '/';
    }
    struct mount *top = w.mnt; /* out of `w` first, as in walk_step */
    struct mnt_namespace *ns = BPF_CORE_READ(top, mnt_ns);
    if (w.pseudo || !ns || (unsigned long)ns >= (unsigned long)-4095)
        s->h.flags |= GH_FLAG_DETACHED(idx);
    /* No name left in any directory: the kernel's d_path says " (deleted)". */
    struct inode *inode = BPF_CORE_READ(dentry, d_inode);
    if (inode && BPF_CORE_READ(inode, __i_nlink) == 0)
        s->h.flags |= GH_FLAG_UNLINKED(idx);
    if (w.truncated)
        s->h.flags |= GH_FLAG_TRUNCATED(idx);
    __u32 len = (GH_PATH_MAX - w.pos) & PATH_MASK;
    bpf_probe_read_kernel(&s->data[off & DATA_MASK], len, &s->path[w.pos & PATH_MASK]);
    s->h.len[idx & 3] = len;
    return off + len;
}

/* gh_append_path with typed arguments. The event is the one in this CPU's scratch. */
static __always_inline __u32 append_path(__u32 off, struct dentry *dentry, struct vfsmount *vfsmnt,
                                         int idx)
{
    return gh_append_path(off, (__u64)dentry, (__u64)vfsmnt, idx);
}

static __always_inline __u32 append_user_str(struct scratch *s, __u32 off, const char *ptr, int idx)
{
    if (!ptr)
        return off;
    long n = bpf_probe_read_user_str(&s->data[off & DATA_MASK], GH_PATH_MAX, ptr);
    if (n <= 0)
        return off;
    if (n >= GH_PATH_MAX)
        s->h.flags |= GH_FLAG_TRUNCATED(idx);
    n -= 1; /* the NUL */
    s->h.len[idx & 3] = n;
    return off + n;
}

/* The open file behind descriptor fd of `task`, or NULL. Plain (fault-safe) loads through BTF
 * pointers, not helper calls. The verifier's check of the load through the trusted task pointer
 * is slow (it searches the kernel's BTF by name, several times per load and per path through
 * it), so only the per-open hot path inlines this; every other caller goes through the global
 * gh_fd_file, verified once. */
static __always_inline struct file *task_fd_file(struct task_struct *task, long fd)
{
    if (fd < 0)
        return NULL;
    struct files_struct *files = task->files;
    if (!files)
        return NULL;
    struct fdtable *fdt = files->fdt;
    if (!fdt || (unsigned long)fd >= fdt->max_fds)
        return NULL;
    struct file **arr = fdt->fd;
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
    return f;
}

/* The current process's file behind fd, as an address (0 when there is none). */
__noinline __u64 gh_fd_file(long fd)
{
    return (__u64)task_fd_file(bpf_get_current_task_btf(), fd);
}

static __always_inline struct file *fd_file(long fd)
{
    return (struct file *)gh_fd_file(fd);
}

/* Appends the directory a relative path starts from: the cwd, or the dirfd's file. One walk,
 * whichever it is: every inlined walk adds to the verifier's work at start-up. */
static __always_inline __u32 append_base(struct scratch *s, __u32 off, struct task_struct *task,
                                         long dfd, int idx)
{
    struct path p = {};
    if ((int)dfd == AT_FDCWD) {
        p = BPF_CORE_READ(task, fs, pwd);
    } else {
        struct file *f = fd_file(dfd);
        if (!f)
            return off;
        p = BPF_CORE_READ(f, f_path);
    }
    return append_path(off, p.dentry, p.mnt, idx);
}

/* ---- process tree ---------------------------------------------------------------------- */

/* The process's id in its own (innermost) pid namespace, the number getpid() returns there:
 * the last of the pid's per-level numbers. Equal to the tgid outside a pid namespace. */
static __always_inline __u32 ns_tgid(struct task_struct *task)
{
    struct pid *pid = BPF_CORE_READ(task, thread_pid);
    if (!pid)
        return 0;
    __u32 level = BPF_CORE_READ(pid, level);
    if (level > 32) /* MAX_PID_NS_LEVEL */
        return 0;
    int nr = 0;
    char *upid = (char *)pid + bpf_core_field_offset(struct pid, numbers)
                 + level * bpf_core_type_size(struct upid);
    if (bpf_probe_read_kernel(&nr, sizeof(nr), upid + bpf_core_field_offset(struct upid, nr)))
        return 0;
    return nr > 0 ? nr : 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gh_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 ptgid = BPF_CORE_READ(parent, tgid);
    if (!is_tracked(ptgid))
        return 0;
    __u32 ctgid = BPF_CORE_READ(child, tgid);
    if (ctgid != ptgid) { /* a new process, not a new thread of a followed one */
        struct gh_process proc = { .ppid = ptgid };
        if (bpf_map_update_elem(&tracked, &ctgid, &proc, BPF_ANY)) {
            stat_inc(GH_STAT_TRACK_FULL);
            return 0;
        }
    }
    /* The child has not run yet: its syscalls are followed from its first one. */
    struct inflight *entry = bpf_task_storage_get(&inflight, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (entry)
        entry->gen = current_gen();
    else
        stat_inc(GH_STAT_TRACK_FULL);
    if (ctgid == ptgid)
        return 0;
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_FORK, ptgid, 0);
    s->h.tgid = ctgid;
    s->h.pid = BPF_CORE_READ(child, pid);
    s->h.extra = ns_tgid(child);
    struct path pwd = BPF_CORE_READ(child, fs, pwd);
    __u32 off = append_path(0, pwd.dentry, pwd.mnt, 0);
    emit(s, off, GH_HOOK_FORK);
    return 0;
}

/* Reports the file behind the current process's descriptor fd, which it did not open itself
 * (`source`: GH_FD_*), when it is a file system object (not a pipe, socket or anonymous file). */
__noinline int gh_report_fd(long fd, __u32 source)
{
    struct file *f = task_fd_file(bpf_get_current_task_btf(), fd);
    if (!f)
        return 0;
    __u32 fmt = BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
    if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFCHR && fmt != S_IFBLK)
        return 0;
    __u32 fmode = BPF_CORE_READ(f, f_mode);
    __u32 access = 0;
    if (fmode & FMODE_READ)
        access |= GH_ACC_READ;
    if (fmode & FMODE_WRITE)
        access |= GH_ACC_WRITE;
    struct path p = BPF_CORE_READ(f, f_path);
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_FD, fd, 0);
    s->h.extra = access;
    s->h.sock = source;
    __u32 off = append_path(0, p.dentry, p.mnt, 0);
    emit(s, off, source == GH_FD_INHERITED ? GH_HOOK_EXEC : GH_HOOK_SYS_EXIT);
    return 0;
}

/* Whether `task` is the command itself: a child of glasshouse, which is not in the tree. Its
 * `tracked` entry holds the parent it had when it was added; a process of the tree that was
 * reparented to glasshouse has another. */
static __always_inline int is_the_command(struct task_struct *task, __u32 tgid)
{
    struct gh_process *added = bpf_map_lookup_elem(&tracked, &tgid);
    __u32 parent = BPF_CORE_READ(task, real_parent, tgid);
    return added && added->ppid == parent && !is_tracked(parent);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gh_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 tgid = BPF_CORE_READ(task, tgid);
    if (!is_tracked(tgid))
        return 0;
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_EXEC, 0, 0);
    /* After exec the task leads its thread group: its pid is the process's. */
    s->h.extra = ns_tgid(task);
    struct path exe = BPF_CORE_READ(bprm, file, f_path);
    __u32 off = append_path(0, exe.dentry, exe.mnt, 0);
    struct path pwd = BPF_CORE_READ(task, fs, pwd);
    off = append_path(off, pwd.dentry, pwd.mnt, 1);
    if (cfg_capture_argv) {
        struct mm_struct *mm = BPF_CORE_READ(task, mm);
        unsigned long start = BPF_CORE_READ(mm, arg_start);
        unsigned long end = BPF_CORE_READ(mm, arg_end);
        unsigned long len = end > start ? end - start : 0;
        if (len > GH_ARGV_MAX - 1) {
            len = GH_ARGV_MAX - 1;
            s->h.flags |= GH_FLAG_TRUNCATED(2);
        }
        len &= GH_ARGV_MAX - 1;
        if (len && !bpf_probe_read_user(&s->data[off & DATA_MASK], len, (void *)start)) {
            s->h.len[2] = len;
            off += len;
        }
    }

    const char *filename = BPF_CORE_READ(bprm, filename);
    long n = bpf_probe_read_kernel_str(&s->data[off & DATA_MASK], GH_PATH_MAX, filename);
    if (n > 0) {
        if (n >= GH_PATH_MAX)
            s->h.flags |= GH_FLAG_TRUNCATED(3);
        s->h.len[3] = n - 1;
        off += n - 1;
    }
    emit(s, off, GH_HOOK_EXEC);
    /* The descriptors the command was started with were opened by its caller, not by it. */
    if (is_the_command(task, tgid))
        for (int fd = 0; fd < GH_INHERITED_FDS; fd++)
            gh_report_fd(fd, GH_FD_INHERITED);
    return 0;
}

static __always_inline void on_exit(struct task_struct *task, int group_dead)
{
    __u32 tgid = BPF_CORE_READ(task, tgid);
    if (!is_tracked(tgid))
        return;
    if (!group_dead)
        return;
    /* Forget the process before its pid can be reused. */
    bpf_map_delete_elem(&tracked, &tgid);
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_EXIT, 0, BPF_CORE_READ(task, exit_code));
    s->h.tgid = tgid;
    emit(s, 0, GH_HOOK_EXIT);
}

/* Newer kernels (6.18, not 6.12) say whether the thread was its process's last. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(gh_exit, struct task_struct *task, bool group_dead)
{
    on_exit(task, group_dead);
    return 0;
}

/* Older kernels do not: the tracepoint fires after do_exit decremented the process's count of
 * live threads, so the last thread is the one that finds it at zero. */
SEC("tp_btf/sched_process_exit_v1")
int BPF_PROG(gh_exit_v1, struct task_struct *task)
{
    on_exit(task, BPF_CORE_READ(task, signal, live.counter) == 0);
    return 0;
}

/* ---- the table of syscalls.h, expanded --------------------------------------------------- */

/* GH_NR_openat is 257, and so on for every row. */
enum gh_nr {
#define GH_NR(nr, name, ...) GH_NR_##name = nr,
    GH_SYSCALLS(GH_NR)
#undef GH_NR
};

enum gh_family {
    GH_FAM_NONE,
    GH_FAM_OPEN,
    GH_FAM_FD_META,
    GH_FAM_PATH_OR_FD,
    GH_FAM_PATH,
    GH_FAM_EXEC,
    GH_FAM_BIND,
    GH_FAM_NET,
    GH_FAM_RECV,
};

/* An argument column (pasted after GH_IDX_): its index, or -1 for NONE. */
#define GH_IDX_NONE (-1)
#define GH_IDX_0 0
#define GH_IDX_1 1
#define GH_IDX_2 2
#define GH_IDX_3 3
#define GH_IDX_4 4
#define GH_IDX_5 5
/* Argument `idx` of a call, or `none` when the column is NONE (constants: folded per case). */
#define GH_ARG(in, idx, none) ((idx) < 0 ? (__u64)(none) : (in)->args[(idx) < 0 ? 0 : (idx)])

static __always_inline int is_interesting(long nr)
{
    switch (nr) {
#define GH_CASE(nr, ...) case nr:
    GH_SYSCALLS(GH_CASE)
#undef GH_CASE
        return 1;
    }
    return 0;
}

static __always_inline int gh_family(__u32 nr)
{
    switch (nr) {
#define GH_FAMILY(nr, name, family, ...) case nr: return GH_FAM_##family;
    GH_SYSCALLS(GH_FAMILY)
#undef GH_FAMILY
    }
    return GH_FAM_NONE;
}

/* What a call names: path A (relative to directory descriptor da) and path B (relative to db). */
struct gh_layout {
    long da, db;
    const char *pa, *pb;
};

/* The layout of a decoded call, from its row; 0 when its row names no argument at all. */
static __always_inline int gh_layout(const struct inflight *in, struct gh_layout *l)
{
    switch (in->nr) {
#define GH_LAYOUT(nr, name, family, dir_a, path_a, dir_b, path_b, ...)                     \
    case nr:                                                                               \
        if (GH_IDX_##dir_a < 0 && GH_IDX_##path_a < 0 && GH_IDX_##dir_b < 0 &&             \
            GH_IDX_##path_b < 0)                                                           \
            return 0;                                                                      \
        l->da = GH_ARG(in, GH_IDX_##dir_a, AT_FDCWD);                                      \
        l->pa = (const char *)GH_ARG(in, GH_IDX_##path_a, 0);                              \
        l->db = GH_ARG(in, GH_IDX_##dir_b, AT_FDCWD);                                      \
        l->pb = (const char *)GH_ARG(in, GH_IDX_##path_b, 0);                              \
        return 1;
    GH_SYSCALLS(GH_LAYOUT)
#undef GH_LAYOUT
    }
    return 0;
}

/* The flags column of a call (pasted after GH_FLAGS_; `in` is the call). */
#define GH_FLAGS_NONE 0
#define GH_FLAGS_ARG(i) (in->args[i])
#define GH_FLAGS_HOW(i) open_how_flags(in->args[i])
#define GH_FLAGS_CONST(v) (v)

static __always_inline __u64 open_how_flags(__u64 how)
{
    __u64 f = 0; /* struct open_how's first member */
    bpf_probe_read_user(&f, sizeof(f), (void *)how);
    return f;
}

static __always_inline __u64 gh_flags(const struct inflight *in)
{
    switch (in->nr) {
#define GH_FLAGS(nr, name, family, dir_a, path_a, dir_b, path_b, flags, ...) case nr: return GH_FLAGS_##flags;
    GH_SYSCALLS(GH_FLAGS)
#undef GH_FLAGS
    }
    return 0;
}

/* ---- system calls ---------------------------------------------------------------------- */

SEC("tp_btf/sys_enter")
int BPF_PROG(gh_sys_enter, struct pt_regs *regs, long id)
{
    struct inflight *in = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
    if (!in || in->gen != current_gen())
        return 0; /* not a thread of the tree */
    __u32 nr = (__u32)id;
    if (nr < GH_MAX_SYSCALLS && !in->probe) {
        __u64 *count = bpf_map_lookup_elem(&syscall_counts, &nr);
        if (count)
            *count += 1;
    }
    if (!is_interesting(id))
        return 0;
    /* regs is a trusted pointer here: plain loads, no helper calls. */
    in->args[0] = regs->di;
    in->args[1] = regs->si;
    in->args[2] = regs->dx;
    in->args[3] = regs->r10;
    in->args[4] = regs->r8;
    in->args[5] = regs->r9;
    in->nr = nr;
    in->active = 1;
    return 0;
}

/* Reports a file that an open made, unless this process already opened it the same way.
 * `also` adds to the access the file's mode gives (a metadata change by descriptor writes). */
static __always_inline void on_open_file(struct task_struct *task, struct inflight *in, struct file *f,
                                         long ret, __u32 oflags, __u32 also)
{
    if (!f)
        return;
    __u32 fmode = BPF_CORE_READ(f, f_mode);
    if (fmode & FMODE_PATH)
        return; /* O_PATH: names a file without reading or writing it */
    __u32 access = 0;
    if (fmode & FMODE_READ)
        access |= GH_ACC_READ;
    if (fmode & FMODE_WRITE)
        access |= GH_ACC_WRITE;
    if ((fmode & FMODE_WRITE) && (oflags & O_TRUNC))
        access |= GH_ACC_TRUNC;
    if (fmode & FMODE_CREATED)
        access |= GH_ACC_CREATE | GH_ACC_WRITE;
    access |= also;
    struct path p = {};
    bpf_probe_read_kernel(&p, sizeof(p), (char *)f + bpf_core_field_offset(struct file, f_path) + cfg_fault_f_path);
    struct {
        __u64 parent;
        __u64 hash_len;
        __u64 inode;
    } id = {
        .parent = (__u64)BPF_CORE_READ(p.dentry, d_parent),
        .hash_len = BPF_CORE_READ(p.dentry, d_name.hash_len),
        .inode = (__u64)BPF_CORE_READ(p.dentry, d_inode),
    };
    /* Two opens share a key only when they name the same path: same dentry under the same
     * parent with the same name, on the same mount, bound to the same inode. */
    struct seen_key key = {
        .gen = current_gen(),
        .tgid = bpf_get_current_pid_tgid() >> 32,
        .access = access,
        .dentry = (__u64)p.dentry,
        .mnt = (__u64)p.mnt,
        .parent = id.parent,
        .ino = id.inode,
        .name_hash = id.hash_len,
    };
    if (bpf_map_lookup_elem(&seen, &key))
        return;
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_OPEN, in->nr, ret);
    s->h.extra = access;
    __u32 off = append_path(0, p.dentry, p.mnt, 0);
    if (!emit(s, off, GH_HOOK_SYS_EXIT)) {
        __u8 one = 1;
        bpf_map_update_elem(&seen, &key, &one, BPF_ANY);
    }
}

/* A successful open reports the file behind its new descriptor. So does a successful metadata
 * change by descriptor (fchmod, fchown, fsetxattr, fremovexattr, futimens): it writes the file,
 * and deduplicated like an open it costs no event after the first (an archiver's open, futimens,
 * fchown, fchmod of each file it creates share one key: the file's mode says created-and-written
 * for all four). */
static __always_inline void on_open(struct task_struct *task, struct inflight *in, long ret,
                                    int family, const struct gh_layout *l)
{
    __u32 oflags = 0, also = 0;
    long fd = ret;
    if (family == GH_FAM_FD_META || family == GH_FAM_PATH_OR_FD) {
        fd = l->da; /* the file changed is the descriptor's */
        also = GH_ACC_WRITE;
    } else {
        oflags = gh_flags(in);
    }
    on_open_file(task, in, task_fd_file(task, fd), fd, oflags, also);
}

/* A path syscall ended (or an open failed): report the raw paths with the directories they
 * are relative to, resolved in the kernel. */
static __always_inline void on_pathop(struct task_struct *task, struct inflight *in, long ret,
                                      int family, const struct gh_layout *layout, int named)
{
    struct gh_layout l = *layout;
    if (family == GH_FAM_BIND) { /* a unix socket bound to a path makes a file there */
        const char *addr = (const char *)in->args[1];
        __u16 sa_family = 0;
        char first = 0;
        if (bpf_probe_read_user(&sa_family, sizeof(sa_family), addr) || sa_family != AF_UNIX ||
            bpf_probe_read_user(&first, 1, addr + 2) || !first)
            return; /* not a unix socket, or an abstract name: no file */
        l.pa = addr + 2;
    } else if (!named) {
        return;
    }
    long da = l.da, db = l.db;
    const char *pa = l.pa, *pb = l.pb;
    /* The call names its file by a descriptor only: da. */
    int by_fd = family == GH_FAM_FD_META || (family == GH_FAM_PATH_OR_FD && !pa);
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_PATHOP, in->nr, ret);
    if (family == GH_FAM_PATH)
        s->h.extra = gh_flags(in); /* renameat2's: RENAME_EXCHANGE deletes nothing */
    __u32 off = 0;
    if (by_fd)
        off = append_base(s, off, task, da, 1);
    if (pa) {
        __u32 start = off;
        off = append_user_str(s, off, pa, 0);
        if (off == start || s->data[start & DATA_MASK] != '/')
            off = append_base(s, off, task, da, 1);
    }
    if (pb) {
        __u32 start = off;
        off = append_user_str(s, off, pb, 2);
        if (off == start || s->data[start & DATA_MASK] != '/')
            off = append_base(s, off, task, db, 3);
    }
    emit(s, off, GH_HOOK_SYS_EXIT);
}

/* ---- network --------------------------------------------------------------------------- */

static __always_inline struct socket *file_socket(struct file *f)
{
    if (!f)
        return NULL;
    struct inode *inode = BPF_CORE_READ(f, f_inode);
    if ((BPF_CORE_READ(inode, i_mode) & 0170000) != 0140000) /* S_IFSOCK */
        return NULL;
    return BPF_CORE_READ(f, private_data);
}

static __always_inline __u32 sock_identity(struct sock *sk)
{
    if (!sk)
        return 0;
    __u32 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    __u32 type = BPF_CORE_READ(sk, sk_type);
    __u32 protocol = BPF_CORE_READ(sk, sk_protocol);
    return GH_SOCK(family, type, protocol);
}

/* The outcome of a TCP connect whose socket reached `state`: 0 when established, -errno when it
 * failed, GH_NET_UNDECIDED when it was closed without an error (abandoned). */
static __always_inline long tcp_outcome(const struct sock *sk, int state)
{
    if (state == TCP_ESTABLISHED)
        return 0;
    long err = BPF_CORE_READ(sk, sk_err);
    return err ? -err : GH_NET_UNDECIDED;
}

/* Reports one destination named by a socket call (connect, or a send with an address), once
 * per process, call, outcome and destination. A global function (verified once, not at each of
 * its call sites); `call` packs the syscall number (high half) and the socket's identity. */
__noinline int gh_report_destination(__u64 call, long ret, __u64 sk_addr, __u64 uaddr_addr,
                                     __u32 addr_len)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u32 nr = call >> 32;
    __u32 sock_id = (__u32)call;
    struct sock *sk = (struct sock *)sk_addr;
    const void *uaddr = (const void *)uaddr_addr;
    if (!uaddr || addr_len == 0)
        return 0; /* a send on a connected socket: its destination was reported at connect */
    struct net_key key = {
        .gen = current_gen(),
        .tgid = tgid,
        .nr = nr,
        .ret = ret >= 0 ? 0 : ret, /* one report per destination and outcome, not per size */
        .sock = sock_id,
        .addr_len = addr_len > SOCKADDR_MAX ? SOCKADDR_MAX : addr_len,
    };
    bpf_probe_read_user(key.addr, key.addr_len & (SOCKADDR_MAX - 1), uaddr);
    int in_progress = nr == GH_NR_connect && ret == -EINPROGRESS && sk;
    if (in_progress) {
        /* Register first, then look: on loopback the answer often arrives inside connect(),
         * before it returns EINPROGRESS, and a state change we were not waiting for is lost. */
        __u64 skp = (__u64)sk;
        bpf_map_update_elem(&tcp_pending, &skp, &tgid, BPF_ANY);
        int state = BPF_CORE_READ(sk, __sk_common.skc_state);
        if (state != TCP_SYN_SENT && bpf_map_delete_elem(&tcp_pending, &skp) == 0) {
            /* Already decided, and gh_tcp_state has not reported it: report it here. */
            in_progress = 0;
            key.ret = ret = tcp_outcome(sk, state);
        }
        /* Otherwise gh_tcp_state reports the outcome (it may already have). */
    }
    if (!in_progress && bpf_map_lookup_elem(&net_seen, &key))
        return 0;
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_NET, nr, ret);
    s->h.sock = key.sock;
    if (in_progress)
        s->h.extra = (__u64)sk;
    __u32 len = key.addr_len & 127;
    bpf_probe_read_kernel(&s->data[0], len, key.addr);
    s->h.len[0] = len;
    if (!emit(s, len, GH_HOOK_NET) && !in_progress) {
        __u8 one = 1;
        bpf_map_update_elem(&net_seen, &key, &one, BPF_ANY);
    }
    return 0;
}

static __always_inline void report_destination(__u32 nr, long ret, __u32 sock_id, struct sock *sk,
                                               const void *uaddr, __u32 addr_len)
{
    gh_report_destination((__u64)nr << 32 | sock_id, ret, (__u64)sk, (__u64)uaddr, addr_len);
}

#define MMSG_INSPECTED 8
#define MMSGHDR_SIZE 64 /* struct mmsghdr: user_msghdr + msg_len, padded */

static __always_inline void on_socket_syscall(struct task_struct *task, struct inflight *in, long ret)
{
    struct socket *sock = file_socket(fd_file(in->args[0]));
    struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
    __u32 sock_id = sock_identity(sk);
    struct user_msghdr msg = {};
    switch (in->nr) {
    case GH_NR_connect: /* connect(fd, addr, len) */
        report_destination(GH_NR_connect, ret, sock_id, sk, (const void *)in->args[1], in->args[2]);
        break;
    case GH_NR_sendto: /* sendto(fd, buf, len, flags, addr, addr_len) */
        report_destination(GH_NR_sendto, ret, sock_id, sk, (const void *)in->args[4], in->args[5]);
        break;
    case GH_NR_sendmsg: /* sendmsg(fd, msg, flags) */
        if (!bpf_probe_read_user(&msg, sizeof(msg), (void *)in->args[1]))
            report_destination(GH_NR_sendmsg, ret, sock_id, sk, msg.msg_name, msg.msg_namelen);
        break;
    case GH_NR_sendmmsg: { /* sendmmsg(fd, msgs, vlen, flags): every message may name its own destination */
        __u32 vlen = in->args[2];
        for (int i = 0; i < MMSG_INSPECTED; i++) {
            if (i >= vlen || (ret >= 0 && i >= ret))
                break; /* messages past the count returned were not sent */
            if (bpf_probe_read_user(&msg, sizeof(msg), (char *)in->args[1] + i * MMSGHDR_SIZE))
                break;
            report_destination(GH_NR_sendmmsg, ret < 0 ? ret : 0, sock_id, sk, msg.msg_name,
                               msg.msg_namelen);
        }
        __u32 sent = ret >= 0 ? ret : vlen;
        if (sent > MMSG_INSPECTED)
            stat_add(GH_STAT_MMSG_UNINSPECTED, sent - MMSG_INSPECTED);
        break;
    }
    }
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(gh_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
    __u64 skp = (__u64)sk;
    __u32 *tgid = bpf_map_lookup_elem(&tcp_pending, &skp);
    if (!tgid)
        return 0;
    if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
        return 0;
    __u32 owner = *tgid;
    /* Whoever deletes the entry reports the outcome (see report_destination). */
    if (bpf_map_delete_elem(&tcp_pending, &skp))
        return 0;
    long result = tcp_outcome(sk, newstate);
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_NET_DONE, 0, result);
    s->h.tgid = owner; /* this may run in softirq context, on behalf of another task */
    s->h.pid = 0;
    s->h.extra = skp;
    emit(s, 0, GH_HOOK_NET);
    return 0;
}

static __always_inline void count_bytes(struct sock *sk, int ret, __u32 stat)
{
    if (ret <= 0)
        return;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return;
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family == AF_INET || family == AF_INET6)
        stat_add(stat, ret);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(gh_sock_send, struct sock *sk, int ret, int flags)
{
    count_bytes(sk, ret, GH_STAT_BYTES_SENT);
    return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(gh_sock_recv, struct sock *sk, int ret, int flags)
{
    count_bytes(sk, ret, GH_STAT_BYTES_RECEIVED);
    return 0;
}

/* ---- io_uring --------------------------------------------------------------------------- */

#define IORING_RECV_MULTISHOT (1U << 1) /* io_uring_sqe.ioprio of a recv or recvmsg */

__noinline int gh_received_fds(__u64 msg_addr);

static __always_inline __u32 append_kernel_filename(struct scratch *s, __u32 off, struct filename *fn, int idx)
{
    if (!fn)
        return off;
    const char *name = BPF_CORE_READ(fn, name);
    long n = bpf_probe_read_kernel_str(&s->data[off & DATA_MASK], GH_PATH_MAX, name);
    if (n <= 0)
        return off;
    if (n >= GH_PATH_MAX)
        s->h.flags |= GH_FLAG_TRUNCATED(idx);
    s->h.len[idx & 3] = n - 1;
    return off + n - 1;
}

/* Appends a raw path (kernel copy) and, when it is relative, the directory it starts from. */
static __always_inline __u32 append_uring_path(struct scratch *s, __u32 off, struct task_struct *task,
                                               struct filename *fn, long dfd, int idx)
{
    __u32 start = off;
    off = append_kernel_filename(s, off, fn, idx);
    if (off == start || s->data[start & DATA_MASK] != '/')
        off = append_base(s, off, task, dfd, idx + 1);
    return off;
}

/* Kernels up to 6.12 at least keep a send's destination (sqe->addr2, sendto style, from 6.1 on)
 * as the user's pointer in the request; before 6.10 they copy it only when the send runs (not
 * yet at submission), later ones when they prepare it, into the async data. The newest have
 * only the copy. */
struct io_sr_msg___user_dest {
    void *addr;
    __u16 addr_len;
} __attribute__((preserve_access_index));

static __noinline __u64 uring_send_user_dest(struct io_sr_msg___user_dest *m, __u32 *len)
{
    *len = BPF_CORE_READ(m, addr_len);
    return (__u64)BPF_CORE_READ(m, addr);
}

static __always_inline void on_uring_submit(struct io_kiocb *req)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_tracked(tgid))
        return;
    __u32 op = BPF_CORE_READ(req, opcode);
    __u32 slot = op;
    if (slot < GH_URING_OPS) {
        __u64 *count = bpf_map_lookup_elem(&uring_ops, &slot);
        if (count)
            *count += 1;
    }
    void *cmd = (void *)&req->cmd;
    struct task_struct *task = bpf_get_current_task_btf();
    struct scratch *s;
    __u32 off = 0;
    switch (op) {
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2:
    case IORING_OP_UNLINKAT:
    case IORING_OP_MKDIRAT:
    case IORING_OP_RENAMEAT:
    case IORING_OP_LINKAT:
    case IORING_OP_SYMLINKAT:
    case IORING_OP_SETXATTR:
    case IORING_OP_CONNECT:
    case IORING_OP_SENDMSG:
    case IORING_OP_SENDMSG_ZC:
    case IORING_OP_SEND:
    case IORING_OP_SEND_ZC:
        break;
    case IORING_OP_RECVMSG: {
        /* Nothing to report yet: its completion reports the descriptors it received. */
        __u64 req_id = (__u64)req;
        __u32 pending = op;
        if (bpf_map_update_elem(&uring_pending, &req_id, &pending, BPF_ANY))
            stat_inc(GH_STAT_URING_PENDING_FULL);
        return;
    }
    default:
        return;
    }
    s = get_scratch();
    if (!s)
        return;
    __u64 id = (__u64)req;
    start_event(s, GH_EV_URING_SUBMIT, op, 0);
    s->h.extra = id;
    /* Pick the operation's paths first, then resolve them in one place: each path walk inlined
     * once per op would multiply the verifier's work (and glasshouse's start-up time). */
    struct filename *name_a = NULL, *name_b = NULL;
    long dfd_a = AT_FDCWD, dfd_b = AT_FDCWD;
    switch (op) {
    case IORING_OP_OPENAT:
    case IORING_OP_OPENAT2: {
        struct io_open *o = cmd;
        name_a = BPF_CORE_READ(o, filename);
        dfd_a = BPF_CORE_READ(o, dfd);
        s->h.sock = BPF_CORE_READ(o, how.flags); /* open flags, for the completion */
        if (BPF_CORE_READ(o, file_slot))
            s->h.flags |= GH_FLAG_URING_DIRECT;
        break;
    }
    case IORING_OP_UNLINKAT: {
        struct io_unlink *u = cmd;
        name_a = BPF_CORE_READ(u, filename);
        dfd_a = BPF_CORE_READ(u, dfd);
        s->h.sock = BPF_CORE_READ(u, flags);
        break;
    }
    case IORING_OP_MKDIRAT: {
        struct io_mkdir *m = cmd;
        name_a = BPF_CORE_READ(m, filename);
        dfd_a = BPF_CORE_READ(m, dfd);
        break;
    }
    case IORING_OP_RENAMEAT: {
        struct io_rename *r = cmd;
        name_a = BPF_CORE_READ(r, oldpath);
        dfd_a = BPF_CORE_READ(r, old_dfd);
        name_b = BPF_CORE_READ(r, newpath);
        dfd_b = BPF_CORE_READ(r, new_dfd);
        s->h.sock = BPF_CORE_READ(r, flags); /* RENAME_EXCHANGE deletes nothing */
        break;
    }
    case IORING_OP_SETXATTR: { /* by path, always relative to the cwd */
        struct io_xattr *x = cmd;
        name_a = BPF_CORE_READ(x, filename);
        break;
    }
    case IORING_OP_LINKAT:
    case IORING_OP_SYMLINKAT: {
        struct io_link *l = cmd;
        name_b = BPF_CORE_READ(l, newpath);
        dfd_b = BPF_CORE_READ(l, new_dfd);
        break;
    }
    }
    if (name_a)
        off = append_uring_path(s, off, task, name_a, dfd_a, 0);
    if (name_b)
        off = append_uring_path(s, off, task, name_b, dfd_b, 2);
    /* The destination of a connect or a send that names one: in user memory, or (a send's,
     * copied when the request was prepared) in the kernel's. */
    const void *dst = NULL;
    __u32 dst_len = 0;
    int dst_in_kernel = 0;
    switch (op) {
    case IORING_OP_CONNECT: {
        struct io_connect *c = cmd;
        dst = BPF_CORE_READ(c, addr);
        dst_len = BPF_CORE_READ(c, addr_len);
        break;
    }
    case IORING_OP_SENDMSG:
    case IORING_OP_SENDMSG_ZC: {
        struct io_sr_msg *m = cmd;
        struct user_msghdr msg = {};
        if (bpf_probe_read_user(&msg, sizeof(msg), BPF_CORE_READ(m, umsg)) || !msg.msg_name)
            return; /* no destination: a send on a connected socket */
        dst = msg.msg_name;
        dst_len = msg.msg_namelen;
        break;
    }
    case IORING_OP_SEND:
    case IORING_OP_SEND_ZC: {
        /* The kernel's copy, where the request was given one when it was prepared. */
        struct io_async_msghdr *io = BPF_CORE_READ(req, async_data);
        dst = io ? BPF_CORE_READ(io, msg.msg_name) : NULL;
        if (dst) {
            dst_len = BPF_CORE_READ(io, msg.msg_namelen);
            dst_in_kernel = 1;
            break;
        }
        /* Else the user's, still there: the submission is in the submitting task's syscall. */
        struct io_sr_msg___user_dest *m = cmd;
        if (bpf_core_field_exists(m->addr))
            dst = (const void *)uring_send_user_dest(m, &dst_len);
        if (!dst)
            return; /* no destination: a send on a connected socket */
        break;
    }
    }
    if (dst) {
        __u32 len = (dst_len > SOCKADDR_MAX ? SOCKADDR_MAX : dst_len) & 127;
        long err = dst_in_kernel ? bpf_probe_read_kernel(&s->data[0], len, dst)
                                 : bpf_probe_read_user(&s->data[0], len, dst);
        if (!err) {
            s->h.len[0] = len;
            off = len;
        }
    }
    /* The opcode, and whether the completion must leave the result alone (a direct open's
     * result is no descriptor of the process). */
    __u32 one = op | (s->h.flags & GH_FLAG_URING_DIRECT ? URING_PENDING_DIRECT : 0);
    if (bpf_map_update_elem(&uring_pending, &id, &one, BPF_ANY)) {
        stat_inc(GH_STAT_URING_PENDING_FULL);
        return;
    }
    emit(s, off, GH_HOOK_IO_URING);
}

/* Kernels from 6.4 on. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(gh_uring_submit, struct io_kiocb *req)
{
    on_uring_submit(req);
    return 0;
}

/* Before 6.4 the tracepoint had another name, and the request was prepared all the same. */
SEC("tp_btf/io_uring_submit_sqe")
int BPF_PROG(gh_uring_submit_sqe, struct io_kiocb *req, bool force_nonblock)
{
    on_uring_submit(req);
    return 0;
}

static __always_inline void on_uring_complete(void *request, long res)
{
    __u64 id = (__u64)request;
    __u32 *op = bpf_map_lookup_elem(&uring_pending, &id);
    if (!op)
        return;
    __u32 opcode = *op & 0xffff;
    int direct = *op & URING_PENDING_DIRECT;
    bpf_map_delete_elem(&uring_pending, &id);
    struct io_kiocb *req = request;
    if (opcode == IORING_OP_RECVMSG) {
        struct io_sr_msg *m = (void *)&req->cmd;
        /* A multishot recvmsg puts each message into a provided buffer, not the msghdr, and
         * completes more than once: its descriptors are not looked at, and counted. */
        if (BPF_CORE_READ(m, flags) & IORING_RECV_MULTISHOT)
            stat_inc(GH_STAT_FDS_UNINSPECTED);
        else if (res >= 0)
            gh_received_fds((__u64)BPF_CORE_READ(m, umsg));
        return;
    }
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_URING_DONE, opcode, res);
    s->h.extra = id;
    struct file *f = BPF_CORE_READ(req, file);
    struct socket *sock = file_socket(f);
    if (sock)
        s->h.sock = sock_identity(BPF_CORE_READ(sock, sk));
    emit(s, 0, GH_HOOK_IO_URING);
    /* A successful open: resolve the new file exactly as for open(2). */
    if ((opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2) && res >= 0 && !direct) {
        struct task_struct *task = bpf_get_current_task_btf();
        struct inflight in = { .nr = GH_URING_NR_BASE + opcode };
        in.args[2] = 0;
        on_open_file(task, &in, fd_file(res), res, BPF_CORE_READ((struct io_open *)&req->cmd, how.flags), 0);
    }
}

/* Newer kernels (6.18, not 6.12) pass the completion itself. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(gh_uring_complete, void *ring, void *request, struct io_uring_cqe *cqe)
{
    on_uring_complete(request, BPF_CORE_READ(cqe, res));
    return 0;
}

/* Older kernels pass its fields: user_data, res, cflags, extra1, extra2. */
SEC("tp_btf/io_uring_complete_v1")
int BPF_PROG(gh_uring_complete_v1, void *ring, void *request, __u64 user_data, int res)
{
    on_uring_complete(request, res);
    return 0;
}

#define CMSG_HDR 16 /* struct cmsghdr: cmsg_len (size_t), cmsg_level, cmsg_type */
#define SOL_SOCKET 1
#define SCM_RIGHTS 1

/* A message was received into the user's msghdr at msg_addr: every descriptor it carried
 * (SCM_RIGHTS in the control data the kernel wrote back; the first two control messages, the
 * first GH_RECEIVED_FDS descriptors) is reported. A message with more than that is counted, so
 * the receipt says that descriptors may be missing. Global: verified once for its three callers
 * (recvmsg, recvmmsg, io_uring recvmsg). */
__noinline int gh_received_fds(__u64 msg_addr)
{
    struct user_msghdr msg = {};
    if (bpf_probe_read_user(&msg, sizeof(msg), (void *)msg_addr) || !msg.msg_control)
        return 0;
    __u64 off = 0;
    int reported = 0, unseen = 0;
    for (int c = 0; c < 2; c++) {
        struct {
            __u64 len;
            int level;
            int type;
            int fds[GH_RECEIVED_FDS];
        } cmsg = {};
        if (off + CMSG_HDR > msg.msg_controllen)
            break;
        if (bpf_probe_read_user(&cmsg, sizeof(cmsg), (char *)msg.msg_control + off) &&
            bpf_probe_read_user(&cmsg, CMSG_HDR, (char *)msg.msg_control + off)) {
            unseen = 1;
            break;
        }
        if (cmsg.len < CMSG_HDR || off + cmsg.len > msg.msg_controllen)
            break;
        if (cmsg.level == SOL_SOCKET && cmsg.type == SCM_RIGHTS) {
            __u64 n = (cmsg.len - CMSG_HDR) / sizeof(int);
            if (n > GH_RECEIVED_FDS - reported)
                unseen = 1;
            for (int i = 0; i < GH_RECEIVED_FDS && i < n && reported < GH_RECEIVED_FDS; i++, reported++)
                gh_report_fd(cmsg.fds[i], GH_FD_RECEIVED);
        }
        off += (cmsg.len + 7) & ~7ULL; /* CMSG_ALIGN */
        if (c == 1 && off + CMSG_HDR <= msg.msg_controllen)
            unseen = 1; /* a third control message */
    }
    if (unseen)
        stat_inc(GH_STAT_FDS_UNINSPECTED);
    return 0;
}

/* recvmsg(fd, msg, flags) or recvmmsg(fd, msgs, vlen, flags, timeout) returned `ret`. */
static __always_inline void on_received(struct inflight *in, long ret)
{
    if (in->nr == GH_NR_recvmsg) {
        gh_received_fds(in->args[1]);
        return;
    }
    /* recvmmsg: ret messages were received; the first MMSG_INSPECTED are looked at. */
    for (int i = 0; i < MMSG_INSPECTED && i < ret; i++)
        gh_received_fds(in->args[1] + i * MMSGHDR_SIZE);
    if (ret > MMSG_INSPECTED)
        stat_add(GH_STAT_FDS_UNINSPECTED, ret - MMSG_INSPECTED);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(gh_sys_exit, struct pt_regs *regs, long ret)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct inflight *slot = bpf_task_storage_get(&inflight, task, 0, 0);
    if (!slot || !slot->active || slot->gen != current_gen())
        return 0;
    slot->active = 0;
    struct inflight in = *slot;
    int family = gh_family(in.nr);
    struct gh_layout l = { .da = AT_FDCWD, .db = AT_FDCWD };
    int named = gh_layout(&in, &l);
    switch (family) {
    case GH_FAM_OPEN:
    case GH_FAM_FD_META: /* a metadata change by descriptor is reported like an open */
        if (ret >= 0) {
            on_open(task, &in, ret, family, &l);
            return 0;
        }
        break;
    case GH_FAM_PATH_OR_FD: /* utimensat(fd, NULL, ...) is futimens */
        if (ret >= 0 && !l.pa) {
            on_open(task, &in, ret, family, &l);
            return 0;
        }
        break;
    case GH_FAM_EXEC:
        if (ret >= 0)
            return 0; /* a successful exec is reported by gh_exec */
        break;
    case GH_FAM_NET:
        on_socket_syscall(task, &in, ret);
        return 0;
    case GH_FAM_RECV:
        if (ret >= 0)
            on_received(&in, ret);
        return 0;
    }
    on_pathop(task, &in, ret, family, &l, named);
    return 0;
}
