/*
 * openbatch-shim: starts and supervises the attempts of one OpenBatch service process.
 *
 * The service starts one shim (in its own session) and sends it launch requests on stdin. The shim
 * starts each attempt with fork + exec (the shim is small, so its fork is cheap, and it goes on while
 * the child sets the attempt up and execs): one process per attempt, `/bin/sh -c <command>` (or
 * `/bin/sh <command file>` for a command too long for an argument) in its own session and process
 * group, stdout/stderr to files, at the shim's niceness plus N with `--nice N`; waits for it, writes
 * its exit status to the attempt's status file, and reports to the service on stdout. When the
 * service goes away (stdin closes, e.g. kill -9), the shim keeps supervising the attempts it started,
 * writing their statuses, and exits after the last one; a restarted service re-adopts them through
 * their status files and pids.
 *
 * Isolation, set up in the child before exec (each step only when asked for):
 *   - cgroups: `--cgroup DIR` (repeatable: one per cgroup v1 controller hierarchy, or the one cgroup v2
 *     directory) names parents; the attempt gets a slot (DIR/s<shim pid>-<n> in each, reused by one
 *     attempt after another: see "cgroups" below), with the memory, CPU (CFS quota) and pids limits of
 *     its request written to whichever of the limit files the directory has, and joins them. When
 *     the attempt ends, the OOM kills its memory cgroup counted meanwhile are read (the status then
 *     says `oom`) and whatever is left in the slot is killed.
 *   - a private mount namespace (`--hide PATH`, repeatable, a directory first): each hidden directory
 *     is covered by an empty tmpfs and each hidden file by an empty file only root may read, so the
 *     attempt sees nothing of them; its working directory, when it lies below a hidden directory, is
 *     bound back at its own path.
 *   - the attempt's user: uid, gid and supplementary groups of the request (the working directory and
 *     its temporary directory are created for that user; log files are opened before the switch).
 *   - the environment is exactly the request's (the shim's own is never passed on).
 *
 * Request (all fields NUL-terminated; no field contains NUL):
 *   "L" key cwd stdout stderr status pidfile command cmdfile uid gid groups mem cpu nenv
 *       env_1 ... env_nenv
 *   cmdfile: "" or a file holding the command (then `command` is ignored); uid/gid: "-1" = keep ours;
 *   groups: comma-separated gids; mem: bytes (0 = no limit); cpu: CFS quota in µs per 100 ms period
 *   (0 = no limit).
 * Before it reports a start, the shim writes "<pid> <starttime>\n" to the pidfile, so an attempt
 * started just before the service died can still be found and adopted.
 * Events (one line each; keys are [A-Za-z0-9._-]):
 *   "S <key> <pid> <starttime> <slot>"  started (starttime: field 22 of /proc/<pid>/stat; slot: its
 *                                  cgroups' name, "-" for none)
 *   "F <key> <errno> <step>"       could not start (step: which part of the setup failed)
 *   "E <key> exit <code>[ oom]"    ended with an exit code ("oom": its memory cgroup killed for memory)
 *   "E <key> signal <n>[ oom]"     killed by signal n
 * When the attempt ends, the shim appends "exit <code>[ oom]\n" or "signal <n>[ oom]\n" to the pidfile
 * (one write) and renames it to the status file, so the status file appears whole and its last line
 * is the status (where there is no pidfile, the status file is written with that line alone).
 *
 * `openbatch-shim --probe-ns DIR` checks that a private mount namespace can hide DIR (exit 0) — the
 * service asks once at start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LIST 16
#define PERIOD_US 100000

struct child {
  pid_t pid;
  char *key;
  char *status;
  char *pidfile;         /* NULL if it could not be written */
  char *pending_pidfile; /* where the pid file goes once the exec is seen to succeed */
  int launch_fd;         /* read end of the exec-report pipe while starting, else -1 */
  ssize_t slot;          /* its cgroup slot, or -1 */
};

static struct child *children;
static size_t nchildren, cap_children;
static struct pollfd *polls;
static pid_t *poll_pids;
static size_t cap_polls;
static int events_ok = 1; /* stdout still open */
static int attempt_nice;     /* --nice N: added to the shim's niceness for the attempts */
static int attempt_priority; /* the niceness attempts get */
static const char *cgroup_dirs[MAX_LIST];
static size_t ncgroups;
static const char *hidden[MAX_LIST];
static size_t nhidden;
static long pids_max;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) die("malloc");
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) die("strdup");
  return p;
}

