/*
 * An attempt's private mounts in openbatch-shim: sources of this server (directories or regular
 * files, inside the data dir) seen by the attempt at other absolute paths, read-only when asked.
 * Run in the child between fork and exec, as root, once it has entered its own mount namespace
 * (MS_SLAVE: nothing reaches the host's mount table) and before the data dir is hidden (a bind keeps
 * working once its source's path is covered) and before it becomes its user.
 *
 * The request's field: lines "r|w\t<source>\t<target>" joined by '\n', targets sorted so that parents
 * come before children (absolute, normalized; the service refuses paths with tab, newline or NUL).
 *
 * The host's file system is never changed, with two exceptions: when the first directory of a target
 * does not exist (`/data` of `/data/input`), it is created on the host, empty, root:root 0755 — a
 * plain mount point, nothing is ever written into it there; and a target nested in another mount's
 * target whose path is missing in that mount's source gets its mount point (empty directories, an
 * empty file) created in that source. Otherwise:
 *   - a target that exists (a directory for a directory source, anything but a directory for a file)
 *     is bound over;
 *   - a target that does not exist has a deepest existing ancestor A. When A lies in a mount of this
 *     attempt (an overlay below, an earlier target), the missing parts are created there. Otherwise an
 *     overlay is mounted on A (lowerdir A; upperdir and workdir on a tmpfs mounted, in this namespace
 *     only, at the service's scratch directory `--scratch`, charged to the attempt's memory cgroup), so
 *     that the missing directories and file exist in its upper layer only. The overlay's root takes
 *     A's owner and mode, so A stays as writable for the attempt as it is on the host — but what the
 *     attempt writes below A then lands in the overlay and is gone when it ends (COMPAT: on a CVM it
 *     would stay; docs/compat.md, Mappings), and file systems mounted below A on the host are not
 *     seen through it (an overlay shows A's own file system).
 *     A == "/" is never overlaid: the first missing top-level directory is created on the host (above)
 *     and that is overlaid instead.
 * In four phases: (0) each source is cloned (open_tree, nosuid and nodev), before any overlay could
 * cover the way to it, and each target resolved on the host's view, to find the overlay points;
 * (1) the top-level mount points are created and the overlays mounted (an overlay point below another
 * one is left out: the outer overlay holds it); (2) the missing parts are created and the clones
 * attached, in order; (3) the read-only ones are made read-only (last, so that mount points can be
 * created inside a read-only parent first); then, when an overlay covers the way to the working
 * directory, its path is bound back.
 * Paths that other users may change are walked with file descriptors (openat, mkdirat and O_NOFOLLOW
 * for what is created, move_mount onto the descriptor), and missing parts are created only below a
 * mount of this attempt (checked by mount id): a symlink swapped in by another process can at worst
 * put a mount in a wrong place of this namespace, never make the shim write to the host.
 * Refused here as by the service: target "/", targets inside /proc, /sys or /dev, and targets at,
 * inside or above a hidden path (the data dir, the config file).
 */
#include "shim.h" /* first: it defines _GNU_SOURCE */
#include <stdint.h>
#include <sys/mount.h>
#include <sys/syscall.h>

/* The mount API of Linux 5.2 (mount_setattr: 5.12), by number: older C libraries lack the wrappers,
 * and linux/mount.h clashes with some versions of sys/mount.h. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define OB_OPEN_TREE_CLONE 1
#define OB_MOVE_EMPTY_PATHS (0x4 | 0x40) /* MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH */
#define OB_FSCONFIG_SET_STRING 1
#define OB_FSCONFIG_CMD_CREATE 6
#define OB_ATTR_RDONLY 0x1
#define OB_ATTR_NOSUID 0x2
#define OB_ATTR_NODEV 0x4
struct ob_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#define MAX_MOUNTS 64
#define MAX_DEPTH 128

struct pmount {
  int ro, isdir;
  const char *src, *dst;
  int tree; /* the clone of the source, attached in phase 2 */
};

/* an overlay point: where phase 0 found a target's deepest existing ancestor */
struct point {
  char path[PATH_MAX]; /* its path, symlinks resolved (to leave out points below others) */
  int fd;              /* O_PATH, or -1 for a top-level directory still to create (path: "/<name>") */
  int overlay;         /* 0: a top-level directory that is itself a target */
  const char *dst;     /* the target that needs it (for messages) */
};

