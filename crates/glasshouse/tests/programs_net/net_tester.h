/* Shared helpers of the network, io_uring and volume testers
 * (crates/glasshouse/tests/net_uring.rs). Every tester does one known thing, exits 0 when it did
 * exactly that, and prints why on stderr and exits 1 when a step failed, so the test can tell a
 * tester problem from a sensor bug. Testers only ever talk to loopback addresses given on their
 * command line. */
#ifndef GH_NET_TESTER_H
#define GH_NET_TESTER_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void die(const char *what)
{
    fprintf(stderr, "tester: %s: %s\n", what, strerror(errno));
    exit(1);
}

static inline void fail(const char *why)
{
    fprintf(stderr, "tester: %s\n", why);
    exit(1);
}

/* A call that must succeed; returns its result. */
#define MUST(call)                                                                               \
    ({                                                                                           \
        long must_rc_ = (long)(call);                                                            \
        if (must_rc_ < 0)                                                                        \
            die(#call);                                                                          \
        must_rc_;                                                                                \
    })

/* Fills `ss` with IP:PORT (IPv4 or IPv6 literal) and returns the address length. Only loopback
 * addresses are accepted: the testers never send anything off the machine. */
static inline socklen_t loopback_addr(const char *ip, const char *port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    long p = strtol(port, NULL, 10);
    if (p <= 0 || p > 65535)
        fail("bad port");
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
            fail("not a loopback address");
        in4->sin_family = AF_INET;
        in4->sin_port = htons((unsigned short)p);
        return sizeof(*in4);
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            fail("not a loopback address");
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)p);
        return sizeof(*in6);
    }
    fail("not an IP address");
    return 0;
}

/* Waits for `pid` and fails unless it exited with 0. */
static inline void wait_ok(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "tester: child %d ended with status 0x%x\n", (int)pid, status);
        exit(1);
    }
}

#endif
