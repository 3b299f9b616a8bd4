/* daemon PIDFILE SECONDS: double fork. The child forks again and exits 0; the grandchild
 * calls setsid(), detaches its stdio, writes its pid to PIDFILE (tmp + rename) and sleeps
 * SECONDS. The root waits for the child and for PIDFILE, then exits 7. */
#include "tester.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    const char *pidfile = argv[1];
    int seconds = atoi(argv[2]);
    pid_t child = (pid_t)MUST(fork());
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild < 0)
            _exit(1);
        if (grandchild == 0) {
            setsid();
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                close(null);
            }
            char tmp[4200], text[32];
            snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
            int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                _exit(1);
            int len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
            if (write(fd, text, (size_t)len) != len)
                _exit(1);
            close(fd);
            if (rename(tmp, pidfile) != 0)
                _exit(1);
            struct timespec ts = { .tv_sec = seconds, .tv_nsec = 0 };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            _exit(0);
        }
        _exit(0);
    }
    wait_ok(child);
    wait_for_file(pidfile, 30);
    return 7;
}
