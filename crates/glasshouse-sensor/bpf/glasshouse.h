/* Layouts shared by the BPF programs (glasshouse.bpf.c) and the Rust decoder (src/event.rs).
 * Every field has a fixed size and offset; change both sides together. */
#ifndef GLASSHOUSE_H
#define GLASSHOUSE_H

/* Event kinds. */
#define GH_EV_FORK 1    /* a new process of the tree: aux = parent tgid, extra = its pid in its own pid
                           namespace, s0 = cwd */
#define GH_EV_EXEC 2    /* s0 = exe, s1 = cwd, s2 = argv (NUL-separated), s3 = filename as passed,
                           extra = the pid in its own pid namespace */
#define GH_EV_EXIT 3    /* the last thread of a process exited: ret = wait status */
#define GH_EV_OPEN 4    /* an open succeeded: s0 = resolved path, extra = GH_ACC_* bits, aux = nr */
#define GH_EV_PATHOP 5  /* a path syscall ended: aux = nr, ret = result; s0/s1 = base/raw of path A,
                         * s2/s3 = base/raw of path B (base is empty when raw is absolute) */
#define GH_EV_NET 6     /* a socket call named a destination: aux = nr, ret = result, sock = GH_SOCK,
                         * s0 = the sockaddr as passed; extra = struct sock pointer when a TCP
                         * connect is still in progress */
#define GH_EV_NET_DONE 7 /* an in-progress TCP connect finished: extra = struct sock pointer,
                          * ret = 0 or -errno */
#define GH_EV_URING_SUBMIT 8 /* an io_uring operation that names a path or address was submitted:
                              * aux = opcode, extra = request id; strings as GH_EV_PATHOP, or s0 =
                              * sockaddr for CONNECT/SENDMSG */
#define GH_EV_URING_DONE 9   /* it completed: aux = opcode, extra = request id, ret = cqe res,
                              * sock = GH_SOCK of the request's file */
#define GH_EV_FD 10          /* a descriptor the tree did not open: aux = fd, s0 = resolved path,
                              * extra = GH_ACC_* bits, sock = GH_FD_* (how it arrived) */

/* The `ret` of a TCP connect that ended without an outcome (closed while in progress). */
#define GH_NET_UNDECIDED 1

/* io_uring operations are reported in GH_EV_OPEN with aux = GH_URING_NR_BASE + opcode. */
#define GH_URING_NR_BASE 1000

/* GH_SOCK(family, type, protocol) packs a socket's identity into the header's `sock`. */
#define GH_SOCK(family, type, protocol) (((family) << 16) | (((type) & 0xff) << 8) | ((protocol) & 0xff))

/* How the descriptor of GH_EV_FD arrived. */
#define GH_FD_INHERITED 1 /* the command had it when it started: its caller opened it */
#define GH_FD_RECEIVED 2  /* received over a unix socket (SCM_RIGHTS) */
#define GH_INHERITED_FDS 16 /* the command's descriptors looked at, from 0 */
#define GH_RECEIVED_FDS 8   /* descriptors of one recvmsg looked at */

/* Access bits of GH_EV_OPEN. */
#define GH_ACC_READ 1
#define GH_ACC_WRITE 2
#define GH_ACC_CREATE 4
#define GH_ACC_TRUNC 8

/* Flags: bit i (i < 4) = string i was truncated; bit 4+i = string i is a path outside any
 * mount namespace (memfd, pipe, ...); bit 8+i = string i names an unlinked file. */
#define GH_FLAG_TRUNCATED(i) (1u << (i))
#define GH_FLAG_DETACHED(i) (1u << (4 + (i)))
#define GH_FLAG_UNLINKED(i) (1u << (8 + (i)))
/* An io_uring open into the ring's table of fixed files: no descriptor to resolve at completion. */
#define GH_FLAG_URING_DIRECT (1u << 12)

/* Hooks, for per-hook loss counters. */
#define GH_HOOK_FORK 0
#define GH_HOOK_EXEC 1
#define GH_HOOK_EXIT 2
#define GH_HOOK_SYS_ENTER 3
#define GH_HOOK_SYS_EXIT 4
#define GH_HOOK_IO_URING 5
#define GH_HOOK_NET 6
#define GH_HOOK_COUNT 8

/* Counters in the `stats` array besides losses. */
#define GH_STAT_LOST_BASE 0           /* [0, GH_HOOK_COUNT): events lost per hook */
#define GH_STAT_TRACK_FULL 8          /* a new process or thread could not be tracked */
#define GH_STAT_BYTES_SENT 9          /* bytes sent on inet sockets */
#define GH_STAT_BYTES_RECEIVED 10     /* bytes received on inet sockets */
#define GH_STAT_URING_PENDING_FULL 11 /* an io_uring request could not be followed (map full) */
#define GH_STAT_MMSG_UNINSPECTED 12   /* sendmmsg messages past the first 8, whose destinations
                                       * were not read */
#define GH_STAT_FDS_UNINSPECTED 13    /* received messages whose descriptors (SCM_RIGHTS) were
                                       * not all looked at */
#define GH_STAT_COUNT 16
#define GH_URING_OPS 64

#define GH_MAX_SYSCALLS 512
#define GH_PATH_MAX 4096
#define GH_ARGV_MAX 8192
#define GH_STRINGS 4

struct gh_event_header {
    unsigned int kind;
    unsigned int tgid;
    unsigned int pid;
    unsigned int aux;
    long long ret;
    unsigned long long extra;
    unsigned int flags;
    unsigned short len[GH_STRINGS];
    unsigned int sock;
};  /* 48 bytes, followed by the strings back to back (no NULs) */

struct gh_process {
    unsigned int ppid;
    unsigned int pad;
};

#endif
