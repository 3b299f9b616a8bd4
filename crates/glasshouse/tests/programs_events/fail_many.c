/* fail_many DIR COUNT: tries to open DIR/f00000 .. DIR/f<COUNT-1>, which must not exist: COUNT
 * distinct failed opens (ENOENT), as many entries of filesystem.failed and lines of the stream. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int count = atoi(argv[2]);
    char path[4200];
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof(path), "%s/f%05d", argv[1], i);
        if (syscall(SYS_openat, AT_FDCWD, path, O_RDONLY) >= 0 || errno != ENOENT)
            fail("an open did not fail with ENOENT");
    }
    return 0;
}
