/* recv_fd SOCKET EXPECTED: connects to the unix socket SOCKET, receives one descriptor
 * (SCM_RIGHTS), reads it to its end and exits 0 when what it read is EXPECTED. It opens no file:
 * whoever sent the descriptor opened it. */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return 3;
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    if (recvmsg(s, &msg, 0) != 1)
        return 4;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return 5;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    char got[256] = { 0 };
    ssize_t n = read(fd, got, sizeof(got) - 1);
    if (n < 0)
        return 6;
    return strcmp(got, argv[2]) == 0 ? 0 : 7;
}
