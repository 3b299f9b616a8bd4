/* uring CREATE UNLINK PORT: through io_uring only, one operation at a time:
 *   IORING_OP_OPENAT   creates CREATE (O_CREAT|O_WRONLY|O_EXCL), then the fd is closed by close(2)
 *   IORING_OP_UNLINKAT removes UNLINK (an existing file)
 *   IORING_OP_CONNECT  a TCP connect to 127.0.0.1:PORT, where nothing listens: -ECONNREFUSED */
#include "uring_tester.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    struct io_uring ring;
    ring_init(&ring);

    io_uring_prep_openat(io_uring_get_sqe(&ring), AT_FDCWD, argv[1], O_CREAT | O_WRONLY | O_EXCL,
                         0644);
    int fd = submit_wait(&ring, "submit openat");
    if (fd < 0) {
        errno = -fd;
        die("io_uring openat");
    }
    close(fd);

    io_uring_prep_unlinkat(io_uring_get_sqe(&ring), AT_FDCWD, argv[2], 0);
    int res = submit_wait(&ring, "submit unlinkat");
    if (res < 0) {
        errno = -res;
        die("io_uring unlinkat");
    }

    struct sockaddr_storage ss;
    socklen_t len = loopback_addr("127.0.0.1", argv[3], &ss);
    int sock = (int)MUST(socket(AF_INET, SOCK_STREAM, 0));
    io_uring_prep_connect(io_uring_get_sqe(&ring), sock, (struct sockaddr *)&ss, len);
    res = submit_wait(&ring, "submit connect");
    if (res != -ECONNREFUSED) {
        fprintf(stderr, "tester: io_uring connect returned %d, -ECONNREFUSED expected\n", res);
        return 1;
    }
    close(sock);
    io_uring_queue_exit(&ring);
    return 0;
}
