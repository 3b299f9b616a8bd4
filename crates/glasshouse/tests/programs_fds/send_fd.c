/* send_fd SOCKET FILE...: listens on the unix socket SOCKET (SOCK_SEQPACKET) and, to the first
 * process that connects, sends each FILE opened for reading, one descriptor per message
 * (SCM_RIGHTS), in order. Runs outside glasshouse: the files are opened by someone other than
 * the traced command. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 1) < 0)
        return 3;
    int c = accept(s, NULL, NULL);
    if (c < 0)
        return 4;
    for (int f = 2; f < argc; f++) {
        int fd = open(argv[f], O_RDONLY);
        if (fd < 0)
            return 3;
        char byte = 'x';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } control;
        memset(&control, 0, sizeof(control));
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.buf,
            .msg_controllen = sizeof(control.buf),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
        if (sendmsg(c, &msg, 0) != 1)
            return 5;
        close(fd);
    }
    close(c);
    return 0;
}
