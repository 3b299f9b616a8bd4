/* thread_exec: a second thread (not the group leader) calls
 * execv("/bin/echo", ["echo", "from-thread", "x"]) while the main thread waits for it. */
#include "tester.h"
#include <pthread.h>

static void *run(void *unused)
{
    (void)unused;
    char *args[] = { "echo", "from-thread", "x", NULL };
    execv("/bin/echo", args);
    die("execv /bin/echo");
    return NULL;
}

int main(void)
{
    pthread_t t;
    if ((errno = pthread_create(&t, NULL, run, NULL)) != 0)
        die("pthread_create");
    pthread_join(t, NULL);
    fprintf(stderr, "tester: the thread returned instead of exec'ing\n");
    return 1;
}
