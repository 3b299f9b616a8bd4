/* uring_direct READ CREATE: through io_uring only, opens into the ring's table of
 * fixed files (no descriptor of the process is made):
 *   IORING_OP_OPENAT of READ (O_RDONLY) into slot 0,
 *   IORING_OP_OPENAT of CREATE (O_CREAT|O_WRONLY|O_EXCL) into slot 1. */
#include "uring_tester.h"

static void open_direct(struct io_uring *ring, const char *path, int flags, unsigned slot)
{
    io_uring_prep_openat_direct(io_uring_get_sqe(ring), AT_FDCWD, path, flags, 0644, slot);
    int res = submit_wait(ring, "submit openat");
    if (res != 0) {
        errno = res < 0 ? -res : 0;
        die("io_uring openat into a fixed-file slot");
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct io_uring ring;
    ring_init(&ring);
    int rc = io_uring_register_files_sparse(&ring, 4);
    if (rc < 0) {
        errno = -rc;
        die("io_uring_register_files_sparse");
    }
    open_direct(&ring, argv[1], O_RDONLY, 0);
    open_direct(&ring, argv[2], O_CREAT | O_WRONLY | O_EXCL, 1);
    io_uring_queue_exit(&ring);
    return 0;
}