struct comps {
  char buf[PATH_MAX];
  char *c[MAX_DEPTH];
  int n;
};

/* per thread: each attempt's setup runs on its own spawner thread's TLS (see launch in
 * openbatch-shim.c), and private_mounts resets them, since the thread's last attempt left them */
static __thread long long ours[2 * MAX_MOUNTS];
static __thread size_t nours;
static __thread int scratch_fd = -1, noverlays;
static __thread char stepbuf[1024];

static const char *step_for(const char *dst) {
  snprintf(stepbuf, sizeof stepbuf, "mount %s", dst);
  return stepbuf;
}

/* the id of the mount an fd lies in (from /proc/self/fdinfo: statx's field is newer) */
static long long mnt_id(int fd) {
  char p[64], buf[512];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  int f = open(p, O_RDONLY | O_CLOEXEC);
  if (f < 0) return -1;
  ssize_t n = read(f, buf, sizeof buf - 1);
  close(f);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *m = strstr(buf, "mnt_id:");
  return m ? strtoll(m + 7, NULL, 10) : -1;
}

static int is_ours(int fd) {
  long long id = mnt_id(fd);
  for (size_t i = 0; i < nours; i++)
    if (ours[i] == id) return 1;
  return 0;
}

static void add_ours(int mfd) {
  if (nours < sizeof ours / sizeof ours[0]) ours[nours++] = mnt_id(mfd);
}

/* p is dir or lies below it */
static int under(const char *p, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static int refused(const char *dst) {
  if (dst[0] != '/' || dst[1] == '\0') return EINVAL;
  if (under(dst, "/proc") || under(dst, "/sys") || under(dst, "/dev")) return EPERM;
  for (size_t i = 0; i < nhidden; i++)
    if (under(dst, hidden[i]) || under(hidden[i], dst)) return EPERM;
  return 0;
}

static int split(const char *t, struct comps *p) {
  size_t l = strlen(t);
  if (l >= sizeof p->buf) return ENAMETOOLONG;
  memcpy(p->buf, t, l + 1);
  p->n = 0;
  for (char *s = p->buf; *s;) {
    if (*s == '/') {
      *s++ = '\0';
      continue;
    }
    if (p->n == MAX_DEPTH) return ENAMETOOLONG;
    p->c[p->n++] = s;
    while (*s && *s != '/') s++;
    const char *c = p->c[p->n - 1];
    if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0) return EINVAL;
  }
  return 0;
}

/* Opens what exists of the path from the root: *fd gets the deepest existing part; returns how many
 * components exist (p->n: all of it) or -errno. */
static int walk(const struct comps *p, int isdir, int *fd) {
  int cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) return -errno;
  int i;
  for (i = 0; i < p->n; i++) {
    int last = i == p->n - 1;
    int next = openat(cur, p->c[i], O_PATH | O_CLOEXEC | (last && !isdir ? 0 : O_DIRECTORY));
    if (next < 0) {
      int e = errno;
      if (e == ENOENT) break;
      close(cur);
      return -e;
    }
    close(cur);
    cur = next;
  }
  *fd = cur;
  return i;
}

static int is_root(int fd) {
  struct stat a, b;
  if (fstat(fd, &a) != 0 || stat("/", &b) != 0) return 0;
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) return 0;
  int r = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r < 0) return 0;
  int same = mnt_id(r) == mnt_id(fd);
  close(r);
  return same;
}

