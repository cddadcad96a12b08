/*
 * openbatch-shim: starts and supervises the attempts of one OpenBatch service process.
 *
 * The service starts one shim (in its own session) and sends it launch requests on stdin. The shim
 * starts each attempt with fork + exec (the shim is small, so its fork is cheap, and it goes on while
 * the child opens its files and execs): one process per attempt, `/bin/sh -c <command>` in its own
 * session and process group, stdout/stderr to files, at the shim's niceness plus N with `--nice N`;
 * waits for it, writes its exit status to the attempt's status file, and reports to the service on
 * stdout. When the service goes away (stdin closes, e.g. kill -9), the shim keeps supervising the
 * attempts it started, writing their statuses, and exits after the last one; a restarted service
 * re-adopts them through their status files and pids.
 *
 * Request (all fields NUL-terminated; no field contains NUL):
 *   "L" key cwd stdout stderr status pidfile command nenv env_1 ... env_nenv
 * Before it reports a start, the shim writes "<pid> <starttime>\n" to the pidfile, so an attempt
 * started just before the service died can still be found and adopted.
 * Events (one line each; keys are [A-Za-z0-9._-]):
 *   "S <key> <pid> <starttime>"    started (starttime: field 22 of /proc/<pid>/stat)
 *   "F <key> <errno>"              could not start
 *   "E <key> exit <code>"          ended with an exit code
 *   "E <key> signal <n>"           killed by signal n
 * When the attempt ends, the shim appends "exit <code>\n" or "signal <n>\n" to the pidfile (one write)
 * and renames it to the status file, so the status file appears whole and its last line is the status
 * (where there is no pidfile, the status file is written with that line alone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct child {
  pid_t pid;
  char *key;
  char *status;
  char *pidfile; /* NULL if it could not be written */
  char *pending_pidfile; /* where the pid file goes once the exec is seen to succeed */
  int launch_fd;         /* read end of the exec-report pipe while starting, else -1 */
};

static struct child *children;
static size_t nchildren, cap_children;
static struct pollfd *polls;
static pid_t *poll_pids;
static size_t cap_polls;
static int events_ok = 1; /* stdout still open */
static int attempt_nice;     /* --nice N: added to the shim's niceness for the attempts */
static int attempt_priority; /* the niceness attempts get */

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

/* mkdir -p; the parent usually exists, so one mkdir is tried before walking the path */
static int mkdirs(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    if (errno != ENOENT) return errno;
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
      if (buf[i] == '/' || buf[i] == '\0') {
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return errno;
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

static int name_matches(const char *entry, const char *name_eq) {
  /* entry "NAME=..." against name_eq "NAME=..." */
  const char *a = entry, *b = name_eq;
  while (*a && *a == *b && *a != '=') a++, b++;
  return *a == '=' && *b == '=';
}

static char **base_env;
static size_t nbase_env;

static void init_env(void) {
  size_t n = 0;
  for (char **e = environ; *e; e++) n++;
  base_env = xmalloc((n + 1) * sizeof(char *));
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "OPENBATCH_", 10) != 0) base_env[nbase_env++] = *e;
  base_env[nbase_env] = NULL;
}