/* Events are gathered and written once per pass of the main loop: one write (and one wakeup of the
 * service) for all the starts and ends found together. */
static char evbuf[1 << 16];
static size_t evlen;

static void flush_events(void) {
  const char *p = evbuf;
  size_t len = evlen;
  evlen = 0;
  while (events_ok && len > 0) {
    ssize_t w = write(1, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      events_ok = 0; /* the service is gone; keep supervising */
      return;
    }
    p += w;
    len -= (size_t)w;
  }
}

static void emit(const char *line, size_t len) {
  if (!events_ok) return;
  if (evlen + len > sizeof evbuf) flush_events();
  memcpy(evbuf + evlen, line, len);
  evlen += len;
}

static void emit_failure(const char *key, int e, const char *step) {
  char line[512];
  int n = snprintf(line, sizeof line, "F %s %d %s\n", key, e, step);
  emit(line, (size_t)n);
}

/* mkdir -p with `mode` for every directory it creates; the parent usually exists, so one mkdir is
 * tried before walking the path */
static int mkdirs(const char *path, mode_t mode) {
  if (mkdir(path, mode) != 0 && errno != EEXIST) {
    if (errno != ENOENT) return errno;
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
      if (buf[i] == '/' || buf[i] == '\0') {
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST) return errno;
        buf[i] = c;
      }
    }
  }
  struct stat st;
  if (stat(path, &st) != 0) return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static void start_ticks(pid_t pid, char *out, size_t outlen) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return;
  p += 2; /* field 3 */
  for (int field = 3; field < 22 && *p; p++)
    if (*p == ' ') field++;
  size_t i = 0;
  while (*p && *p != ' ' && i + 1 < outlen) out[i++] = *p++;
  out[i] = '\0';
}

/* ------------------------------------------------------------------ cgroups */

/* Attempts run in slots: a slot is one cgroup per hierarchy (`s<shim pid>-<n>`), used by one attempt
 * after another. Creating and removing a cgroup per attempt costs more than the attempt on a busy
 * machine, and a removed memory cgroup lingers in the kernel while the page cache it charged (the
 * attempt's logs) is alive: thousands of those slow every memory cgroup down. A slot whose attempt
 * left processes is drained (they are killed) before it is used again; one that still holds much
 * memory that cannot be reclaimed (files in a tmpfs, which would count against the next attempt's
 * limit) is retired. The slots are removed when the shim exits. */
enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DRAINING, SLOT_RETIRING, SLOT_DEAD };

struct slot {
  char name[48];
  enum slot_state state;
  long oom_seen; /* its memory cgroup's OOM kills when its last attempt ended */
  int tries;     /* drain passes so far */
};

#define RETIRE_BYTES (64LL << 20)

static struct slot *slots;
static size_t nslots, cap_slots;
static size_t ndraining;

static int cg_path(char *out, size_t len, size_t dir, const char *slot, const char *file) {
  int n = file ? snprintf(out, len, "%s/%s/%s", cgroup_dirs[dir], slot, file) : snprintf(out, len, "%s/%s", cgroup_dirs[dir], slot);
  return n > 0 && (size_t)n < len ? 0 : ENAMETOOLONG;
}

/* Write `value` to a cgroup file. A limit file this controller does not have (ENOENT) counts as
 * written when `optional`: the same request serves every v1 controller and v2. */
static int cg_write(size_t dir, const char *slot, const char *file, const char *value, int optional) {
  char p[PATH_MAX];
  if (cg_path(p, sizeof p, dir, slot, file)) return ENAMETOOLONG;
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT && optional ? 0 : errno;
  int e = write(fd, value, strlen(value)) < 0 ? errno : 0;
  close(fd);
  return e;
}

/* The first number after `key ` in a cgroup file (or the file's first number when key is NULL); -1
 * when the file is not there. */
