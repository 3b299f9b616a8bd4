/* unlink_path PATH: unlink(PATH) with the raw system call. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    MUST(syscall(SYS_unlink, argv[1]));
    return 0;
}
