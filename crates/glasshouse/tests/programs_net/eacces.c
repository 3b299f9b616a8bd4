/* eacces PATH: drops every privilege (groups, gid and uid 65534), then openat(AT_FDCWD, PATH,
 * O_RDONLY) through the raw system call, which must fail with EACCES (PATH is a root-owned
 * 0600 file the test made). */
#include "tester.h"
#include <grp.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    MUST(setgroups(0, NULL));
    MUST(setgid(65534));
    MUST(setuid(65534));
    if (getuid() != 65534 || geteuid() != 65534)
        fail("still privileged");
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY);
    if (fd >= 0)
        fail("the open succeeded, EACCES expected");
    if (errno != EACCES)
        die("openat (EACCES expected)");
    return 0;
}