static long long cg_read(size_t dir, const char *slot, const char *file, const char *key) {
  char p[PATH_MAX], buf[2048];
  if (cg_path(p, sizeof p, dir, slot, file)) return -1;
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  if (!key) return n == 0 ? -1 : strtoll(buf, NULL, 10);
  for (char *at = buf; (at = strstr(at, key)) != NULL; at++) {
    size_t k = strlen(key);
    if ((at == buf || at[-1] == '\n') && at[k] == ' ') return strtoll(at + k + 1, NULL, 10);
  }
  return 0;
}

/* A free slot, or a new one; -1 (errno set) when no cgroup can be made. */
static ssize_t slot_take(void) {
  for (size_t s = 0; s < nslots; s++) {
    if (slots[s].state == SLOT_FREE) {
      slots[s].state = SLOT_BUSY;
      return (ssize_t)s;
    }
  }
  if (nslots == cap_slots) {
    cap_slots = cap_slots ? cap_slots * 2 : 32;
    slots = realloc(slots, cap_slots * sizeof *slots);
    if (!slots) die("realloc");
  }
  struct slot *sl = &slots[nslots];
  snprintf(sl->name, sizeof sl->name, "s%d-%zu", (int)getpid(), nslots);
  for (size_t i = 0; i < ncgroups; i++) {
    char p[PATH_MAX];
    if (cg_path(p, sizeof p, i, sl->name, NULL)) return -1;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
    char v[32];
    snprintf(v, sizeof v, "%ld", pids_max);
    if (pids_max > 0 && (errno = cg_write(i, sl->name, "pids.max", v, 1))) return -1;
  }
  sl->state = SLOT_BUSY;
  sl->oom_seen = 0;
  sl->tries = 0;
  return (ssize_t)nslots++;
}

/* In the child: the slot's limits for this attempt, then into it. */
static int cg_join(const char *slot, long long mem, long cpu_quota) {
  char v[64];
  for (size_t i = 0; i < ncgroups; i++) {
    int e;
    if (mem > 0) {
      snprintf(v, sizeof v, "%lld", mem);
      /* v1: memory + swap may never be below memory: raise it first when the limit goes up */
      if ((e = cg_write(i, slot, "memory.limit_in_bytes", v, 1)) == EINVAL) {
        if ((e = cg_write(i, slot, "memory.memsw.limit_in_bytes", v, 1)) || (e = cg_write(i, slot, "memory.limit_in_bytes", v, 1))) return e;
      } else if (e || (e = cg_write(i, slot, "memory.memsw.limit_in_bytes", v, 1))) {
        return e;
      }
      if ((e = cg_write(i, slot, "memory.max", v, 1)) || (e = cg_write(i, slot, "memory.swap.max", "0", 1))) return e;
    }
    if (cpu_quota > 0) {
      snprintf(v, sizeof v, "%ld", cpu_quota);
      if ((e = cg_write(i, slot, "cpu.cfs_quota_us", v, 1))) return e;
      snprintf(v, sizeof v, "%ld %d", cpu_quota, PERIOD_US);
      if ((e = cg_write(i, slot, "cpu.max", v, 1))) return e;
    }
    /* v1 counts CPU time per cgroup from zero for each attempt */
    if ((e = cg_write(i, slot, "cpuacct.usage", "0", 1))) return e;
    if ((e = cg_write(i, slot, "cgroup.procs", "0", 0))) return e;
  }
  return 0;
}

/* OOM kills counted by the slot's memory cgroup so far (v1 memory.oom_control, v2 memory.events). */
static long cg_oom_kills(const char *slot) {
  for (size_t i = 0; i < ncgroups; i++) {
    long long n = cg_read(i, slot, "memory.oom_control", "oom_kill");
    if (n < 0) n = cg_read(i, slot, "memory.events", "oom_kill");
    if (n >= 0) return (long)n;
  }
  return 0;
}

/* Kill what is in the slot's cgroups; 1 when none of them held a process. */
static int slot_clear(const struct slot *sl) {
  int empty = 1;
  for (size_t i = 0; i < ncgroups; i++) {
    char procs[PATH_MAX];
    if (cg_path(procs, sizeof procs, i, sl->name, "cgroup.procs")) continue;
    FILE *f = fopen(procs, "re");
    if (!f) continue;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
      empty = 0;
      kill((pid_t)pid, SIGKILL);
    }
    fclose(f);
  }
  return empty;
}

