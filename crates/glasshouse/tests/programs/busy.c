/* busy MARKER READY: opens and closes MARKER in a loop forever; creates READY after the
 * first round. Meant to run outside glasshouse and be killed by the test. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    openat_close(AT_FDCWD, argv[1], O_RDONLY);
    openat_close(AT_FDCWD, argv[2], O_WRONLY | O_CREAT);
    for (;;) {
        openat_close(AT_FDCWD, argv[1], O_RDONLY);
        usleep(100);
    }
}
