/*
 * openbatch-shim: starts and supervises the attempts of one OpenBatch service process.
 *
 * The service starts one shim (in its own session) and sends it launch requests on stdin. The shim
 * starts each attempt from a spawner thread as a child that shares the shim's memory until it execs
 * (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does: see `spawner` below; the main thread goes
 * on while a child sets its attempt up): one process per attempt, `/bin/sh -c <command>` (or
 * `/bin/sh <command file>` for a command too long for an argument) in its own session and process
 * group, stdout/stderr to files, at the shim's niceness plus N with `--nice N`; waits for it, writes
 * its exit status to the attempt's status file, and reports to the service on stdout. When the
 * service goes away (stdin closes, e.g. kill -9), the shim keeps supervising the attempts it started,
 * writing their statuses, and exits after the last one; a restarted service re-adopts them through
 * their status files and pids.
 *
 * Isolation, set up in the child before exec (shim-child.c; each step only when asked for):
 *   - cgroups: `--cgroup KINDS:DIR` (repeatable: one per cgroup v1 hierarchy, KINDS its controllers
 *     among memory, cpu, pids, cpuacct; or `v2:DIR`, the one cgroup v2 directory) names parents; the attempt gets a slot (DIR/s<shim pid>-<n> in each, reused by one
 *     attempt after another: see shim-slots.c), with the memory, CPU (CFS quota) and pids limits of
 *     its request written to whichever of the limit files the directory has, and joins them. When
 *     the attempt ends, the OOM kills its memory cgroup counted meanwhile are read (the status then
 *     says `oom`) and whatever is left in the slot is killed.
 *   - a private mount namespace (`--hide PATH`, repeatable, a directory first): each hidden directory
 *     is covered by an empty tmpfs and each hidden file by an empty file only root may read, so the
 *     attempt sees nothing of them; its working directory, when it lies below a hidden directory, is
 *     bound back at its own path.
 *   - private mounts (the request's `mounts`; `--scratch DIR` names an empty directory of the service
 *     where an attempt that needs overlays mounts a tmpfs of its own for their upper layers): sources
 *     of the service bound at other paths, in the same mount namespace, before the hidden paths are
 *     covered (see shim-mounts.c for what the host sees).
 *   - the attempt's user: uid, gid and supplementary groups of the request (the working directory and
 *     its temporary directory are created for that user; log files are opened before the switch).
 *   - the environment is exactly the request's (the shim's own is never passed on).
 *
 * Request (all fields NUL-terminated; no field contains NUL):
 *   "L" key cwd stdout stderr status pidfile command cmdfile uid gid groups mem cpu mounts nenv
 *       env_1 ... env_nenv
 *   cmdfile: "" or a file holding the command (then `command` is ignored); uid/gid: "-1" = keep ours;
 *   groups: comma-separated gids; mem: bytes (0 = no limit); cpu: CFS quota in µs per 100 ms period
 *   (0 = no limit); mounts: "" or lines "r|w\t<source>\t<target>" joined by '\n', parents first.
 * Before it reports a start, the shim writes "<pid> <starttime>\n" to the pidfile, so an attempt
 * started just before the service died can still be found and adopted.
 * Events (one line each; keys are [A-Za-z0-9._-]):
 *   "S <key> <pid> <starttime> <slot>"  started (starttime: field 22 of /proc/<pid>/stat; slot: its
 *                                  cgroups' name, "-" for none)
 *   "F <key> <errno> <step>"       could not start (step: which part of the setup failed)
 *   "E <key> exit <code>[ oom] cpu=<s>[ mem=<bytes>]"
 *                                  ended with an exit code ("oom": its memory cgroup killed for memory)
 *   "E <key> signal <n>[ oom] cpu=<s>[ mem=<bytes>]"
 *                                  killed by signal n
 *   What follows the status is what the attempt used over its whole life, as `name=value` words (a
 *   reader skips names it does not know; older shims sent none): cpu= its CPU seconds (decimal), mem=
 *   its peak memory in bytes. With a cgroup slot they are the slot's counters (cpuacct.usage, or v2
 *   cpu.stat usage_usec less what earlier attempts of the slot used; v1 memory.max_usage_in_bytes,
 *   reset when the attempt joins), so they count the attempt's whole tree; otherwise (and for memory
 *   in cgroup v2, whose peak cannot be reset for each attempt of a slot) the rusage of the attempt's
 *   process and the descendants it waited for (ru_utime + ru_stime; ru_maxrss, the largest of them).
 * When the attempt ends, the shim appends "usage cpu=<s>[ mem=<bytes>]\n" and then "exit <code>[ oom]\n"
 * or "signal <n>[ oom]\n" to the pidfile (one write) and renames it to the status file, so the status
 * file appears whole and its last line is the status (where there is no pidfile, the status file is
 * written with those lines alone). The usage line comes before the status line, so a reader that
 * knows only "the last line is the status" still reads it.
 *
 * `openbatch-shim --probe-ns DIR` checks that a private mount namespace can hide DIR (exit 0) — the
 * service asks once at start.
 */
