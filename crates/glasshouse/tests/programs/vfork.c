/* vfork: vfork(), and the child execs /bin/true as ["true", "vfork-child"]. */
#include "tester.h"

int main(void)
{
    pid_t pid = vfork();
    if (pid < 0)
        die("vfork");
    if (pid == 0) {
        execl("/bin/true", "true", "vfork-child", (char *)NULL);
        _exit(127);
    }
    wait_ok(pid);
    return 0;
}