static void slot_remove(struct slot *sl) {
  for (size_t i = 0; i < ncgroups; i++) {
    char p[PATH_MAX];
    if (cg_path(p, sizeof p, i, sl->name, NULL) == 0) rmdir(p);
  }
  sl->state = SLOT_DEAD;
}

/* The slot's attempt ended: free it, or drain it first (what the attempt left running dies with it). */
static void slot_release(size_t s) {
  struct slot *sl = &slots[s];
  /* memory nothing can reclaim once the attempt is gone: files it left in a tmpfs (page cache of
   * files on disk is reclaimed when the next attempt needs the room) */
  long long shmem = -1;
  for (size_t i = 0; i < ncgroups && shmem < 0; i++) shmem = cg_read(i, sl->name, "memory.stat", "shmem");
  int retire = shmem > RETIRE_BYTES;
  if (slot_clear(sl)) {
    if (retire) slot_remove(sl);
    else sl->state = SLOT_FREE;
    return;
  }
  sl->state = retire ? SLOT_RETIRING : SLOT_DRAINING;
  sl->tries = 0;
  ndraining++;
}

/* Called on every pass while slots drain: up to about 30 s per slot, then it is given up (a process
 * stuck in the kernel cannot be removed by anyone). */
static void drain_pass(void) {
  for (size_t s = 0; s < nslots; s++) {
    struct slot *sl = &slots[s];
    if (sl->state != SLOT_DRAINING && sl->state != SLOT_RETIRING) continue;
    int empty = slot_clear(sl);
    if (!empty && ++sl->tries <= 600) continue;
    ndraining--;
    if (empty && sl->state == SLOT_DRAINING) sl->state = SLOT_FREE;
    else if (empty) slot_remove(sl);
    else sl->state = SLOT_DEAD;
  }
}

/* ------------------------------------------------------------------ the attempt's child */

/* Cover the hidden paths in a private mount namespace; bind the working directory (our cwd, already
 * entered) back when it lies below one of them. */
