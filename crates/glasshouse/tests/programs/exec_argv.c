/* exec_argv MODE: a child execs /bin/true with a known argv:
 *   nonutf8: ["true", "a\xffb", "plain"]
 *   long:    ["true", 4000 x 'a', 4000 x 'b', 4000 x 'c'] (more than 8192 bytes) */
#include "tester.h"

extern char **environ;

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    static char a[4001], b[4001], c[4001];
    char *args[5] = { "true", NULL, NULL, NULL, NULL };
    if (strcmp(argv[1], "nonutf8") == 0) {
        args[1] = "a\xff" "b";
        args[2] = "plain";
    } else if (strcmp(argv[1], "long") == 0) {
        memset(a, 'a', 4000);
        memset(b, 'b', 4000);
        memset(c, 'c', 4000);
        args[1] = a;
        args[2] = b;
        args[3] = c;
    } else {
        return 2;
    }
    pid_t pid = (pid_t)MUST(fork());
    if (pid == 0) {
        execve("/bin/true", args, environ);
        _exit(127);
    }
    wait_ok(pid);
    return 0;
}
