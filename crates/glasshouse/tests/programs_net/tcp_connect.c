/* tcp_connect MODE IP PORT [N]: TCP connect(2) to a loopback address.
 *   refused   blocking connect that must fail with ECONNREFUSED (nothing listens on PORT)
 *   echo N    blocking connect, write N bytes, shut down writing, read back exactly N bytes
 *             (the peer echoes them) until end of file, and check them
 *   nonblock [N]
 *             N times (default 1), one after the other on a new socket each: a non-blocking
 *             connect that must return EINPROGRESS, then poll(2) for POLLOUT and check
 *             SO_ERROR == 0 (exits 3 if a connect completed at once, so the test knows the
 *             in-progress path was not exercised)
 *   nonblock-refused [N]
 *             the same to a port nothing listens on: EINPROGRESS, then SO_ERROR == ECONNREFUSED
 *             (exits 3 if a connect failed at once)
 *   nonblock-refused-then OPEN_PORT
 *             one nonblock-refused connect to PORT, its socket closed, then one blocking connect
 *             to OPEN_PORT on the same address (a listener must be there), closed too */
#include "tester.h"
#include <poll.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *mode = argv[1];
    struct sockaddr_storage ss;
    socklen_t len = loopback_addr(argv[2], argv[3], &ss);
    const struct sockaddr *sa = (const struct sockaddr *)&ss;

    if (!strcmp(mode, "refused")) {
        int fd = (int)MUST(socket(ss.ss_family, SOCK_STREAM, 0));
        if (connect(fd, sa, len) == 0)
            fail("connect succeeded, ECONNREFUSED expected");
        if (errno != ECONNREFUSED)
            die("connect (ECONNREFUSED expected)");
        close(fd);
        return 0;
    }

    if (!strcmp(mode, "echo")) {
        if (argc != 5)
            return 2;
        size_t n = (size_t)atol(argv[4]);
        char *out = malloc(n), *in = malloc(n + 1);
        if (!out || !in)
            die("malloc");
        for (size_t i = 0; i < n; i++)
            out[i] = (char)('a' + i % 26);
        int fd = (int)MUST(socket(ss.ss_family, SOCK_STREAM, 0));
        MUST(connect(fd, sa, len));
        for (size_t done = 0; done < n;)
            done += (size_t)MUST(write(fd, out + done, n - done));
        MUST(shutdown(fd, SHUT_WR));
        size_t got = 0;
        for (;;) {
            long r = MUST(read(fd, in + got, n + 1 - got));
            if (r == 0)
                break;
            got += (size_t)r;
            if (got > n)
                fail("the peer sent more than it was sent");
        }
        if (got != n || memcmp(in, out, n))
            fail("the echo differs from what was sent");
        close(fd);
        return 0;
    }

    int then = !strcmp(mode, "nonblock-refused-then");
    if (!strcmp(mode, "nonblock") || !strcmp(mode, "nonblock-refused") || then) {
        if (then && argc != 5)
            return 2;
        int want = strcmp(mode, "nonblock") ? ECONNREFUSED : 0;
        long n = argc > 4 ? atol(argv[4]) : 1;
        if (!strcmp(mode, "nonblock-refused-then"))
            n = 1;
        for (long i = 0; i < n; i++) {
            int fd = (int)MUST(socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0));
            if (connect(fd, sa, len) == 0 || errno == ECONNREFUSED) {
                fprintf(stderr, "tester: non-blocking connect ended at once\n");
                return 3;
            }
            if (errno != EINPROGRESS)
                die("connect (EINPROGRESS expected)");
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            if (MUST(poll(&p, 1, 30000)) != 1)
                fail("the connect did not finish within 30 s");
            int err = -1;
            socklen_t elen = sizeof(err);
            MUST(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen));
            if (err != want) {
                errno = err;
                die("SO_ERROR after the connect (not the expected outcome)");
            }
            close(fd);
        }
        if (then) {
            struct sockaddr_storage open_ss;
            socklen_t open_len = loopback_addr(argv[2], argv[4], &open_ss);
            int fd = (int)MUST(socket(open_ss.ss_family, SOCK_STREAM, 0));
            MUST(connect(fd, (const struct sockaddr *)&open_ss, open_len));
            close(fd);
        }
        return 0;
    }
    return 2;
}