static int hide_paths(const char *cwd, const char **step) {
  *step = "mount namespace";
  if (unshare(CLONE_NEWNS) != 0) return errno;
  /* nothing mounted here may reach the host's mount table */
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return errno;
  /* a hidden file is covered by an empty file nobody but root may read, kept in the first tmpfs */
  char voidfile[PATH_MAX] = "";
  for (size_t i = 0; i < nhidden; i++) {
    struct stat st;
    if (stat(hidden[i], &st) != 0) continue;
    *step = "hiding";
    if (!S_ISDIR(st.st_mode)) {
      if (!voidfile[0]) return ENOENT; /* the service names a directory first */
      if (mount(voidfile, hidden[i], NULL, MS_BIND, NULL) != 0) return errno;
      continue;
    }
    if (mount("tmpfs", hidden[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0711") != 0) return errno;
    if (!voidfile[0]) {
      snprintf(voidfile, sizeof voidfile, "%s/.hidden", hidden[i]);
      int fd = open(voidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
      if (fd < 0) return errno;
      close(fd);
    }
    size_t n = strlen(hidden[i]);
    if (strncmp(cwd, hidden[i], n) != 0 || cwd[n] != '/') continue;
    /* "." is still the working directory below the tmpfs: bind it at its path inside the tmpfs */
    int e = mkdirs(cwd, 0711);
    if (e) return e;
    if (mount(".", cwd, NULL, MS_BIND, NULL) != 0) return errno;
    if (chdir(cwd) != 0) return errno;
  }
  return 0;
}

static int parse_groups(const char *s, gid_t *out, size_t max) {
  size_t n = 0;
  while (*s && n < max) {
    char *end;
    long g = strtol(s, &end, 10);
    if (end == s) break;
    out[n++] = (gid_t)g;
    s = *end == ',' ? end + 1 : end;
  }
  return (int)n;
}

/* Everything between fork and exec; returns only on failure (errno value, *step says what failed). */
static int child_setup(char **f, char **envp, const char *slot, const char **step) {
  const char *cwd = f[1], *out = f[2], *err = f[3], *cmd = f[6], *cmdfile = f[7];
  long uid = strtol(f[8], NULL, 10), gid = strtol(f[9], NULL, 10);
  long long mem = strtoll(f[11], NULL, 10);
  long cpu = strtol(f[12], NULL, 10);
  int fd, e;
  *step = "session";
  if (setsid() < 0) return errno;
  if (attempt_nice > 0) setpriority(PRIO_PROCESS, 0, attempt_priority);
  if (slot) {
    *step = "cgroup";
    if ((e = cg_join(slot, mem, cpu))) return e;
  }
  *step = "log files";
  if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 0) < 0) return errno;
  if (fd != 0) close(fd);
  if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || dup2(fd, 1) < 0) return errno;
  if (fd != 1) close(fd);
  if ((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || dup2(fd, 2) < 0) return errno;
  if (fd != 2) close(fd);
  char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
  char fdpath[32];
  if (cmdfile[0]) {
    /* a command too long for an argument: the shell reads it from an open file (readable through
     * /proc/self/fd whoever the attempt runs as, and through no other path) */
    *step = "command file";
    if ((fd = open(cmdfile, O_RDONLY)) < 0 || dup2(fd, 3) < 0) return errno;
    if (fd != 3) close(fd);
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/3");
    argv[1] = fdpath;
    argv[2] = NULL;
  }
  *step = "working directory";
  /* parents are traversable by anyone (0711) but not listable; the attempt's own directory is its
   * user's alone */
  char parent[PATH_MAX];
  size_t cl = strlen(cwd);
  if (cl >= sizeof parent) return ENAMETOOLONG;
  memcpy(parent, cwd, cl + 1);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if ((e = mkdirs(parent, 0711))) return e;
  }
  if (mkdir(cwd, 0700) != 0 && errno != EEXIST) return errno;
  if (uid >= 0 && chown(cwd, (uid_t)uid, (gid_t)gid) != 0) return errno;
  if (chdir(cwd) != 0) return errno;
  if (nhidden > 0 && (e = hide_paths(cwd, step))) return e;
  if (uid >= 0) {
    *step = "user";
    gid_t groups[64];
    int ng = parse_groups(f[10], groups, 64);
    if (setgroups((size_t)ng, groups) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) return errno;
  }
  umask(022);
  signal(SIGPIPE, SIG_DFL); /* ignored here; the attempt gets the default back */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  *step = "exec";
  execve("/bin/sh", argv, envp);
  return errno;
}

static void launch(char **f, size_t nf) {
  /* f: key cwd stdout stderr status pidfile command cmdfile uid gid groups mem cpu nenv env... */
  const char *key = f[0], *status = f[4], *pidfile = f[5];
  size_t nenv = nf - 14;
  ssize_t slot = -1;
  if (ncgroups > 0 && (slot = slot_take()) < 0) {
    emit_failure(key, errno ? errno : EIO, "cgroup");
    return;
  }
  char **envp = xmalloc((nenv + 1) * sizeof(char *));
  for (size_t j = 0; j < nenv; j++) envp[j] = f[14 + j];
  envp[nenv] = NULL;
  /* fork, not vfork: the shim goes on with the next launch while this child sets the attempt up and
   * execs (on a slow file system that is the long part). A failure before exec is reported through a
   * close-on-exec pipe: EOF means the exec succeeded, an errno value and the step mean it did not. */
  int rep[2];
  if (pipe2(rep, O_CLOEXEC) != 0) {
    int e = errno;
    free(envp);
    if (slot >= 0) slot_release((size_t)slot);
    emit_failure(key, e, "pipe");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(rep[0]);
    const char *step = "setup";
    int e = child_setup(f, envp, slot >= 0 ? slots[slot].name : NULL, &step);
    char msg[64];
    memset(msg, 0, sizeof msg);
    memcpy(msg, &e, sizeof e);
    snprintf(msg + sizeof e, sizeof msg - sizeof e, "%s", step);
    ssize_t w = write(rep[1], msg, sizeof msg); /* nothing more can be done if this fails */
    (void)w;
    _exit(127);
  }
  int e = pid < 0 ? errno : 0;
  free(envp);
  close(rep[1]);
  if (e != 0) {
    close(rep[0]);
    if (slot >= 0) slot_release((size_t)slot);
    emit_failure(key, e, "fork");
    return;
  }
  if (nchildren == cap_children) {
    cap_children = cap_children ? cap_children * 2 : 64;
    children = realloc(children, cap_children * sizeof *children);
    if (!children) die("realloc");
  }
  children[nchildren].pid = pid;
  children[nchildren].key = xstrdup(key);
  children[nchildren].status = xstrdup(status);
  children[nchildren].pidfile = NULL;
  children[nchildren].pending_pidfile = xstrdup(pidfile);
  children[nchildren].launch_fd = rep[0];
  children[nchildren].slot = slot;
  nchildren++;
}

static void drop_child(size_t i) {
  free(children[i].key);
  free(children[i].status);
  free(children[i].pidfile);
  free(children[i].pending_pidfile);
  children[i] = children[--nchildren];
}

/* The exec of children[i] succeeded or failed (its report pipe has data or EOF). On success the pid
 * file is written and the start reported; on failure the child (which exits at once) is reaped, its
 * cgroups removed and the failure reported. Returns 0 if the child is gone (and children[i] now
 * holds another one). */
static int finish_launch(size_t i) {
  struct child *c = &children[i];
  char msg[64];
  ssize_t n;
  while ((n = read(c->launch_fd, msg, sizeof msg)) < 0 && errno == EINTR) {
  }
  close(c->launch_fd);
  c->launch_fd = -1;
  if (n == (ssize_t)sizeof msg) {
    int e;
    memcpy(&e, msg, sizeof e);
    msg[sizeof msg - 1] = '\0';
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    if (c->slot >= 0) slot_release((size_t)c->slot);
    emit_failure(c->key, e, msg + sizeof e);
    drop_child(i);
    return 0;
  }
  char ticks[32];
  start_ticks(c->pid, ticks, sizeof ticks); /* valid even if it already ended: not reaped yet */
  char pidline[64];
  int pl = snprintf(pidline, sizeof pidline, "%d %s\n", (int)c->pid, ticks);
  int pfd = open(c->pending_pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (pfd >= 0) {
    ssize_t w = write(pfd, pidline, (size_t)pl);
    close(pfd);
    if (w == pl) {
      c->pidfile = c->pending_pidfile;
      c->pending_pidfile = NULL;
    }
  }
  char line[512];
  int l = snprintf(line, sizeof line, "S %s %d %s %s\n", c->key, (int)c->pid, ticks, c->slot >= 0 ? slots[c->slot].name : "-");
  emit(line, (size_t)l);
  return 1;
}

/* The exit is seen with WNOWAIT and the child reaped only after its status file is written: until then
 * its pid stays taken (a zombie), so a service watching the pid never sees it gone without a status. */
static void reap(void) {
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
    pid_t pid = si.si_pid;
    for (size_t i = 0; i < nchildren; i++) {
      if (children[i].pid != pid) continue;
      /* ended before its exec report was read: read it now (start or failure comes first) */
      if (children[i].launch_fd >= 0 && !finish_launch(i)) break;
      char body[64], line[512];
      int ok = si.si_code == CLD_EXITED && si.si_status == 0;
      /* a failed attempt whose memory cgroup killed for memory ran out of memory, whichever process
       * was killed (the shell then exits 137): the cgroup counts it, the signal cannot tell */
      const char *oom = "";
      ssize_t s = children[i].slot;
      if (s >= 0) {
        long kills = cg_oom_kills(slots[s].name);
        if (!ok && kills > slots[s].oom_seen) oom = " oom";
        slots[s].oom_seen = kills;
      }
      int bl = si.si_code == CLD_EXITED ? snprintf(body, sizeof body, "exit %d%s\n", si.si_status, oom)
                                        : snprintf(body, sizeof body, "signal %d%s\n", si.si_status, oom);
      /* the pid file gets the status line and becomes the status file (no new file: on some file
       * systems creating files is the dearest part of an attempt); otherwise a fresh status file */
      int done = 0;
      if (children[i].pidfile) {
        int fd = open(children[i].pidfile, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
          done = write(fd, body, (size_t)bl) == bl;
          close(fd);
          done = done && rename(children[i].pidfile, children[i].status) == 0;
        }
      }
      if (!done) {
        int fd = open(children[i].status, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
          ssize_t w = write(fd, body, (size_t)bl);
          (void)w;
          close(fd);
        }
        if (children[i].pidfile) unlink(children[i].pidfile);
      }
      int n = snprintf(line, sizeof line, "E %s %s", children[i].key, body);
      emit(line, (size_t)n);
      /* what the attempt left running dies with it */
      if (s >= 0) slot_release((size_t)s);
      drop_child(i);
      break;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

/* --probe-ns DIR: can an attempt's mount namespace cover DIR? (run in a child, so nothing stays) */
static int probe_ns(const char *dir) {
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0711") != 0) {
      fprintf(stderr, "%s\n", strerror(errno));
      _exit(1);
    }
    _exit(0);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return 1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void usage(const char *self) {
  fprintf(stderr, "usage: %s [--nice N] [--cgroup DIR]... [--pids-max N] [--hide PATH]...\n       %s --probe-ns DIR\n", self, self);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--probe-ns") == 0) return probe_ns(argv[2]);
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage(argv[0]);
    const char *opt = argv[i], *val = argv[++i];
    if (strcmp(opt, "--nice") == 0) {
      attempt_nice = atoi(val);
      errno = 0;
      int own = getpriority(PRIO_PROCESS, 0);
      attempt_priority = own + attempt_nice > 19 ? 19 : own + attempt_nice;
    } else if (strcmp(opt, "--cgroup") == 0 && ncgroups < MAX_LIST) {
      cgroup_dirs[ncgroups++] = val;
    } else if (strcmp(opt, "--pids-max") == 0) {
      pids_max = atol(val);
    } else if (strcmp(opt, "--hide") == 0 && nhidden < MAX_LIST) {
      hidden[nhidden++] = val;
    } else {
      usage(argv[0]);
    }
  }
  umask(022);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) die("sigprocmask");
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");

  size_t cap = 1 << 16, len = 0;
  char *buf = xmalloc(cap);
  int input_open = 1;
  for (;;) {
    flush_events();
    if (!input_open && nchildren == 0 && ndraining == 0) {
      for (size_t s = 0; s < nslots; s++)
        if (slots[s].state == SLOT_FREE) slot_remove(&slots[s]);
      return 0;
    }
    /* the signalfd, the requests, and the exec reports of children still starting */
    size_t np = 2;
    for (size_t i = 0; i < nchildren; i++) np += children[i].launch_fd >= 0;
    if (np > cap_polls) {
      cap_polls = np * 2;
      polls = realloc(polls, cap_polls * sizeof *polls);
      poll_pids = realloc(poll_pids, cap_polls * sizeof *poll_pids);
      if (!polls || !poll_pids) die("realloc");
    }
    struct pollfd *p = polls;
    p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
    p[1] = (struct pollfd){.fd = input_open ? 0 : -1, .events = POLLIN};
    np = 2;
    for (size_t i = 0; i < nchildren; i++) {
      if (children[i].launch_fd < 0) continue;
      poll_pids[np] = children[i].pid;
      p[np++] = (struct pollfd){.fd = children[i].launch_fd, .events = POLLIN};
    }
    int r = poll(p, np, ndraining > 0 ? 50 : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (ndraining > 0) drain_pass();
    for (size_t j = 2; j < np; j++) {
      if (!p[j].revents) continue;
      for (size_t i = 0; i < nchildren; i++) {
        if (children[i].pid == poll_pids[j] && children[i].launch_fd >= 0) {
          finish_launch(i);
          break;
        }
      }
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
      reap();
    }
    if (input_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (len == cap) {
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) die("realloc");
      }
      ssize_t n = read(0, buf + len, cap - len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        input_open = 0;
        continue;
      }
      len += (size_t)n;
      /* parse every complete request: "L" and 14 fixed fields, the last of which counts the env */
      size_t pos = 0;
      for (;;) {
        char *f[4096];
        size_t nf = 0, q = pos;
        int complete = 0;
        size_t need = 15;
        while (q < len) {
          char *end = memchr(buf + q, '\0', len - q);
          if (!end) break;
          if (nf < 4096) f[nf] = buf + q;
          nf++;
          q = (size_t)(end - buf) + 1;
          if (nf == 15) need = 15 + (size_t)strtoul(f[14], NULL, 10);
          if (nf >= 15 && nf == need) {
            complete = 1;
            break;
          }
        }
        if (!complete) break;
        if (nf <= 4096 && f[0][0] == 'L' && f[0][1] == '\0') launch(f + 1, nf - 1);
        pos = q;
      }
      memmove(buf, buf + pos, len - pos);
      len -= pos;
    }
  }
}
