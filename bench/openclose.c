/* bench/openclose.c: open and close one file N times (the loop of bench/overhead.sh, parts 1-2).
 * usage: openclose N PATH [REPORT]   -- exits 1 if an open fails.
 * With REPORT, the loop also times itself in chunks of 10,000 iterations (N/10 when N < 100,000)
 * with CLOCK_MONOTONIC, read through the vDSO (no extra syscall), and writes "P10 MEDIAN" to
 * REPORT: the 10th percentile and the median of the chunks' ns per iteration. On a VM whose speed
 * drifts, the fast chunks show the cost of the loop itself better than the whole run's wall time. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 10000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s N PATH [REPORT]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    long cs = n >= 10 * CHUNK ? CHUNK : (n >= 10 ? n / 10 : 1);
    long nchunks = argc == 4 && n > 0 ? n / cs : 0;
    double *chunk = nchunks ? malloc(nchunks * sizeof *chunk) : NULL;
    double start = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            perror(argv[2]);
            return 1;
        }
        close(fd);
        if (chunk && (i + 1) % cs == 0 && (i + 1) / cs <= nchunks) {
            double t = now_ns();
            chunk[(i + 1) / cs - 1] = (t - start) / cs;
            start = t;
        }
    }
    if (chunk) {
        qsort(chunk, nchunks, sizeof *chunk, cmp);
        FILE *f = fopen(argv[3], "w");
        if (!f) {
            perror(argv[3]);
            return 1;
        }
        fprintf(f, "%.1f %.1f\n", chunk[nchunks / 10], chunk[nchunks / 2]);
        fclose(f);
    }
    return 0;
}
