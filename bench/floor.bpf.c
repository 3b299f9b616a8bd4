// SPDX-License-Identifier: GPL-2.0
/* bench/floor.bpf.c: the cheapest possible sensor, for bench/overhead.sh. Two empty programs on the
 * same hooks as glasshouse's syscall programs (tp_btf/sys_enter, tp_btf/sys_exit): what any
 * syscall-tracepoint sensor costs every process on the machine before it does any work. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int floor_sys_enter(void *ctx)
{
    return 0;
}

SEC("tp_btf/sys_exit")
int floor_sys_exit(void *ctx)
{
    return 0;
}
