/* SPDX-License-Identifier: GPL-2.0 */
/* The system calls the sensor decodes (x86-64), defined once. glasshouse.bpf.c expands this list
 * into its switches (which calls keep their arguments, how each is reported); the Rust side's
 * build.rs reads the same rows for the names and for what a call does to the paths it names.
 * Adding a call is adding a row.
 *
 * X(nr, name, family, dir_a, path_a, dir_b, path_b, flags, effect)
 *   family  OPEN        opens a file by path: a new descriptor is reported by its file
 *           FD_META     changes a file's metadata by descriptor (dir_a): reported like an open
 *           PATH_OR_FD  utimensat: by path, or by descriptor (dir_a) when path_a is NULL
 *           PATH        acts on the paths it names
 *           EXEC        execve(at): a successful one is reported by sched_process_exec
 *           BIND        bind: a unix socket bound to a path makes a file there
 *           NET         reports a destination (connect, send*)
 *           RECV        may receive descriptors (SCM_RIGHTS): each is reported by its file
 *   dir_a, path_a, dir_b, path_b
 *           the argument (0-5) holding the directory descriptor and the path of path A (the one
 *           the call acts on) and path B (the new name); NONE: no such argument (a directory
 *           of NONE is the cwd)
 *   flags   ARG(i): argument i; HOW(i): the flags of the struct open_how at argument i;
 *           CONST(v): always v; NONE. An open's flags; for other calls, reported with the event
 *   effect  what a successful call did: NONE, DELETE_A, WRITE_A, WRITE_B, MOVE (A is gone, B
 *           written; both written when the flags hold RENAME_EXCHANGE) */
#ifndef GLASSHOUSE_SYSCALLS_H
#define GLASSHOUSE_SYSCALLS_H

#define GH_SYSCALLS(X)                                                                           \
    X(2, open, OPEN, NONE, 0, NONE, NONE, ARG(1), NONE)                                          \
    X(85, creat, OPEN, NONE, 0, NONE, NONE, CONST(O_CREAT | O_WRONLY | O_TRUNC), NONE)           \
    X(257, openat, OPEN, 0, 1, NONE, NONE, ARG(2), NONE)                                         \
    X(437, openat2, OPEN, 0, 1, NONE, NONE, HOW(2), NONE)                                        \
    X(304, open_by_handle_at, OPEN, NONE, NONE, NONE, NONE, ARG(2), NONE)                        \
    X(59, execve, EXEC, NONE, 0, NONE, NONE, NONE, NONE)                                         \
    X(322, execveat, EXEC, 0, 1, NONE, NONE, NONE, NONE)                                         \
    X(87, unlink, PATH, NONE, 0, NONE, NONE, NONE, DELETE_A)                                     \
    X(84, rmdir, PATH, NONE, 0, NONE, NONE, NONE, DELETE_A)                                      \
    X(263, unlinkat, PATH, 0, 1, NONE, NONE, NONE, DELETE_A)                                     \
    X(82, rename, PATH, NONE, 0, NONE, 1, NONE, MOVE)                                            \
    X(264, renameat, PATH, 0, 1, 2, 3, NONE, MOVE)                                               \
    X(316, renameat2, PATH, 0, 1, 2, 3, ARG(4), MOVE)                                            \
    X(86, link, PATH, NONE, NONE, NONE, 1, NONE, WRITE_B)                                        \
    X(265, linkat, PATH, NONE, NONE, 2, 3, NONE, WRITE_B)                                        \
    X(88, symlink, PATH, NONE, NONE, NONE, 1, NONE, WRITE_B)                                     \
    X(266, symlinkat, PATH, NONE, NONE, 1, 2, NONE, WRITE_B)                                     \
    X(76, truncate, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                    \
    X(83, mkdir, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                       \
    X(258, mkdirat, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                       \
    X(133, mknod, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                      \
    X(259, mknodat, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                       \
    X(90, chmod, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                       \
    X(268, fchmodat, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                      \
    X(452, fchmodat2, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                     \
    X(92, chown, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                       \
    X(94, lchown, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                      \
    X(260, fchownat, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                      \
    X(132, utime, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                      \
    X(235, utimes, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                     \
    X(261, futimesat, PATH, 0, 1, NONE, NONE, NONE, WRITE_A)                                     \
    X(280, utimensat, PATH_OR_FD, 0, 1, NONE, NONE, NONE, WRITE_A)                               \
    X(188, setxattr, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                   \
    X(189, lsetxattr, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                  \
    X(197, removexattr, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                                \
    X(198, lremovexattr, PATH, NONE, 0, NONE, NONE, NONE, WRITE_A)                               \
    X(91, fchmod, FD_META, 0, NONE, NONE, NONE, NONE, NONE)                                      \
    X(93, fchown, FD_META, 0, NONE, NONE, NONE, NONE, NONE)                                      \
    X(190, fsetxattr, FD_META, 0, NONE, NONE, NONE, NONE, NONE)                                  \
    X(199, fremovexattr, FD_META, 0, NONE, NONE, NONE, NONE, NONE)                               \
    X(49, bind, BIND, NONE, NONE, NONE, NONE, NONE, WRITE_A)                                     \
    X(42, connect, NET, NONE, NONE, NONE, NONE, NONE, NONE)                                      \
    X(44, sendto, NET, NONE, NONE, NONE, NONE, NONE, NONE)                                       \
    X(46, sendmsg, NET, NONE, NONE, NONE, NONE, NONE, NONE)                                      \
    X(307, sendmmsg, NET, NONE, NONE, NONE, NONE, NONE, NONE)                                   \
    X(47, recvmsg, RECV, NONE, NONE, NONE, NONE, NONE, NONE)                                     \
    X(299, recvmmsg, RECV, NONE, NONE, NONE, NONE, NONE, NONE)

#endif
