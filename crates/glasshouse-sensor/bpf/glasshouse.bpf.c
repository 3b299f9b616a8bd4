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

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_WRONLY 01
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_PATH 0x4000
#define FMODE_CREATED 0x100000

#define DATA_SIZE 32768
#define DATA_MASK (DATA_SIZE - 1)
#define PATH_MASK (GH_PATH_MAX - 1)
#define NAME_MASK 255
#define MAX_COMPONENTS 160

/* Set by the loader before load. */
const volatile __u32 cfg_capture_argv = 1;

struct scratch {
    struct gh_event_header h;
    char data[DATA_SIZE + GH_ARGV_MAX];
    char path[GH_PATH_MAX * 2];
};

struct inflight {
    __u64 args[6];
    __u32 nr;
    __u32 pad;
};

struct seen_key {
    __u32 tgid;
    __u32 access;
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

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* One scratch area per CPU; max_entries is set to the number of possible CPUs by the loader. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct inflight);
} inflight SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 131072);
    __type(key, struct seen_key);
    __type(value, __u8);
} seen SEC(".maps");

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

static __always_inline void stat_inc(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &idx);
    if (v)
        *v += 1;
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
    s->h.pad = 0;
}

static __always_inline int emit(struct scratch *s, __u32 off, __u32 hook)
{
    __u64 size = sizeof(struct gh_event_header) + (off & DATA_MASK);
    if (bpf_ringbuf_output(&events, &s->h, size, 0)) {
        stat_inc(GH_STAT_LOST_BASE + hook);
        return -1;
    }
    return 0;
}

/* aya 0.14 fails to relocate some members of struct mount and struct dentry (it poisons the
 * access), so those two types are read at the offsets of the vendored vmlinux.h, the kernel
 * this object is built for. The loader checks that the running kernel is that kernel's series. */
static __always_inline __u64 read_u64_at(const void *base, __u64 off)
{
    __u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const char *)base + off);
    return v;
}

static __always_inline __u32 read_u32_at(const void *base, __u64 off)
{
    __u32 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (const char *)base + off);
    return v;
}

#define FIXED_PTR(type, ptr, field) ((void *)read_u64_at(ptr, __builtin_offsetof(type, field)))
#define MOUNT_PTR(m, field) FIXED_PTR(struct mount, m, field)
#define DENTRY_PTR(d, field) FIXED_PTR(struct dentry, d, field)
#define VFSMOUNT_PTR(m, field) FIXED_PTR(struct vfsmount, m, field)

static __always_inline struct mount *real_mount(struct vfsmount *m)
{
    return (struct mount *)((char *)m - __builtin_offsetof(struct mount, mnt));
}

static __always_inline struct vfsmount *mount_vfs(struct mount *m)
{
    return (struct vfsmount *)((char *)m + __builtin_offsetof(struct mount, mnt));
}

struct walk {
    struct dentry *dentry;
    struct mount *mnt;
    struct dentry *mnt_root;
    int pos;
    int reached_root;
    int truncated;
};

/* One step of the dentry walk, run by bpf_loop: prepend one component, or cross one mount
 * point. Returns 1 when the walk is over. It must not use CO-RE reads: aya 0.14 does not
 * relocate bpf_loop callbacks. */
static long walk_step(__u64 index, void *data)
{
    struct walk *w = data;
    struct scratch *s = get_scratch();
    if (!s)
        return 1;
    if (w->dentry == w->mnt_root) {
        struct mount *parent = MOUNT_PTR(w->mnt, mnt_parent);
        if (parent == w->mnt || !parent) {
            w->reached_root = 1;
            return 1;
        }
        w->dentry = MOUNT_PTR(w->mnt, mnt_mountpoint);
        w->mnt = parent;
        w->mnt_root = VFSMOUNT_PTR(mount_vfs(parent), mnt_root);
        return 0;
    }
    struct dentry *parent = DENTRY_PTR(w->dentry, d_parent);
    if (parent == w->dentry || !parent) {
        w->reached_root = 1;
        return 1;
    }
    __u32 len = read_u32_at(w->dentry, __builtin_offsetof(struct dentry, d_name.len)) & NAME_MASK;
    const unsigned char *name = DENTRY_PTR(w->dentry, d_name.name);
    if ((int)len + 1 > w->pos) {
        w->truncated = 1;
        return 1;
    }
    w->pos -= len;
    bpf_probe_read_kernel(&s->path[w->pos & PATH_MASK], len, name);
    w->pos -= 1;
    s->path[w->pos & PATH_MASK] = '/';
    w->dentry = parent;
    return 0;
}

