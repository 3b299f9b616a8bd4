/* execveat: two children run /bin/true through execveat(2) (322):
 *   1. relative to an O_PATH dirfd of /bin: execveat(dfd, "true", ["true", "via-dirfd"], 0)
 *   2. an O_PATH fd of /bin/true with AT_EMPTY_PATH: ["true", "via-empty-path"]
 * and the parent checks that both exited 0. */
#include "tester.h"

extern char **environ;

static pid_t run(int dfd, const char *path, const char *marker, int flags)
{
    pid_t pid = (pid_t)MUST(fork());
    if (pid == 0) {
        char *args[] = { "true", (char *)marker, NULL };
        syscall(322, dfd, path, args, environ, flags);
        perror("tester: execveat");
        _exit(127);
    }
    return pid;
}

int main(void)
{
    int dfd = (int)MUST(open("/bin", O_PATH | O_DIRECTORY));
    int fd = (int)MUST(open("/bin/true", O_PATH));
    wait_ok(run(dfd, "true", "via-dirfd", 0));
    wait_ok(run(fd, "", "via-empty-path", AT_EMPTY_PATH));
    return 0;
}
