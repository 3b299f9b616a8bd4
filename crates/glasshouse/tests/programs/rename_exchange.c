/* rename_exchange DIR: renameat2(DIR/a, DIR/b, RENAME_EXCHANGE) swaps the two files; both names
 * still exist afterwards. */
#include "tester.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s/a", argv[1]);
    snprintf(b, sizeof(b), "%s/b", argv[1]);
    MUST(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE));
    return 0;
}