/* Appends the absolute path of (dentry, vfsmnt) to the event's data as string `idx`. */
static __always_inline __u32 append_path(struct scratch *s, __u32 off, struct dentry *dentry,
                                         struct vfsmount *vfsmnt, int idx)
{
    if (!dentry || !vfsmnt)
        return off;
    struct walk w = {
        .dentry = dentry,
        .mnt = real_mount(vfsmnt),
        .mnt_root = VFSMOUNT_PTR(vfsmnt, mnt_root),
        .pos = GH_PATH_MAX,
    };
    bpf_loop(MAX_COMPONENTS, walk_step, &w, 0);
    if (!w.reached_root)
        w.truncated = 1;
    if (w.pos == GH_PATH_MAX) {
        w.pos -= 1;
        s->path[w.pos & PATH_MASK] = '/';
    }
    struct mnt_namespace *ns = MOUNT_PTR(w.mnt, mnt_ns);
    if (!ns || (unsigned long)ns >= (unsigned long)-4095)
        s->h.flags |= GH_FLAG_DETACHED(idx);
    if (!DENTRY_PTR(dentry, d_hash.pprev) && DENTRY_PTR(dentry, d_parent) != dentry)
        s->h.flags |= GH_FLAG_UNLINKED(idx);
    if (w.truncated)
        s->h.flags |= GH_FLAG_TRUNCATED(idx);
    __u32 len = (GH_PATH_MAX - w.pos) & PATH_MASK;
    bpf_probe_read_kernel(&s->data[off & DATA_MASK], len, &s->path[w.pos & PATH_MASK]);
    s->h.len[idx & 3] = len;
    return off + len;
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

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
    if (fd < 0)
        return NULL;
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt)
        return NULL;
    unsigned int max = BPF_CORE_READ(fdt, max_fds);
    if ((unsigned long)fd >= max)
        return NULL;
    struct file **arr = BPF_CORE_READ(fdt, fd);
    struct file *f = NULL;
    bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
    return f;
}

/* Appends the directory a relative path starts from: the cwd, or the dirfd's file. */
static __always_inline __u32 append_base(struct scratch *s, __u32 off, struct task_struct *task,
                                         long dfd, int idx)
{
    if ((int)dfd == AT_FDCWD) {
        struct path pwd = BPF_CORE_READ(task, fs, pwd);
        return append_path(s, off, pwd.dentry, pwd.mnt, idx);
    }
    struct file *f = fd_file(task, dfd);
    if (!f)
        return off;
    struct path p = BPF_CORE_READ(f, f_path);
    return append_path(s, off, p.dentry, p.mnt, idx);
}

/* ---- process tree ---------------------------------------------------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gh_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 ptgid = BPF_CORE_READ(parent, tgid);
    if (!is_tracked(ptgid))
        return 0;
    __u32 ctgid = BPF_CORE_READ(child, tgid);
    if (ctgid == ptgid)
        return 0; /* a new thread: its tgid is already followed */
    struct gh_process proc = { .ppid = ptgid };
    if (bpf_map_update_elem(&tracked, &ctgid, &proc, BPF_ANY)) {
        stat_inc(GH_STAT_TRACK_FULL);
        return 0;
    }
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_FORK, ptgid, 0);
    s->h.tgid = ctgid;
    s->h.pid = BPF_CORE_READ(child, pid);
    struct path pwd = BPF_CORE_READ(child, fs, pwd);
    __u32 off = append_path(s, 0, pwd.dentry, pwd.mnt, 0);
    emit(s, off, GH_HOOK_FORK);
    return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gh_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 tgid = BPF_CORE_READ(task, tgid);
    if (!is_tracked(tgid))
        return 0;
    if (old_pid != BPF_CORE_READ(task, pid)) {
        /* exec from a non-leader thread: its in-flight syscall entry is keyed by the old tid */
        __u64 old_key = ((__u64)tgid << 32) | (__u32)old_pid;
        bpf_map_delete_elem(&inflight, &old_key);
    }
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_EXEC, 0, 0);
    struct path exe = BPF_CORE_READ(bprm, file, f_path);
    __u32 off = append_path(s, 0, exe.dentry, exe.mnt, 0);
    struct path pwd = BPF_CORE_READ(task, fs, pwd);
    off = append_path(s, off, pwd.dentry, pwd.mnt, 1);
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
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(gh_exit, struct task_struct *task, bool group_dead)
{
    __u32 tgid = BPF_CORE_READ(task, tgid);
    if (!is_tracked(tgid))
        return 0;
    __u64 key = ((__u64)tgid << 32) | (__u32)BPF_CORE_READ(task, pid);
    bpf_map_delete_elem(&inflight, &key);
    if (!group_dead)
        return 0;
    /* Forget the process before its pid can be reused. */
    bpf_map_delete_elem(&tracked, &tgid);
    struct scratch *s = get_scratch();
    if (!s)
        return 0;
    start_event(s, GH_EV_EXIT, 0, BPF_CORE_READ(task, exit_code));
    s->h.tgid = tgid;
    emit(s, 0, GH_HOOK_EXIT);
    return 0;
}

/* ---- system calls ---------------------------------------------------------------------- */

