/* uring_xattr PATH: through io_uring only (liburing), IORING_OP_SETXATTR of "user.glasshouse" on
 * PATH by its path. Prints "set" when it succeeded, "unsupported" when the file system has no
 * user attributes (the operation then fails with EOPNOTSUPP). */
#include "tester.h"
#include <liburing.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        errno = -rc;
        die("io_uring_queue_init");
    }
    io_uring_prep_setxattr(io_uring_get_sqe(&ring), "user.glasshouse", "1", argv[1], 0, 1);
    if (io_uring_submit(&ring) != 1)
        fail("io_uring_submit");
    struct io_uring_cqe *cqe;
    rc = io_uring_wait_cqe(&ring, &cqe);
    if (rc < 0) {
        errno = -rc;
        die("io_uring_wait_cqe");
    }
    int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    io_uring_queue_exit(&ring);
    if (res == -EOPNOTSUPP) {
        puts("unsupported");
        return 0;
    }
    if (res < 0) {
        errno = -res;
        die("io_uring setxattr");
    }
    puts("set");
    return 0;
}
