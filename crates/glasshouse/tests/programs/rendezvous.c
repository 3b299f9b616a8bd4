/* rendezvous MARKER MY_READY OTHER_READY NAME: reads MARKER, creates MY_READY, waits until
 * OTHER_READY exists (so two runs overlap), reads MARKER again, then runs
 * /bin/true NAME in a child. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    openat_close(AT_FDCWD, argv[1], O_RDONLY);
    openat_close(AT_FDCWD, argv[2], O_WRONLY | O_CREAT);
    wait_for_file(argv[3], 60);
    openat_close(AT_FDCWD, argv[1], O_RDONLY);
    pid_t pid = (pid_t)MUST(fork());
    if (pid == 0) {
        execl("/bin/true", "true", argv[4], (char *)NULL);
        _exit(127);
    }
    wait_ok(pid);
    return 0;
}
