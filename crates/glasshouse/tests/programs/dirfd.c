/* dirfd DIR: take an O_PATH dirfd of DIR, chdir("/") so the cwd is no help, then
 * openat(dfd, "f") and openat(dfd, "sub/g") for reading. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int dfd = (int)MUST(open(argv[1], O_PATH | O_DIRECTORY));
    MUST(chdir("/"));
    openat_close(dfd, "f", O_RDONLY);
    openat_close(dfd, "sub/g", O_RDONLY);
    return 0;
}
