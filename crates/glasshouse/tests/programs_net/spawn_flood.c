/* spawn_flood COUNT: COUNT times, fork(2) a child that execs /bin/true with argv
 * ["true", "flood"], and wait for it before starting the next one. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    long count = atol(argv[1]);
    for (long i = 0; i < count; i++) {
        pid_t pid = (pid_t)MUST(fork());
        if (pid == 0) {
            execl("/bin/true", "true", "flood", (char *)NULL);
            _exit(127);
        }
        wait_ok(pid);
    }
    return 0;
}
