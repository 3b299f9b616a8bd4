/* Shared helpers of the sensor ground-truth testers (crates/glasshouse/tests/sensor.rs).
 * Every tester does one known thing, exits 0 when it did it, and prints why on stderr and
 * exits 1 when a step failed, so the test can tell a tester bug from a sensor bug. */
#ifndef GH_TESTER_H
#define GH_TESTER_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void die(const char *what)
{
    fprintf(stderr, "tester: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A raw system call that must succeed; returns its result. */
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

#endif
