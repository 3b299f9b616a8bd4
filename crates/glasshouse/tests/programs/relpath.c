/* relpath DIR: chdir(DIR), then open the relative paths "sub/a" (legacy open) and "sub/b"
 * (openat with AT_FDCWD) for reading. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    MUST(chdir(argv[1]));
    open_close_legacy("sub/a", O_RDONLY);
    openat_close(AT_FDCWD, "sub/b", O_RDONLY);
    return 0;
}
