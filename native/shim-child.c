/*
 * An attempt's setup in openbatch-shim, between clone and exec (in the shim's memory, on a spawner
 * thread's stack and TLS, while other threads of the shim go on: nothing here may touch shared state
 * or leave state behind that a later attempt's setup would read): its session and niceness, its cgroup
 * slot, its log files, its command file, its working directory (for its user), its private mount
 * namespace (its private mounts: shim-mounts.c; the hidden paths covered, its working directory bound
 * back) and its user; then the exec
 * with exactly the environment of its request. Also the start-time probe of mount namespaces.
 */
#include "shim.h" /* first: it defines _GNU_SOURCE */
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* mkdir -p with `mode` for every directory it creates; the parent usually exists, so one mkdir is
 * tried before walking the path */
int mkdirs(const char *path, mode_t mode) {
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

/* A private mount namespace: nothing mounted here may reach the host's mount table. */
static int enter_namespace(const char **step) {
  *step = "mount namespace";
  if (unshare(CLONE_NEWNS) != 0) return errno;
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return errno;
  return 0;
}

/* Cover the hidden paths (in the attempt's mount namespace); bind the working directory (our cwd,
 * already entered) back when it lies below one of them. */
static int hide_paths(const char *cwd, const char **step) {
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

/* Everything between clone and exec; returns only on failure (errno value, *step says what failed). */
int child_setup(char **f, char **envp, const char *slot, const char **step) {
  const char *cwd = f[1], *out = f[2], *err = f[3], *cmd = f[6], *cmdfile = f[7];
  char *mounts = f[13];
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
  if (nhidden > 0 || mounts[0]) {
    /* one namespace for both; the mounts first: their sources lie in the data dir, hidden next */
    if ((e = enter_namespace(step))) return e;
    if (mounts[0] && (e = private_mounts(mounts, cwd, step))) return e;
    if (nhidden > 0 && (e = hide_paths(cwd, step))) return e;
  }
  if (uid >= 0) {
    *step = "user";
    gid_t groups[64];
    int ng = parse_groups(f[10], groups, 64);
    /* the system calls, not glibc's wrappers: in a process with threads those make every thread of
     * the process change its credentials, and this child shares the shim's memory and threads' view */
    if (syscall(SYS_setgroups, (size_t)ng, groups) != 0 || syscall(SYS_setgid, (gid_t)gid) != 0 || syscall(SYS_setuid, (uid_t)uid) != 0) return errno;
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

/* --probe-ns DIR: can an attempt's mount namespace cover DIR? (run in a child, so nothing stays) */
int probe_ns(const char *dir) {
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
