/* Shared by the io_uring testers of this folder (they link liburing): set up a ring, and submit
 * the one prepared operation and wait for its result. */
#ifndef GH_URING_TESTER_H
#define GH_URING_TESTER_H

#include "tester.h"
#include <liburing.h>

/* An 8-entry ring; fails the tester when io_uring is not available. */
static inline void ring_init(struct io_uring *ring)
{
    int rc = io_uring_queue_init(8, ring, 0);
    if (rc < 0) {
        errno = -rc;
        die("io_uring_queue_init");
    }
}

/* Submits the one operation prepared on `ring` and returns its result (cqe->res). */
static inline int submit_wait(struct io_uring *ring, const char *what)
{
    if (io_uring_submit(ring) != 1)
        fail(what);
    struct io_uring_cqe *cqe;
    int rc = io_uring_wait_cqe(ring, &cqe);
    if (rc < 0) {
        errno = -rc;
        die("io_uring_wait_cqe");
    }
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

#endif
