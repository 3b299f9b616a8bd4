/* fd_meta DIR: changes metadata through read-only descriptors only. DIR/f: fchmod(fd, 0640),
 * fchown(fd, own uid, own gid), then fsetxattr and fremovexattr of "user.glasshouse" when the
 * file system supports user attributes (ENOTSUP is tolerated). DIR/g: futimens(fd, NULL), that
 * is utimensat(fd, NULL, NULL, 0). */
#include "tester.h"
#include <sys/stat.h>
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
    snprintf(path, sizeof(path), "%s/g", argv[1]);
    fd = (int)MUST(open(path, O_RDONLY));
    MUST(futimens(fd, NULL));
    close(fd);
    return 0;
}