/* An overlay on `lower` (its upper and work directories on the scratch tmpfs, mounted on first use). */
static int overlay(int lower) {
  if (scratch_fd < 0) {
    if (!scratch_dir) return ENOTSUP;
    if (mount("tmpfs", scratch_dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) return errno;
    if ((scratch_fd = open(scratch_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return errno;
  }
  char name[16];
  snprintf(name, sizeof name, "%d", noverlays++);
  if (mkdirat(scratch_fd, name, 0700) != 0) return errno;
  int d = openat(scratch_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return errno;
  int e = 0, fs = -1, m = -1;
  struct stat st;
  if (mkdirat(d, "u", 0755) != 0 || mkdirat(d, "w", 0700) != 0 || fstat(lower, &st) != 0) {
    e = errno;
    goto out;
  }
  /* the merged root shows the upper root's owner and mode: A's own */
  int u = openat(d, "u", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (u < 0 || fchown(u, st.st_uid, st.st_gid) != 0 || fchmod(u, st.st_mode & 07777) != 0) e = errno;
  if (u >= 0) close(u);
  if (e) goto out;
  char lp[64], up[64], wp[64];
  snprintf(lp, sizeof lp, "/proc/self/fd/%d", lower);
  snprintf(up, sizeof up, "/proc/self/fd/%d/u", d);
  snprintf(wp, sizeof wp, "/proc/self/fd/%d/w", d);
  if ((fs = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */)) < 0 ||
      syscall(SYS_fsconfig, fs, OB_FSCONFIG_SET_STRING, "lowerdir", lp, 0) != 0 ||
      syscall(SYS_fsconfig, fs, OB_FSCONFIG_SET_STRING, "upperdir", up, 0) != 0 ||
      syscall(SYS_fsconfig, fs, OB_FSCONFIG_SET_STRING, "workdir", wp, 0) != 0 ||
      syscall(SYS_fsconfig, fs, OB_FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0 ||
      (m = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0)) < 0 ||
      syscall(SYS_move_mount, m, "", lower, "", OB_MOVE_EMPTY_PATHS) != 0) {
    e = errno;
    goto out;
  }
  add_ours(m);
out:
  if (m >= 0) close(m);
  if (fs >= 0) close(fs);
  close(d);
  return e;
}

/* Phase 0 for one mount: clone its source; find its overlay point, if it needs one. */
static int plan(struct pmount *m, struct point *pts, size_t *npts) {
  m->tree = (int)syscall(SYS_open_tree, AT_FDCWD, m->src, OB_OPEN_TREE_CLONE | O_CLOEXEC);
  if (m->tree < 0) return errno;
  struct stat st;
  if (fstat(m->tree, &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return EINVAL;
  m->isdir = S_ISDIR(st.st_mode);
  struct ob_mount_attr attr = {.attr_set = OB_ATTR_NOSUID | OB_ATTR_NODEV};
  if (syscall(SYS_mount_setattr, m->tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) return errno;
  static __thread struct comps p;
  int e, fd;
  if ((e = split(m->dst, &p))) return e;
  int found = walk(&p, m->isdir, &fd);
  if (found < 0) return -found;
  if (found == p.n) {
    close(fd);
    return 0;
  }
  struct point *pt = &pts[(*npts)++];
  pt->dst = m->dst;
  if (is_root(fd)) {
    close(fd);
    /* only a target's own first directory is made on the host (not one reached through a symlink
     * to /), and only a directory */
    if (found != 0 || (p.n == 1 && !m->isdir)) return EINVAL;
    snprintf(pt->path, sizeof pt->path, "/%s", p.c[0]);
    pt->fd = -1;
    pt->overlay = p.n > 1;
    return 0;
  }
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, pt->path, sizeof pt->path - 1);
  if (n <= 0) {
    e = errno;
    close(fd);
    return e ? e : EIO;
  }
  pt->path[n] = '\0';
  pt->fd = fd;
  pt->overlay = 1;
  return 0;
}

/* Phase 1: top-level mount points, then the overlays that no other overlay holds. */
static int mount_points(struct point *pts, size_t npts, const char **step) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return errno;
  int e = 0;
  for (size_t i = 0; i < npts && !e; i++) {
    struct point *pt = &pts[i];
    *step = step_for(pt->dst);
    if (pt->fd >= 0) continue;
    /* empty, root:root 0755 (the shim's umask is 022); another attempt may have made it meanwhile */
    const char *name = pt->path + 1;
    if (mkdirat(root, name, 0755) != 0 && errno != EEXIST) e = errno;
    else if ((pt->fd = openat(root, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) e = errno;
  }
  close(root);
  for (size_t i = 0; i < npts && !e; i++) {
    if (!pts[i].overlay) continue;
    int held = 0;
    for (size_t j = 0; j < npts && !held; j++) {
      if (j == i || !pts[j].overlay || !under(pts[i].path, pts[j].path)) continue;
      /* an ancestor holds it; of equal ones the first is mounted */
      held = strcmp(pts[i].path, pts[j].path) != 0 || j < i;
    }
    if (held) continue;
    *step = step_for(pts[i].dst);
    e = overlay(pts[i].fd);
  }
  return e;
}

/* Phase 2 for one mount: its missing parts created below a mount of this attempt, its clone attached. */
static int attach(struct pmount *m) {
  static __thread struct comps p;
  int e, fd;
  if ((e = split(m->dst, &p))) return e;
  int found = walk(&p, m->isdir, &fd);
  if (found < 0) return -found;
  if (found == p.n) {
    struct stat st;
    if (fstat(fd, &st) != 0) e = errno;
    else if (m->isdir != !!S_ISDIR(st.st_mode)) e = m->isdir ? ENOTDIR : EISDIR;
  } else if (!is_ours(fd)) {
    e = EAGAIN; /* the host changed since phase 0 */
  }
  for (int i = found; i < p.n && !e; i++) {
    int last = i == p.n - 1, next = -1;
    if (!last || m->isdir) {
      if (mkdirat(fd, p.c[i], 0755) != 0 && errno != EEXIST) e = errno;
      else if ((next = openat(fd, p.c[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) e = errno;
    } else {
      int f = openat(fd, p.c[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (f < 0) e = errno;
      else {
        close(f);
        if ((next = openat(fd, p.c[i], O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) e = errno;
      }
    }
    if (e) break;
    close(fd);
    fd = next;
  }
  if (!e && syscall(SYS_move_mount, m->tree, "", fd, "", OB_MOVE_EMPTY_PATHS) != 0) e = errno;
  if (!e) add_ours(m->tree);
  close(fd);
  return e;
}

int private_mounts(char *spec, const char *cwd, const char **step) {
  static __thread struct pmount ms[MAX_MOUNTS];
  static __thread struct point pts[MAX_MOUNTS];
  size_t n = 0, npts = 0;
  int e;
  nours = 0;
  scratch_fd = -1;
  noverlays = 0;
  *step = "mounts";
  for (char *line = spec; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2 || (line[0] != 'r' && line[0] != 'w') || line + 1 != t1) return EINVAL;
    if (n == MAX_MOUNTS) return E2BIG;
    *t1 = *t2 = '\0';
    ms[n] = (struct pmount){.ro = line[0] == 'r', .src = t1 + 1, .dst = t2 + 1, .tree = -1};
    *step = step_for(ms[n].dst);
    if ((e = refused(ms[n].dst))) return e;
    n++;
    line = nl ? nl + 1 : NULL;
  }
  for (size_t i = 0; i < n; i++) {
    *step = step_for(ms[i].dst);
    if ((e = plan(&ms[i], pts, &npts))) return e;
  }
  if ((e = mount_points(pts, npts, step))) return e;
  for (size_t i = 0; i < n; i++) {
    *step = step_for(ms[i].dst);
    if ((e = attach(&ms[i]))) return e;
  }
  struct ob_mount_attr ro = {.attr_set = OB_ATTR_RDONLY};
  for (size_t i = 0; i < n; i++) {
    *step = step_for(ms[i].dst);
    if (ms[i].ro && syscall(SYS_mount_setattr, ms[i].tree, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0) return errno;
    close(ms[i].tree);
  }
  for (size_t i = 0; i < npts; i++)
    if (pts[i].fd >= 0) close(pts[i].fd);
  if (scratch_fd >= 0) close(scratch_fd);
  if (noverlays == 0) return 0;
  /* an overlay may cover the way to the working directory (a file system mounted below its lower
   * directory is not seen through it): bind "." (still the real one) back at its path */
  *step = "working directory";
  struct stat a, b;
  if (stat(".", &a) != 0) return errno;
  if (stat(cwd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return 0;
  if ((e = mkdirs(cwd, 0711))) return e;
  if (mount(".", cwd, NULL, MS_BIND, NULL) != 0 || chdir(cwd) != 0) return errno;
  return 0;
}
