/* Shared helpers of the C tester programs of the glasshouse integration tests: the sensor
 * testers in this folder (crates/glasshouse/tests/sensor.rs) and the network, io_uring and
 * volume testers in ../programs_net (crates/glasshouse/tests/net_uring.rs), which find this
 * header through the `-I tests/programs` flag the build helper passes.
 *
 * Every tester does one known thing, exits 0 when it did exactly that, and prints why on stderr
 * and exits 1 when a step failed, so the test can tell a tester problem from a sensor bug.
 * Testers only ever talk to loopback addresses given on their command line. */
#ifndef GH_TESTER_H
#define GH_TESTER_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fails with `what` and the current errno. */
static inline void die(const char *what)
{
    fprintf(stderr, "tester: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Fails with `why` (no errno involved). */
static inline void fail(const char *why)
{
    fprintf(stderr, "tester: %s\n", why);
    exit(1);
}

/* A call (often a raw system call) that must succeed; returns its result. */
#define MUST(call)                                                                               \
    ({                                                                                           \
        long must_rc_ = (long)(call);                                                            \
        if (must_rc_ < 0)                                                                        \
            die(#call);                                                                          \
        must_rc_;                                                                                \
    })

/* Opens `path` with `flags` through the raw open(2) (not glibc's openat) and closes it. */
static inline void open_close_legacy(const char *path, int flags)
{
    int fd = (int)MUST(syscall(SYS_open, path, flags, 0644));
    close(fd);
}

/* Opens `path` relative to `dfd` with openat(2) and closes it. */
static inline void openat_close(int dfd, const char *path, int flags)
{
    int fd = (int)MUST(syscall(SYS_openat, dfd, path, flags, 0644));
    close(fd);
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

/* Waits (at most `seconds`) until `path` exists. */
static inline void wait_for_file(const char *path, int seconds)
{
    struct stat st;
    for (int i = 0; i < seconds * 100; i++) {
        if (stat(path, &st) == 0)
            return;
        usleep(10000);
    }
    fprintf(stderr, "tester: %s did not appear within %d s\n", path, seconds);
    exit(1);
}

/* Fills `sun` with the unix socket address `name`: a file path, or with `abstract` set the
 * abstract name "\0name"; returns the address length (an abstract name's exact length). */
static inline socklen_t unix_addr(const char *name, int abstract, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n + 1 > sizeof(sun->sun_path))
        fail("unix socket name too long");
    memcpy(sun->sun_path + (abstract ? 1 : 0), name, n);
    if (!abstract)
        return sizeof(*sun);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

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

#endif
