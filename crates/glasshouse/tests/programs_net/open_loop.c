/* open_loop DIR COUNT DISTINCT: COUNT times, openat(2) DIR/f<i % DISTINCT> for reading and
 * close(2) it, both through the raw system calls (so each is exactly one openat and one close). */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    long count = atol(argv[2]);
    long distinct = atol(argv[3]);
    if (count <= 0 || distinct <= 0)
        return 2;
    int dfd = (int)MUST(open(argv[1], O_RDONLY | O_DIRECTORY | O_PATH));
    char name[32];
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof(name), "f%ld", i % distinct);
        long fd = MUST(syscall(SYS_openat, dfd, name, O_RDONLY));
        MUST(syscall(SYS_close, fd));
    }
    return 0;
}
