/* read_inherited: reads its stdin and its descriptor 3 to their ends, which it did not open (its
 * caller did), and exits 0 when both held something. */
#include <unistd.h>

static long drain(int fd)
{
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += n;
    return n < 0 ? -1 : total;
}

int main(void)
{
    return drain(0) > 0 && drain(3) > 0 ? 0 : 1;
}
