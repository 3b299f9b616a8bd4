/* The kernel matrix's guest init: PID 1 of an initramfs that scripts/kernel-matrix.sh builds.
 *
 * It loads the kernel modules listed in /modules/order (virtio, virtiofs, overlay: whatever the
 * kernel under test has as modules rather than built in), mounts the host's root file system
 * (virtiofs tag "hostroot", read-only) under an overlay whose upper layer is a tmpfs, so the
 * guest can write anywhere and nothing reaches the host, copies the guest script and the run's
 * plan from the initramfs into it, switches into it and runs the script. It reaps every orphan
 * while that script runs (the tests start daemons), then powers the machine off.
 *
 * Built statically by the matrix script with `cc -static`; it needs nothing else in the
 * initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("km-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Ends the guest: qemu exits when the machine powers off. */
static void power_off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;)
    pause();
}

static void fail(const char *what) {
  say("%s: %s", what, strerror(errno));
  /* The host looks for this line to tell a broken boot from failed tests. */
  say("KM-BOOT-FAILED");
  power_off();
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags,
                       const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) != 0) {
    char what[256];
    snprintf(what, sizeof what, "mount %s on %s (%s)", src, dst, type);
    fail(what);
  }
}

/* Loads every module named in /modules/order (one file name a line, dependencies first). */
static void load_modules(void) {
  FILE *order = fopen("/modules/order", "r");
  if (!order)
    return;
  char line[512];
  while (fgets(line, sizeof line, order)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line)
      continue;
    char path[600];
    snprintf(path, sizeof path, "/modules/%s", line);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(path);
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
      fail(path);
    close(fd);
  }
  fclose(order);
}

/* Where the guest script and the host's plan for this run are copied, in the overlay (a tmpfs
 * layer): they come from the initramfs, so they match the host script that built it. */
#define GUEST_DIR "/km-guest"

/* Copies /km/guest.sh and /km/plan of the initramfs into the overlay's GUEST_DIR. */
static void copy_guest_files(void) {
  static const char *const names[] = {"guest.sh", "plan"};
  mkdir("/merged" GUEST_DIR, 0755);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char src[128], dst[128];
    snprintf(src, sizeof src, "/km/%s", names[i]);
    snprintf(dst, sizeof dst, "/merged" GUEST_DIR "/%s", names[i]);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
      fail(src);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
      fail(dst);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)n) != n)
        fail(dst);
    if (n < 0)
      fail(src);
    close(in);
    close(out);
  }
}

/* The virtio device may still be probing when its driver's module returns: retry a while. */
static void mount_host_root(void) {
  mkdir("/lower", 0755);
  for (int i = 0; i < 100; i++) {
    if (mount("hostroot", "/lower", "virtiofs", MS_RDONLY, NULL) == 0)
      return;
    usleep(100 * 1000);
  }
  fail("mount virtiofs hostroot on /lower");
}

int main(void) {
  mkdir("/dev", 0755);
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) == 0) {
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(fd, 1);
      dup2(fd, 2);
      if (fd > 2)
        close(fd);
    }
  }
  load_modules();
  mount_host_root();
  must_mount("tmpfs", "/rw", "tmpfs", 0, "mode=0755");
  mkdir("/rw/upper", 0755);
  mkdir("/rw/work", 0755);
  must_mount("overlay", "/merged", "overlay", 0,
             "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work");
  if (umount2("/dev", MNT_DETACH) != 0)
    say("umount /dev: %s", strerror(errno));
  copy_guest_files();
  if (chdir("/merged") != 0)
    fail("chdir /merged");
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0)
    fail("move the overlay to /");
  if (chroot(".") != 0 || chdir("/") != 0)
    fail("chroot into the overlay");

  pid_t child = fork();
  if (child < 0)
    fail("fork");
  if (child == 0) {
    char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOME=/root", "LANG=C.UTF-8", NULL};
    execve("/bin/sh", (char *[]){"sh", GUEST_DIR "/guest.sh", GUEST_DIR "/plan", NULL}, env);
    fail("exec /bin/sh");
  }
  /* PID 1 adopts every orphan: reap them all until the guest script itself ends. */
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid == child) {
      say("guest script ended (status %d)", status);
      break;
    }
    if (pid < 0 && errno == ECHILD)
      break;
  }
  power_off();
  return 0;
}
