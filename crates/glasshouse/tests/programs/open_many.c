/* open_many DIR COUNT: opens DIR/f00000 .. DIR/f<COUNT-1> for reading, one at a time. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int count = atoi(argv[2]);
    char path[4200];
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof(path), "%s/f%05d", argv[1], i);
        openat_close(AT_FDCWD, path, O_RDONLY);
    }
    return 0;
}
