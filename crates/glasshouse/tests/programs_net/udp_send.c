/* udp_send IP PORT REPEAT [fork]: sends the 5-byte datagram "hello" REPEAT times with sendto(2)
 * on one unconnected UDP socket (no connect). With "fork", a child does the same first, so two
 * processes of the tree send to the same destination. */
#include "tester.h"

static void send_all(const struct sockaddr_storage *ss, socklen_t len, int family, int repeat)
{
    int fd = (int)MUST(socket(family, SOCK_DGRAM, 0));
    for (int i = 0; i < repeat; i++) {
        if (MUST(sendto(fd, "hello", 5, 0, (const struct sockaddr *)ss, len)) != 5)
            fail("short datagram");
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        return 2;
    struct sockaddr_storage ss;
    socklen_t len = loopback_addr(argv[1], argv[2], &ss);
    int repeat = atoi(argv[3]);
    if (argc == 5) {
        if (strcmp(argv[4], "fork"))
            return 2;
        pid_t pid = (pid_t)MUST(fork());
        if (pid == 0) {
            send_all(&ss, len, ss.ss_family, repeat);
            _exit(0);
        }
        wait_ok(pid);
    }
    send_all(&ss, len, ss.ss_family, repeat);
    return 0;
}
