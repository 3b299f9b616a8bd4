/* fd_meta DIR: opens DIR/f read-only and changes its metadata through the descriptor only:
 * fchmod(fd, 0640) and fchown(fd, own uid, own gid); then fsetxattr and fremovexattr of
 * "user.glasshouse" when the file system supports user attributes (ENOTSUP is tolerated). */
#include "tester.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char path[4096];
    snprintf(path, sizeof(path), "%s/f", argv[1]);
    int fd = (int)MUST(open(path, O_RDONLY));
    MUST(fchmod(fd, 0640));
    MUST(fchown(fd, getuid(), getgid()));
    if (fsetxattr(fd, "user.glasshouse", "1", 1, 0) == 0)
        MUST(fremovexattr(fd, "user.glasshouse"));
    else if (errno != ENOTSUP && errno != EOPNOTSUPP)
        die("fsetxattr");
    close(fd);
    return 0;
}
