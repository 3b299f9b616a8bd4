/* memfd: copy /bin/true into memfd_create("gh-memfd") and fexecve it as
 * ["gh-memfd-true", "from-memfd"]: this process's image becomes the memfd. */
#include "tester.h"
#include <sys/mman.h>

extern char **environ;

int main(void)
{
    int mfd = (int)MUST(memfd_create("gh-memfd", MFD_CLOEXEC));
    int src = (int)MUST(open("/bin/true", O_RDONLY | O_CLOEXEC));
    char buf[65536];
    for (;;) {
        ssize_t n = read(src, buf, sizeof(buf));
        if (n < 0)
            die("read /bin/true");
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(mfd, buf + off, (size_t)(n - off));
            if (w < 0)
                die("write memfd");
            off += w;
        }
    }
    close(src);
    char *args[] = { "gh-memfd-true", "from-memfd", NULL };
    fexecve(mfd, args, environ);
    die("fexecve");
}
