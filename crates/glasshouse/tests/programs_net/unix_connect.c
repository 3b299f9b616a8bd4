/* unix_connect PATH NAME: connects a SOCK_STREAM unix socket to the filesystem socket PATH (a
 * listener must be there), then another one to the abstract name "\0NAME" (nothing may listen
 * there: ECONNREFUSED expected). The abstract address is passed with its exact length. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct sockaddr_un a;
    socklen_t alen = unix_addr(argv[1], 0, &a);
    int fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    MUST(connect(fd, (struct sockaddr *)&a, alen));
    close(fd);

    struct sockaddr_un b;
    socklen_t blen = unix_addr(argv[2], 1, &b);
    fd = (int)MUST(socket(AF_UNIX, SOCK_STREAM, 0));
    if (connect(fd, (struct sockaddr *)&b, blen) == 0)
        fail("abstract connect succeeded, ECONNREFUSED expected");
    if (errno != ECONNREFUSED)
        die("abstract connect (ECONNREFUSED expected)");
    close(fd);
    return 0;
}
