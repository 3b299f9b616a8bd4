/* unix_bind DIR NAME: after chdir(DIR), binds a unix socket to the relative path "sock" (which
 * makes the file DIR/sock), another to the abstract name "\0NAME" (no file), and a UDP socket to
 * 127.0.0.1 port 0 (no file). */
#include "tester.h"
#include <stddef.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    MUST(chdir(argv[1]));
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "sock");
    int fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(bind(fd, (struct sockaddr *)&a, sizeof(a)));

    struct sockaddr_un b;
    memset(&b, 0, sizeof(b));
    b.sun_family = AF_UNIX;
    size_t n = strlen(argv[2]);
    if (n + 1 > sizeof(b.sun_path))
        fail("abstract name too long");
    memcpy(b.sun_path + 1, argv[2], n);
    int fd2 = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(bind(fd2, (struct sockaddr *)&b, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)));

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
