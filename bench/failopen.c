/* bench/failopen.c: N failed opens of N distinct nonexistent paths DIR/nx-<i> (bench/overhead.sh,
 * part 5). Every failure is a distinct event for the sensor: nothing is deduplicated in the kernel.
 * usage: failopen N DIR   -- exits 1 if an open unexpectedly succeeds. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s N DIR\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    char path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/nx-%ld", argv[2], i);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            fprintf(stderr, "%s exists\n", path);
            close(fd);
            return 1;
        }
    }
    return 0;
}