static void launch(char **f, size_t nf) {
  /* f: key cwd stdout stderr status pidfile command nenv env... */
  const char *key = f[0], *cwd = f[1], *out = f[2], *err = f[3], *status = f[4], *pidfile = f[5], *cmd = f[6];
  size_t nenv = nf - 8;
  char line[512];
  int e = mkdirs(cwd);
  if (e != 0) {
    int n = snprintf(line, sizeof line, "F %s %d\n", key, e);
    emit(line, (size_t)n);
    return;
  }
  char **envp = xmalloc((nbase_env + nenv + 1) * sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < nbase_env; i++) {
    int overridden = 0;
    for (size_t j = 0; j < nenv && !overridden; j++) overridden = name_matches(base_env[i], f[8 + j]);
    if (!overridden) envp[k++] = base_env[i];
  }
  for (size_t j = 0; j < nenv; j++) envp[k++] = f[8 + j];
  envp[k] = NULL;

  char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
  /* fork, not vfork: the shim goes on with the next launch while this child opens its files and
   * execs (on a slow file system that is the long part). A failure before exec is reported through a
   * close-on-exec pipe: EOF means the exec succeeded, an errno value means it did not. */
  int rep[2];
  if (pipe2(rep, O_CLOEXEC) != 0) {
    e = errno;
    free(envp);
    int n = snprintf(line, sizeof line, "F %s %d\n", key, e);
    emit(line, (size_t)n);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    int fd;
    close(rep[0]);
    if (setsid() < 0) goto fail;
    if (attempt_nice > 0) setpriority(PRIO_PROCESS, 0, attempt_priority);
    if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 0) < 0) goto fail;
    if (fd != 0) close(fd);
    if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || dup2(fd, 1) < 0) goto fail;
    if (fd != 1) close(fd);
    if ((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || dup2(fd, 2) < 0) goto fail;
    if (fd != 2) close(fd);
    if (chdir(cwd) != 0) goto fail;
    signal(SIGPIPE, SIG_DFL); /* ignored here; the attempt gets the default back */
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve("/bin/sh", argv, envp);
  fail:
    e = errno ? errno : EIO;
    ssize_t w = write(rep[1], &e, sizeof e); /* nothing more can be done if this fails */
    (void)w;
    _exit(127);
  }
  e = pid < 0 ? errno : 0;
  free(envp);
  close(rep[1]);
  if (e != 0) {
    close(rep[0]);
    int n = snprintf(line, sizeof line, "F %s %d\n", key, e);
    emit(line, (size_t)n);
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
 * file is written and the start reported; on failure the child (which exits at once) is reaped and the
 * failure reported. Returns 0 if the child is gone (and children[i] now holds another one). */
static int finish_launch(size_t i) {
  struct child *c = &children[i];
  int e = 0;
  ssize_t n;
  while ((n = read(c->launch_fd, &e, sizeof e)) < 0 && errno == EINTR) {
  }
  close(c->launch_fd);
  c->launch_fd = -1;
  char line[512];
  if (n == (ssize_t)sizeof e) {
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    int l = snprintf(line, sizeof line, "F %s %d\n", c->key, e);
    emit(line, (size_t)l);
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
  int l = snprintf(line, sizeof line, "S %s %d %s\n", c->key, (int)c->pid, ticks);
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
      int bl = si.si_code == CLD_EXITED ? snprintf(body, sizeof body, "exit %d\n", si.si_status)
                                        : snprintf(body, sizeof body, "signal %d\n", si.si_status);
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
      drop_child(i);
      break;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--nice") == 0) {
    attempt_nice = atoi(argv[2]);
    errno = 0;
    int own = getpriority(PRIO_PROCESS, 0);
    attempt_priority = own + attempt_nice > 19 ? 19 : own + attempt_nice;
  } else if (argc != 1) {
    fprintf(stderr, "usage: %s [--nice N]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) die("sigprocmask");
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  init_env();

  size_t cap = 1 << 16, len = 0;
  char *buf = xmalloc(cap);
  int input_open = 1;
  for (;;) {
    flush_events();
    if (!input_open && nchildren == 0) return 0;
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
    int r = poll(p, np, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
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
      /* parse every complete request */
      size_t pos = 0;
      for (;;) {
        char *f[4096];
        size_t nf = 0, q = pos;
        int complete = 0;
        size_t need = 9; /* "L" + 8 fixed fields */
        while (q < len) {
          char *end = memchr(buf + q, '\0', len - q);
          if (!end) break;
          if (nf < 4096) f[nf] = buf + q;
          nf++;
          q = (size_t)(end - buf) + 1;
          if (nf == 9) need = 9 + (size_t)strtoul(f[8], NULL, 10);
          if (nf >= 9 && nf == need) {
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
