/* unix_bind DIR NAME: after chdir(DIR), binds a unix socket to the relative path "sock" (which
 * makes the file DIR/sock), another to the abstract name "\0NAME" (no file), and a UDP socket to
 * 127.0.0.1 port 0 (no file). */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    MUST(chdir(argv[1]));
    struct sockaddr_un a;
    socklen_t alen = unix_addr("sock", 0, &a);
    int fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(bind(fd, (struct sockaddr *)&a, alen));

    struct sockaddr_un b;
    socklen_t blen = unix_addr(argv[2], 1, &b);
    int fd2 = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(bind(fd2, (struct sockaddr *)&b, blen));

    struct sockaddr_storage ss;
    socklen_t len = loopback_addr("127.0.0.1", "1", &ss);
    ((struct sockaddr_in *)&ss)->sin_port = 0;
    int fd3 = (int)MUST(socket(AF_INET, SOCK_DGRAM, 0));
    MUST(bind(fd3, (struct sockaddr *)&ss, len));
    close(fd);
    close(fd2);
    close(fd3);
    return 0;
}
