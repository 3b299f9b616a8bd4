/* open_paths PATH...: opens each PATH for reading (openat, AT_FDCWD) and closes it. */
#include "tester.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        openat_close(AT_FDCWD, argv[i], O_RDONLY);
    return 0;
}
