/* recv_fd SOCKET HOW EXPECTED...: connects to the unix socket SOCKET (SOCK_SEQPACKET), receives
 * one message with one descriptor (SCM_RIGHTS) per EXPECTED, reads each descriptor to its end
 * and exits 0 when what it read from the i-th is the i-th EXPECTED. HOW is the call that
 * receives: "recvmsg" (one call per message), "recvmmsg" (one call for all of them) or "uring"
 * (IORING_OP_RECVMSG, one per message). It opens no file: whoever sent the descriptors did. */
#include "../programs_net/uring_tester.h"
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MESSAGES 16

struct message {
    char byte;
    struct iovec iov;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
};

static void prepare(struct message *m, struct msghdr *msg)
{
    memset(m, 0, sizeof(*m));
    memset(msg, 0, sizeof(*msg));
    m->iov.iov_base = &m->byte;
    m->iov.iov_len = 1;
    msg->msg_iov = &m->iov;
    msg->msg_iovlen = 1;
    msg->msg_control = m->control.buf;
    msg->msg_controllen = sizeof(m->control.buf);
}

/* The descriptor the message carried, read to its end and compared with `expected`. */
static int check(struct msghdr *msg, const char *expected)
{
    struct cmsghdr *c = CMSG_FIRSTHDR(msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return 5;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    char got[256] = { 0 };
    ssize_t n = read(fd, got, sizeof(got) - 1);
    if (n < 0)
        return 6;
    return strcmp(got, expected) == 0 ? 0 : 7;
}

int main(int argc, char **argv)
{
    int count = argc - 3;
    if (count < 1 || count > MAX_MESSAGES)
        return 2;
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return 3;
    struct message m[MAX_MESSAGES];
    struct mmsghdr mm[MAX_MESSAGES];
    for (int i = 0; i < count; i++)
        prepare(&m[i], &mm[i].msg_hdr);
    if (strcmp(argv[2], "recvmmsg") == 0) {
        if (recvmmsg(s, mm, (unsigned)count, 0, NULL) != count)
            return 4;
    } else if (strcmp(argv[2], "recvmsg") == 0) {
        for (int i = 0; i < count; i++)
            if (recvmsg(s, &mm[i].msg_hdr, 0) != 1)
                return 4;
    } else if (strcmp(argv[2], "uring") == 0) {
        struct io_uring ring;
        ring_init(&ring);
        for (int i = 0; i < count; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            prep_rw(sqe, IORING_OP_RECVMSG, s, &mm[i].msg_hdr, 1, 0);
            if (submit_wait(&ring, "submit recvmsg") != 1)
                return 4;
        }
        io_uring_queue_exit(&ring);
    } else {
        return 2;
    }
    for (int i = 0; i < count; i++) {
        int rc = check(&mm[i].msg_hdr, argv[3 + i]);
        if (rc)
            return rc;
    }
    return 0;
}