static __always_inline int is_interesting(long nr)
{
    switch (nr) {
    case 2: case 85: case 257: case 437: case 304:      /* open creat openat openat2 open_by_handle_at */
    case 87: case 263: case 84:                          /* unlink unlinkat rmdir */
    case 82: case 264: case 316:                         /* rename renameat renameat2 */
    case 86: case 265: case 88: case 266:                /* link linkat symlink symlinkat */
    case 76: case 83: case 258: case 133: case 259:      /* truncate mkdir mkdirat mknod mknodat */
    case 59: case 322:                                   /* execve execveat */
        return 1;
    }
    return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(gh_sys_enter, struct pt_regs *regs, long id)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    if (!is_tracked(tgid))
        return 0;
    __u32 nr = (__u32)id;
    if (nr < GH_MAX_SYSCALLS) {
        __u64 *count = bpf_map_lookup_elem(&syscall_counts, &nr);
        if (count)
            *count += 1;
    }
    if (!is_interesting(id))
        return 0;
    struct inflight in = {
        .args = {
            BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx),
            BPF_CORE_READ(regs, r10), BPF_CORE_READ(regs, r8), BPF_CORE_READ(regs, r9),
        },
        .nr = nr,
    };
    if (bpf_map_update_elem(&inflight, &pid_tgid, &in, BPF_ANY))
        stat_inc(GH_STAT_LOST_BASE + GH_HOOK_SYS_ENTER);
    return 0;
}

static __always_inline void on_open(struct task_struct *task, struct inflight *in, long ret)
{
    __u32 oflags;
    switch (in->nr) {
    case 2: oflags = in->args[1]; break;
    case 85: oflags = O_CREAT | O_WRONLY | O_TRUNC; break;
    case 257: oflags = in->args[2]; break;
    case 304: oflags = in->args[2]; break;
    default: { /* openat2: flags live in struct open_how */
        __u64 f = 0;
        bpf_probe_read_user(&f, sizeof(f), (void *)in->args[2]);
        oflags = f;
    }
    }
    struct file *f = fd_file(task, ret);
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
    struct path p = BPF_CORE_READ(f, f_path);
    struct seen_key key = {
        .tgid = BPF_CORE_READ(task, tgid),
        .access = access,
        .dentry = (__u64)p.dentry,
        .mnt = (__u64)p.mnt,
        .parent = (__u64)DENTRY_PTR(p.dentry, d_parent),
        .ino = BPF_CORE_READ((struct inode *)DENTRY_PTR(p.dentry, d_inode), i_ino),
        .name_hash = read_u64_at(p.dentry, __builtin_offsetof(struct dentry, d_name.hash_len)),
    };
    if (bpf_map_lookup_elem(&seen, &key))
        return;
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_OPEN, in->nr, ret);
    s->h.extra = access;
    __u32 off = append_path(s, 0, p.dentry, p.mnt, 0);
    if (!emit(s, off, GH_HOOK_SYS_EXIT)) {
        __u8 one = 1;
        bpf_map_update_elem(&seen, &key, &one, BPF_ANY);
    }
}

/* A path syscall ended (or an open failed): report the raw paths with the directories they
 * are relative to, resolved in the kernel. */
static __always_inline void on_pathop(struct task_struct *task, struct inflight *in, long ret)
{
    long da = AT_FDCWD, db = AT_FDCWD;
    const char *pa = NULL, *pb = NULL;
    switch (in->nr) {
    case 2: case 85: case 87: case 84: case 76: case 83: case 133: case 59:
        pa = (const char *)in->args[0];
        break;
    case 257: case 437: case 263: case 258: case 259: case 322:
        da = in->args[0];
        pa = (const char *)in->args[1];
        break;
    case 82:
        pa = (const char *)in->args[0];
        pb = (const char *)in->args[1];
        break;
    case 264: case 316:
        da = in->args[0];
        pa = (const char *)in->args[1];
        db = in->args[2];
        pb = (const char *)in->args[3];
        break;
    case 86: case 88:
        pb = (const char *)in->args[1];
        break;
    case 265:
        db = in->args[2];
        pb = (const char *)in->args[3];
        break;
    case 266:
        db = in->args[1];
        pb = (const char *)in->args[2];
        break;
    default:
        return;
    }
    struct scratch *s = get_scratch();
    if (!s)
        return;
    start_event(s, GH_EV_PATHOP, in->nr, ret);
    __u32 off = 0;
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

SEC("tp_btf/sys_exit")
int BPF_PROG(gh_sys_exit, struct pt_regs *regs, long ret)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct inflight *slot = bpf_map_lookup_elem(&inflight, &pid_tgid);
    if (!slot)
        return 0;
    struct inflight in = *slot;
    bpf_map_delete_elem(&inflight, &pid_tgid);
    struct task_struct *task = bpf_get_current_task_btf();
    switch (in.nr) {
    case 2: case 85: case 257: case 437: case 304:
        if (ret >= 0) {
            on_open(task, &in, ret);
            return 0;
        }
        break;
    case 59: case 322:
        if (ret >= 0)
            return 0; /* a successful exec is reported by gh_exec */
        break;
    }
    on_pathop(task, &in, ret);
    return 0;
}
