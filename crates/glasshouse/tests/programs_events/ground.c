/* ground DIR PROGRAM [ARGS...]: the ground truth of the event stream tests, one known thing of
 * each kind:
 *   reads DIR/in.txt, writes DIR/out.txt, deletes DIR/gone.txt (made by the test), fails to open
 *   DIR/missing.txt (ENOENT);
 *   connects over TCP to a loopback listener of its own (connected) and to a loopback port it
 *   holds bound but not listening (refused);
 *   forks a child that executes PROGRAM with ARGS, and waits for it;
 * then prints "ports LISTENING BOUND" on stdout. */
#include "tester.h"

/* A TCP socket bound to 127.0.0.1 on a port the kernel picks; its port in *port. */
static int bound_socket(int *port)
{
    int fd = (int)MUST(socket(AF_INET, SOCK_STREAM, 0));
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    MUST(bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
    socklen_t len = sizeof(sin);
    MUST(getsockname(fd, (struct sockaddr *)&sin, &len));
    *port = ntohs(sin.sin_port);
    return fd;
}

/* connect(2) to 127.0.0.1:port; returns 0 or the errno. */
static int connect_to(int port)
{
    int fd = (int)MUST(socket(AF_INET, SOCK_STREAM, 0));
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char path[4200];
    char buf[64];

    snprintf(path, sizeof(path), "%s/in.txt", argv[1]);
    int fd = (int)MUST(open(path, O_RDONLY));
    MUST(read(fd, buf, sizeof(buf)));
    close(fd);

    snprintf(path, sizeof(path), "%s/out.txt", argv[1]);
    fd = (int)MUST(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    MUST(write(fd, "written\n", 8));
    close(fd);

    snprintf(path, sizeof(path), "%s/gone.txt", argv[1]);
    MUST(unlink(path));

    snprintf(path, sizeof(path), "%s/missing.txt", argv[1]);
    if (open(path, O_RDONLY) >= 0 || errno != ENOENT)
        fail("missing.txt must not exist");

    int listening_port, bound_port;
    int listener = bound_socket(&listening_port);
    MUST(listen(listener, 4));
    int bound = bound_socket(&bound_port);
    if (connect_to(listening_port) != 0)
        fail("the connect to the listener failed");
    if (connect_to(bound_port) != ECONNREFUSED)
        fail("the connect to the bound port was not refused");
    close(listener);
    close(bound);

    pid_t pid = (pid_t)MUST(fork());
    if (pid == 0) {
        execv(argv[2], argv + 2);
        die("execv");
    }
    wait_ok(pid);
    printf("ports %d %d\n", listening_port, bound_port);
    return 0;
}
