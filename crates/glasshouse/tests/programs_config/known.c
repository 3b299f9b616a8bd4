/* Does exactly: read in/input.txt, write out/output.txt, delete out/scratch.txt, print a line,
 * exit 3. Built static so that the receipt holds no dynamic loader activity. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char buf[64];
    int in = open("in/input.txt", O_RDONLY);
    if (in < 0 || read(in, buf, sizeof buf) < 0)
        return 1;
    close(in);
    int out = open("out/output.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || write(out, "done\n", 5) != 5)
        return 1;
    close(out);
    if (unlink("out/scratch.txt") != 0)
        return 1;
    printf("known program ran\n");
    return 3;
}
