/* uring_send PORT_A PORT_B: through io_uring only, on two UDP sockets:
 *   IORING_OP_SEND with a destination (sendto style, sqe->addr2): "hello" to [::1]:PORT_A from an
 *   unconnected IPv6 socket;
 *   IORING_OP_SEND without one: "hello" on a socket that connect(2) pointed at 127.0.0.1:PORT_B.
 * Both datagrams go to loopback ports where nothing needs to listen. */
#include "uring_tester.h"

static void send_one(struct io_uring *ring, int fd, const struct sockaddr_storage *dst, socklen_t len)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_send(sqe, fd, "hello", 5, 0);
    if (dst)
        io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)dst, (__u16)len);
    int res = submit_wait(ring, "submit send");
    if (res != 5) {
        fprintf(stderr, "tester: io_uring send returned %d, 5 expected\n", res);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct io_uring ring;
    ring_init(&ring);
    struct sockaddr_storage a, b;
    socklen_t a_len = loopback_addr("::1", argv[1], &a);
    socklen_t b_len = loopback_addr("127.0.0.1", argv[2], &b);

    int unconnected = (int)MUST(socket(AF_INET6, SOCK_DGRAM, 0));
    send_one(&ring, unconnected, &a, a_len);

    int connected = (int)MUST(socket(AF_INET, SOCK_DGRAM, 0));
    MUST(connect(connected, (const struct sockaddr *)&b, b_len));
    send_one(&ring, connected, NULL, 0);

    close(unconnected);
    close(connected);
    io_uring_queue_exit(&ring);
    return 0;
}
