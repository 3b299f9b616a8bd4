/* unix_connect PATH NAME: connects a SOCK_STREAM unix socket to the filesystem socket PATH (a
 * listener must be there), then another one to the abstract name "\0NAME" (nothing may listen
 * there: ECONNREFUSED expected). The abstract address is passed with its exact length. */
#include "tester.h"
#include <stddef.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof(a.sun_path))
        fail("socket path too long");
    strcpy(a.sun_path, argv[1]);
    int fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(connect(fd, (struct sockaddr *)&a, sizeof(a)));
    close(fd);

    struct sockaddr_un b;
    memset(&b, 0, sizeof(b));
    b.sun_family = AF_UNIX;
    size_t n = strlen(argv[2]);
    if (n + 1 > sizeof(b.sun_path))
        fail("abstract name too long");
    memcpy(b.sun_path + 1, argv[2], n);
    socklen_t blen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    if (connect(fd, (struct sockaddr *)&b, blen) == 0)
        fail("abstract connect succeeded, ECONNREFUSED expected");
    if (errno != ECONNREFUSED)
        die("abstract connect (ECONNREFUSED expected)");
    close(fd);
    return 0;
}
