/* pathops DIR: in DIR (the cwd after chdir), with raw system calls:
 *   unlink("f")  unlinkat(dfd, "f2", 0)  rmdir("d")  unlinkat(dfd, "d2", AT_REMOVEDIR)
 *   rename("a", "b")  renameat2(AT_FDCWD, "c", dfd, "e", 0)  open("x/../g", O_RDONLY)
 * where dfd is an O_PATH dirfd of DIR. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int dfd = (int)MUST(open(argv[1], O_PATH | O_DIRECTORY));
    MUST(chdir(argv[1]));
    MUST(syscall(SYS_unlink, "f"));
    MUST(syscall(SYS_unlinkat, dfd, "f2", 0));
    MUST(syscall(SYS_rmdir, "d"));
    MUST(syscall(SYS_unlinkat, dfd, "d2", AT_REMOVEDIR));
    MUST(syscall(SYS_rename, "a", "b"));
    MUST(syscall(SYS_renameat2, AT_FDCWD, "c", dfd, "e", 0));
    open_close_legacy("x/../g", O_RDONLY);
    return 0;
}
