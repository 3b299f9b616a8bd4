/* thread_files DIR: four threads each read DIR/tN (N = 0..3); thread 0 starts a thread of its
 * own that creates and writes DIR/nested; thread 3 deletes DIR/gone. The main thread only waits,
 * so everything recorded under DIR was done by threads other than the group leader. */
#include "tester.h"
#include <pthread.h>

static const char *dir;

static void at(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void *nested(void *unused)
{
    (void)unused;
    char path[4096];
    at(path, sizeof(path), "nested");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1)
        die("write nested");
    close(fd);
    return NULL;
}

static void *reader(void *arg)
{
    long n = (long)arg;
    char name[8], path[4096];
    snprintf(name, sizeof(name), "t%ld", n);
    at(path, sizeof(path), name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open tN");
    close(fd);
    if (n == 0) {
        pthread_t t;
        if ((errno = pthread_create(&t, NULL, nested, NULL)) != 0)
            die("pthread_create nested");
        pthread_join(t, NULL);
    }
    if (n == 3) {
        at(path, sizeof(path), "gone");
        if (unlink(path))
            die("unlink gone");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        fail("usage: thread_files DIR");
    dir = argv[1];
    pthread_t t[4];
    for (long n = 0; n < 4; n++)
        if ((errno = pthread_create(&t[n], NULL, reader, (void *)n)) != 0)
            die("pthread_create");
    for (int n = 0; n < 4; n++)
        pthread_join(t[n], NULL);
    return 0;
}
