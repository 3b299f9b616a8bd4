/* bench/floor.c: loads and attaches bench/floor.bpf.o (libbpf), prints "ready", waits until its
 * stdin is closed, then prints "name run_cnt run_time_ns" for each program and exits (detaching).
 * usage: floor floor.bpf.o < fifo */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s floor.bpf.o\n", argv[0]);
        return 2;
    }
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj || bpf_object__load(obj)) {
        fprintf(stderr, "floor: cannot load %s\n", argv[1]);
        return 1;
    }
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, obj)
    {
        if (!bpf_program__attach(prog)) {
            fprintf(stderr, "floor: cannot attach %s\n", bpf_program__name(prog));
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    bpf_object__for_each_program(prog, obj)
    {
        struct bpf_prog_info info;
        __u32 len = sizeof info;
        memset(&info, 0, sizeof info);
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
            return 1;
        printf("%s %llu %llu\n", bpf_program__name(prog), (unsigned long long)info.run_cnt,
               (unsigned long long)info.run_time_ns);
    }
    bpf_object__close(obj);
    return 0;
}
