/* openat2 DIR: with the raw openat2(2) (437) and an O_PATH dirfd of DIR, create "new"
 * (O_CREAT|O_WRONLY), then open "existing" for reading. */
#include "tester.h"
#include <stdint.h>

struct gh_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

static void openat2_close(int dfd, const char *path, uint64_t flags)
{
    struct gh_open_how how = { .flags = flags, .mode = (flags & O_CREAT) ? 0644 : 0, .resolve = 0 };
    int fd = (int)MUST(syscall(437, dfd, path, &how, sizeof(how)));
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int dfd = (int)MUST(open(argv[1], O_PATH | O_DIRECTORY));
    MUST(chdir("/"));
    openat2_close(dfd, "new", O_CREAT | O_WRONLY);
    openat2_close(dfd, "existing", O_RDONLY);
    return 0;
}
