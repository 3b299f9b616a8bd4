/* Shared by the io_uring testers of this folder: a ring set up and driven by the raw system calls
 * (io_uring_setup, io_uring_enter, io_uring_register, mmap of the rings), with the few
 * liburing-style helpers the testers use, so that building them needs only a C compiler and the
 * kernel's UAPI headers (linux/io_uring.h, from linux-libc-dev, which libc6-dev depends on), not
 * liburing. One operation is in flight at a time. */
#ifndef GH_URING_TESTER_H
#define GH_URING_TESTER_H

#include "tester.h"
#include <linux/io_uring.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct io_uring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_ring, *cq_ring;
    size_t sq_ring_len, cq_ring_len, sqes_len;
};

/* An 8-entry ring; fails the tester when io_uring is not available. */
static inline void ring_init(struct io_uring *ring)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    memset(ring, 0, sizeof *ring);
    ring->fd = (int)syscall(__NR_io_uring_setup, 8, &p);
    if (ring->fd < 0)
        die("io_uring_setup");
    ring->sq_ring_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    ring->cq_ring_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (ring->cq_ring_len > ring->sq_ring_len)
            ring->sq_ring_len = ring->cq_ring_len;
        ring->cq_ring_len = 0;
    }
    ring->sq_ring = mmap(NULL, ring->sq_ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         ring->fd, IORING_OFF_SQ_RING);
    if (ring->sq_ring == MAP_FAILED)
        die("mmap of the submission ring");
    ring->cq_ring = ring->sq_ring;
    if (ring->cq_ring_len) {
        ring->cq_ring = mmap(NULL, ring->cq_ring_len, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_CQ_RING);
        if (ring->cq_ring == MAP_FAILED)
            die("mmap of the completion ring");
    }
    ring->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      ring->fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED)
        die("mmap of the submission entries");
    char *sq = ring->sq_ring, *cq = ring->cq_ring;
    ring->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + p.sq_off.array);
    ring->cq_head = (unsigned *)(cq + p.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

/* The entry the next submission uses, zeroed. */
static inline struct io_uring_sqe *io_uring_get_sqe(struct io_uring *ring)
{
    unsigned index = *ring->sq_tail & *ring->sq_mask;
    struct io_uring_sqe *sqe = &ring->sqes[index];
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

/* Submits the one operation prepared on `ring`, waits for it and returns its result (cqe->res). */
static inline int submit_wait(struct io_uring *ring, const char *what)
{
    unsigned tail = *ring->sq_tail;
    ring->sq_array[tail & *ring->sq_mask] = tail & *ring->sq_mask;
    /* The entry must be visible to the kernel before the new tail is. */
    __atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
    long submitted = syscall(__NR_io_uring_enter, ring->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    if (submitted != 1)
        fail(what);
    unsigned head = *ring->cq_head;
    while (__atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE) == head) {
        if (syscall(__NR_io_uring_enter, ring->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
            errno != EINTR)
            die("io_uring_enter (wait)");
    }
    int res = ring->cqes[head & *ring->cq_mask].res;
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return res;
}

static inline void io_uring_queue_exit(struct io_uring *ring)
{
    munmap(ring->sqes, ring->sqes_len);
    if (ring->cq_ring_len)
        munmap(ring->cq_ring, ring->cq_ring_len);
    munmap(ring->sq_ring, ring->sq_ring_len);
    close(ring->fd);
}

/* A table of `nr` empty fixed-file slots; 0 or -errno, as liburing's function of that name. */
static inline int io_uring_register_files_sparse(struct io_uring *ring, unsigned nr)
{
    struct io_uring_rsrc_register reg;
    memset(&reg, 0, sizeof reg);
    reg.nr = nr;
    reg.flags = IORING_RSRC_REGISTER_SPARSE;
    long rc = syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_FILES2, &reg, sizeof reg);
    return rc < 0 ? -errno : 0;
}

/* The preparations below fill the fields as liburing's functions of the same names do. */
static inline void prep_rw(struct io_uring_sqe *sqe, int op, int fd, const void *addr,
                           unsigned len, uint64_t offset)
{
    sqe->opcode = (__u8)op;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)addr;
    sqe->len = len;
    sqe->off = offset;
}

static inline void io_uring_prep_openat(struct io_uring_sqe *sqe, int dfd, const char *path,
                                        int flags, mode_t mode)
{
    prep_rw(sqe, IORING_OP_OPENAT, dfd, path, mode, 0);
    sqe->open_flags = (__u32)flags;
}

/* Opens into fixed-file slot `slot` (the kernel's file_index is the slot + 1). */
static inline void io_uring_prep_openat_direct(struct io_uring_sqe *sqe, int dfd, const char *path,
                                               int flags, mode_t mode, unsigned slot)
{
    io_uring_prep_openat(sqe, dfd, path, flags, mode);
    sqe->file_index = slot + 1;
}

static inline void io_uring_prep_unlinkat(struct io_uring_sqe *sqe, int dfd, const char *path,
                                          int flags)
{
    prep_rw(sqe, IORING_OP_UNLINKAT, dfd, path, 0, 0);
    sqe->unlink_flags = (__u32)flags;
}

static inline void io_uring_prep_connect(struct io_uring_sqe *sqe, int fd,
                                         const struct sockaddr *addr, socklen_t len)
{
    prep_rw(sqe, IORING_OP_CONNECT, fd, addr, 0, len);
}

static inline void io_uring_prep_send(struct io_uring_sqe *sqe, int fd, const void *buf, size_t len,
                                      int flags)
{
    prep_rw(sqe, IORING_OP_SEND, fd, buf, (unsigned)len, 0);
    sqe->msg_flags = (__u32)flags;
}

/* A destination for IORING_OP_SEND, as sendto(2) has (sqe->addr2, sqe->addr_len). */
static inline void io_uring_prep_send_set_addr(struct io_uring_sqe *sqe, const struct sockaddr *dst,
                                               __u16 len)
{
    sqe->addr2 = (uint64_t)(uintptr_t)dst;
    sqe->addr_len = len;
}

static inline void io_uring_prep_setxattr(struct io_uring_sqe *sqe, const char *name,
                                          const char *value, const char *path, int flags,
                                          unsigned len)
{
    prep_rw(sqe, IORING_OP_SETXATTR, 0, name, len, (uint64_t)(uintptr_t)value);
    sqe->addr3 = (uint64_t)(uintptr_t)path;
    sqe->xattr_flags = (__u32)flags;
}

#endif
