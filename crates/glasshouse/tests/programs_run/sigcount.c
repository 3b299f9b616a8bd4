/* sigcount READY: counts the SIGINTs it receives. Creates the file READY once its handler is in
 * place, waits for a first SIGINT (at most 20 s), then until a whole second passes without one,
 * prints "SIGINT N" and exits 0. It spins rather than sleeps, so each signal is handled the moment it
 * arrives and a second copy is counted instead of merging with a first one still pending. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t count;

static void on_int(int sig) {
    (void)sig;
    count++;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 3;
    close(fd);
    time_t start = time(NULL);
    while (count == 0 && time(NULL) - start < 20) {
    }
    struct timespec last, now;
    int seen = count;
    clock_gettime(CLOCK_MONOTONIC, &last);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (count != seen) {
            seen = count;
            last = now;
        } else if ((now.tv_sec - last.tv_sec) * 1000000000L + (now.tv_nsec - last.tv_nsec) >
                   1000000000L) {
            break;
        }
    }
    printf("SIGINT %d\n", (int)count);
    return 0;
}
