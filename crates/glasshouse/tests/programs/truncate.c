/* truncate DIR: in DIR, truncate("t1", 0), open("t2", O_WRONLY|O_TRUNC) and
 * open("t3", O_RDWR), with raw system calls. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    MUST(chdir(argv[1]));
    MUST(syscall(SYS_truncate, "t1", 0L));
    open_close_legacy("t2", O_WRONLY | O_TRUNC);
    openat_close(AT_FDCWD, "t3", O_RDWR);
    return 0;
}