#include "shim.h" /* first: it defines _GNU_SOURCE */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct child {
  pid_t pid;
  char *key;
  char *status;
  char *pidfile; /* NULL if it could not be written */
  ssize_t slot;  /* its cgroup slot, or -1 */
};

static struct child *children;
static size_t nchildren, cap_children;
static int events_ok = 1; /* stdout still open */
int attempt_nice;     /* --nice N: added to the shim's niceness for the attempts */
int attempt_priority; /* the niceness attempts get */
const char *cgroup_dirs[MAX_LIST];
int cgroup_kinds[MAX_LIST];
size_t ncgroups;
const char *hidden[MAX_LIST];
size_t nhidden;
long pids_max;
const char *scratch_dir;

void die(const char *what) {
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

/* the longest report of a failed setup: the step that failed (which may name a path) */
#define REPORT_SIZE 1024

static void emit_failure(const char *key, int e, const char *step) {
  char line[REPORT_SIZE + 256];
  int n = snprintf(line, sizeof line, "F %s %d %s\n", key, e, step);
  emit(line, (size_t)n);
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

/* A launch on its way: the request's fields (copied: the request buffer moves on), its slot, and what
 * its spawner thread found. Owned by the main thread, except while a spawner works on it. */
struct job {
  struct job *next; /* in the spawners' queue */
  char **f;         /* the fields (one block with their text) */
  char **envp;
  ssize_t slot;
  char slot_name[64];
  pid_t pid;        /* written by the kernel (CLONE_PARENT_SETTID) before the child runs */
  int err;          /* 0: it execed; else the errno value of the step that failed */
  char step[REPORT_SIZE];
};

/* The spawners: threads that start attempts. An attempt's child shares the shim's memory until it
 * execs (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does: no copy of the shim's page tables,
 * no copy-on-write faults afterwards; on a machine where those are dear, a fork costs more than the
 * rest of a trivial attempt), and the thread that clones waits until the child has execed or failed.
 * So that a setup that blocks (a FIFO as a log file, a hung file system) holds up only its own
 * thread, never the shim's supervision or the other launches, each launch goes to an idle spawner and
 * a new one is started when none is idle. A spawner hands its finished job back to the main thread
 * through a pipe (the job's address); the main thread writes the pid file and reports the start. */
#define CHILD_STACK (512 * 1024)
#define MAX_SPAWNERS 256
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static struct job *qhead, *qtail;
static size_t nqueued, nidle, nspawners;
static int done_pipe[2];
static struct job **pending; /* launches not finished yet (queued or being spawned) */
static size_t npending, cap_pending;

static int child_main(void *arg) {
  struct job *j = arg;
  const char *step = "setup";
  int e = child_setup(j->f, j->envp, j->slot >= 0 ? j->slot_name : NULL, &step);
  snprintf(j->step, sizeof j->step, "%s", step);
  j->err = e ? e : EIO;
  _exit(127);
}

static void *spawner(void *unused) {
  (void)unused;
  char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  for (;;) {
    pthread_mutex_lock(&qlock);
    nidle++;
    while (!qhead) pthread_cond_wait(&qcond, &qlock);
    nidle--;
    struct job *j = qhead;
    qhead = j->next;
    if (!qhead) qtail = NULL;
    nqueued--;
    pthread_mutex_unlock(&qlock);
    if (stack == MAP_FAILED) {
      j->err = ENOMEM;
      snprintf(j->step, sizeof j->step, "fork");
    } else if (clone(child_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, j, &j->pid) < 0) {
      j->err = errno;
      snprintf(j->step, sizeof j->step, "fork");
    }
    /* a pointer is written whole (less than PIPE_BUF); the main thread reads them all */
    while (write(done_pipe[1], &j, sizeof j) < 0 && errno == EINTR) {
    }
  }
  return NULL;
}

static void finish_launch(struct job *j);

static void launch(char **f, size_t nf) {
  /* f: key cwd stdout stderr status pidfile command cmdfile uid gid groups mem cpu mounts nenv env... */
  const char *key = f[0];
  size_t nenv = nf - 15;
  ssize_t slot = -1;
  if (ncgroups > 0 && (slot = slot_take()) < 0) {
    emit_failure(key, errno ? errno : EIO, "cgroup");
    return;
  }
  size_t text = 0;
  for (size_t i = 0; i < nf; i++) text += strlen(f[i]) + 1;
  struct job *j = xmalloc(sizeof *j);
  memset(j, 0, sizeof *j);
  char **copy = xmalloc((nf + 1) * sizeof(char *) + (nenv + 1) * sizeof(char *) + text);
  char **envp = copy + nf + 1;
  char *t = (char *)(envp + nenv + 1);
  for (size_t i = 0; i < nf; i++) {
    size_t n = strlen(f[i]) + 1;
    memcpy(t, f[i], n);
    copy[i] = t;
    t += n;
  }
  copy[nf] = NULL;
  for (size_t i = 0; i < nenv; i++) envp[i] = copy[15 + i];
  envp[nenv] = NULL;
  j->f = copy;
  j->envp = envp;
  j->slot = slot;
  if (slot >= 0) snprintf(j->slot_name, sizeof j->slot_name, "%s", slot_name((size_t)slot));
  if (npending == cap_pending) {
    cap_pending = cap_pending ? cap_pending * 2 : 64;
    pending = realloc(pending, cap_pending * sizeof *pending);
    if (!pending) die("realloc");
  }
  pending[npending++] = j;
  pthread_mutex_lock(&qlock);
  if (qtail) qtail->next = j;
  else qhead = j;
  qtail = j;
  nqueued++;
  int more = nqueued > nidle && nspawners < MAX_SPAWNERS;
  pthread_cond_signal(&qcond);
  pthread_mutex_unlock(&qlock);
  if (more) {
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&th, &a, spawner, NULL);
    pthread_attr_destroy(&a);
    if (e == 0) {
      nspawners++;
    } else if (nspawners == 0) {
      /* with no spawner at all nothing would start: j (the only job queued) fails at once; with
       * some, it waits for a busy one */
      pthread_mutex_lock(&qlock);
      qhead = qtail = NULL;
      nqueued = 0;
      pthread_mutex_unlock(&qlock);
      j->err = e;
      snprintf(j->step, sizeof j->step, "thread");
      finish_launch(j);
    }
  }
}

static void drop_child(size_t i) {
  free(children[i].key);
  free(children[i].status);
  free(children[i].pidfile);
  children[i] = children[--nchildren];
}

/* A spawner is done with j: on success the pid file is written and the start reported; on failure the
 * child (which exits at once) is reaped, its cgroups released and the failure reported. */
static void finish_launch(struct job *j) {
  for (size_t i = 0; i < npending; i++)
    if (pending[i] == j) {
      pending[i] = pending[--npending];
      break;
    }
  const char *key = j->f[0], *status = j->f[4], *pidfile = j->f[5];
  if (j->err != 0) {
    if (j->pid > 0)
      while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {
      }
    if (j->slot >= 0) slot_release((size_t)j->slot);
    j->step[sizeof j->step - 1] = '\0';
    emit_failure(key, j->err, j->step);
  } else {
    char ticks[32];
    start_ticks(j->pid, ticks, sizeof ticks); /* valid even if it already ended: not reaped yet */
    char pidline[64];
    int pl = snprintf(pidline, sizeof pidline, "%d %s\n", (int)j->pid, ticks);
    char *written = NULL;
    int pfd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (pfd >= 0) {
      ssize_t w = write(pfd, pidline, (size_t)pl);
      close(pfd);
      if (w == pl) written = xstrdup(pidfile);
    }
    if (nchildren == cap_children) {
      cap_children = cap_children ? cap_children * 2 : 64;
      children = realloc(children, cap_children * sizeof *children);
      if (!children) die("realloc");
    }
    children[nchildren].pid = j->pid;
    children[nchildren].key = xstrdup(key);
    children[nchildren].status = xstrdup(status);
    children[nchildren].pidfile = written;
    children[nchildren].slot = j->slot;
    nchildren++;
    char line[512];
    int l = snprintf(line, sizeof line, "S %s %d %s %s\n", key, (int)j->pid, ticks, j->slot >= 0 ? j->slot_name : "-");
    emit(line, (size_t)l);
  }
  free(j->f);
  free(j);
}

/* Every job the spawners have handed back so far (wait: block until at least one comes). */
static void collect_launches(int wait) {
  if (wait) {
    struct pollfd p = {.fd = done_pipe[0], .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  }
  struct job *js[64];
  ssize_t n;
  while ((n = read(done_pipe[0], js, sizeof js)) > 0)
    for (size_t i = 0; i < (size_t)n / sizeof js[0]; i++) finish_launch(js[i]);
}

/* Is pid the child of a launch not finished yet? (The kernel wrote the pid before the child ran, so
 * a child seen exiting has its pid in its job.) */
static int is_pending(pid_t pid) {
  for (size_t i = 0; i < npending; i++)
    if (__atomic_load_n(&pending[i]->pid, __ATOMIC_ACQUIRE) == pid) return 1;
  return 0;
}

/* The exit is seen with WNOWAIT and the child reaped only after its status file is written: until then
 * its pid stays taken (a zombie), so a service watching the pid never sees it gone without a status.
 * The waitid system call (not glibc's wrapper) also gives the zombie's rusage, its own and that of
 * the children it reaped: the attempt's CPU time and peak memory when no cgroup counts them. */
static void reap(void) {
  for (;;) {
    siginfo_t si;
    struct rusage ru;
    memset(&si, 0, sizeof si);
    memset(&ru, 0, sizeof ru);
    if (syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT, &ru) != 0 || si.si_pid == 0) return;
    pid_t pid = si.si_pid;
    /* it ended before its spawner handed its launch back: finish that first (its spawner has been
     * released by the exit, so it comes at once), then look again */
    if (is_pending(pid)) {
      while (is_pending(pid)) collect_launches(1);
      continue;
    }
    for (size_t i = 0; i < nchildren; i++) {
      if (children[i].pid != pid) continue;
      char body[160], line[512];
      int ok = si.si_code == CLD_EXITED && si.si_status == 0;
      /* a failed attempt whose memory cgroup killed for memory ran out of memory, whichever process
       * was killed (the shell then exits 137): the cgroup counts it, the signal cannot tell */
      const char *oom = "";
      ssize_t s = children[i].slot;
      if (s >= 0 && slot_oom((size_t)s) && !ok) oom = " oom";
      /* what it used: its slot's counters (its whole tree) where they exist, else its rusage; read
       * before the slot is released (and maybe reused) */
      long long cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
      long long mem = (long long)ru.ru_maxrss * 1024;
      if (s >= 0) slot_usage((size_t)s, &cpu_us, &mem);
      char use[80];
      int ul = snprintf(use, sizeof use, "cpu=%lld.%06lld", cpu_us / 1000000, cpu_us % 1000000);
      if (mem > 0) snprintf(use + ul, sizeof use - (size_t)ul, " mem=%lld", mem);
      char status[48];
      if (si.si_code == CLD_EXITED) snprintf(status, sizeof status, "exit %d%s", si.si_status, oom);
      else snprintf(status, sizeof status, "signal %d%s", si.si_status, oom);
      int bl = snprintf(body, sizeof body, "usage %s\n%s\n", use, status);
      /* the pid file gets the usage and status lines and becomes the status file (no new file: on
       * some file systems creating files is the dearest part of an attempt); otherwise a fresh one */
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
      int n = snprintf(line, sizeof line, "E %s %s %s\n", children[i].key, status, use);
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


static void usage(const char *self) {
  fprintf(stderr, "usage: %s [--nice N] [--cgroup KINDS:DIR]... [--pids-max N] [--hide PATH]... [--scratch DIR]\n       %s --probe-ns DIR\n", self, self);
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
      /* KINDS:DIR, KINDS a comma-separated list of memory, cpu, pids, cpuacct, or v2 */
      const char *colon = strchr(val, ':');
      if (!colon) usage(argv[0]);
      int kinds = 0;
      for (const char *k = val; k < colon;) {
        size_t n = strcspn(k, ",:");
        kinds |= strncmp(k, "memory", n) == 0 && n == 6 ? CG_MEMORY : strncmp(k, "cpu", n) == 0 && n == 3 ? CG_CPU
               : strncmp(k, "pids", n) == 0 && n == 4 ? CG_PIDS : strncmp(k, "cpuacct", n) == 0 && n == 7 ? CG_CPUACCT
               : strncmp(k, "v2", n) == 0 && n == 2 ? CG_V2 : 0;
        k += n + (k[n] == ',');
      }
      cgroup_kinds[ncgroups] = kinds;
      cgroup_dirs[ncgroups++] = colon + 1;
    } else if (strcmp(opt, "--pids-max") == 0) {
      pids_max = atol(val);
    } else if (strcmp(opt, "--hide") == 0 && nhidden < MAX_LIST) {
      hidden[nhidden++] = val;
    } else if (strcmp(opt, "--scratch") == 0) {
      scratch_dir = val;
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
  /* the spawners' hand-back: they block on a full pipe (never here), the main thread never does */
  if (pipe2(done_pipe, O_CLOEXEC) != 0 || fcntl(done_pipe[0], F_SETFL, O_NONBLOCK) != 0) die("pipe");

  size_t cap = 1 << 16, len = 0;
  char *buf = xmalloc(cap);
  int input_open = 1;
  for (;;) {
    flush_events();
    if (!input_open && nchildren == 0 && npending == 0 && slots_draining() == 0) {
      slots_remove_free();
      return 0;
    }
    /* the signalfd, the requests, and the launches the spawners hand back */
    struct pollfd p[3] = {{.fd = sfd, .events = POLLIN}, {.fd = input_open ? 0 : -1, .events = POLLIN}, {.fd = done_pipe[0], .events = POLLIN}};
    int r = poll(p, 3, slots_draining() > 0 ? 50 : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (slots_draining() > 0) drain_pass();
    if (p[2].revents & POLLIN) collect_launches(0);
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
      /* parse every complete request: "L" and 15 fixed fields, the last of which counts the env */
      size_t pos = 0;
      for (;;) {
        char *f[4096];
        size_t nf = 0, q = pos;
        int complete = 0;
        size_t need = 16;
        while (q < len) {
          char *end = memchr(buf + q, '\0', len - q);
          if (!end) break;
          if (nf < 4096) f[nf] = buf + q;
          nf++;
          q = (size_t)(end - buf) + 1;
          if (nf == 16) need = 16 + (size_t)strtoul(f[15], NULL, 10);
          if (nf >= 16 && nf == need) {
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
