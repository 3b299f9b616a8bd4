/* uring_xattr PATH: through io_uring only, IORING_OP_SETXATTR of "user.glasshouse" on
 * PATH by its path. Prints "set" when it succeeded, "unsupported" when the file system has no
 * user attributes (the operation then fails with EOPNOTSUPP). */
#include "uring_tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct io_uring ring;
    ring_init(&ring);
    io_uring_prep_setxattr(io_uring_get_sqe(&ring), "user.glasshouse", "1", argv[1], 0, 1);
    int res = submit_wait(&ring, "submit setxattr");
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
