/*
 * The cgroup slots of openbatch-shim. Attempts run in slots: a slot is one cgroup per hierarchy
 * (`s<shim pid>-<n>` below each --cgroup parent), used by one attempt after another. Creating and
 * removing a cgroup per attempt costs more than the attempt on a busy machine, and a removed memory
 * cgroup lingers in the kernel while the page cache it charged (the attempt's logs) is alive:
 * thousands of those slow every memory cgroup down. A slot whose attempt left processes is drained
 * (they are killed) before it is used again; one that still holds much memory that cannot be
 * reclaimed (files in a tmpfs, which would count against the next attempt's limit) is retired. The
 * slots are removed when the shim exits. What an attempt used is read from its slot when it ends
 * (slot_usage): counters are reset, or their value at the attempt's start kept, for each attempt.
 */
#include "shim.h" /* first: it defines _GNU_SOURCE */
#include <signal.h>

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_DRAINING, SLOT_RETIRING, SLOT_DEAD };

struct slot {
  char name[48];
  enum slot_state state;
  long oom_seen; /* its memory cgroup's OOM kills when its last attempt ended */
  long long cpu_base_us; /* v2: its cpu.stat usage_usec when its last attempt ended */
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

/* Write `value` to a cgroup file; a file that may be missing (ENOENT) counts as written when `optional`. */
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
ssize_t slot_take(void) {
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
    if (pids_max > 0 && (cgroup_kinds[i] & (CG_PIDS | CG_V2)) && (errno = cg_write(i, sl->name, "pids.max", v, 0))) return -1;
  }
  sl->state = SLOT_BUSY;
  sl->oom_seen = 0;
  sl->cpu_base_us = 0;
  sl->tries = 0;
  return (ssize_t)nslots++;
}

/* The parent that holds a controller (v1), or the v2 one; -1 when there is none. */
static ssize_t dir_of(int kind) {
  for (size_t i = 0; i < ncgroups; i++)
    if (cgroup_kinds[i] & (kind | CG_V2)) return (ssize_t)i;
  return -1;
}

/* In the child: the slot's limits for this attempt, then into it. */
int cg_join(const char *slot, long long mem, long cpu_quota) {
  char v[64];
  for (size_t i = 0; i < ncgroups; i++) {
    int k = cgroup_kinds[i], e;
    if (mem > 0 && (k & CG_MEMORY)) {
      snprintf(v, sizeof v, "%lld", mem);
      /* memory + swap may never be below memory: raised first when the limit goes up (no file
       * without swap accounting) */
      if ((e = cg_write(i, slot, "memory.limit_in_bytes", v, 0)) == EINVAL) {
        if ((e = cg_write(i, slot, "memory.memsw.limit_in_bytes", v, 1)) || (e = cg_write(i, slot, "memory.limit_in_bytes", v, 0))) return e;
      } else if (e || (e = cg_write(i, slot, "memory.memsw.limit_in_bytes", v, 1))) {
        return e;
      }
    }
    if (mem > 0 && (k & CG_V2)) {
      snprintf(v, sizeof v, "%lld", mem);
      if ((e = cg_write(i, slot, "memory.max", v, 0)) || (e = cg_write(i, slot, "memory.swap.max", "0", 1))) return e;
    }
    if (cpu_quota > 0 && (k & CG_CPU)) {
      snprintf(v, sizeof v, "%ld", cpu_quota);
      if ((e = cg_write(i, slot, "cpu.cfs_quota_us", v, 0))) return e;
    }
    if (cpu_quota > 0 && (k & CG_V2)) {
      snprintf(v, sizeof v, "%ld %d", cpu_quota, PERIOD_US);
      if ((e = cg_write(i, slot, "cpu.max", v, 0))) return e;
    }
    /* cpuacct counts CPU time per cgroup: from zero for each attempt */
    if ((k & CG_CPUACCT) && (e = cg_write(i, slot, "cpuacct.usage", "0", 0))) return e;
    /* and the peak memory from what the slot holds now (best effort: it is only reported) */
    if (k & CG_MEMORY) cg_write(i, slot, "memory.max_usage_in_bytes", "0", 1);
    if ((e = cg_write(i, slot, "cgroup.procs", "0", 0))) return e;
  }
  return 0;
}

/* OOM kills counted by the slot's memory cgroup so far (v1 memory.oom_control, v2 memory.events). */
static long cg_oom_kills(const char *slot) {
  ssize_t i = dir_of(CG_MEMORY);
  if (i < 0) return 0;
  long long n = cg_read((size_t)i, slot, cgroup_kinds[i] & CG_V2 ? "memory.events" : "memory.oom_control", "oom_kill");
  return n < 0 ? 0 : (long)n;
}

/* Kill what is in the slot's cgroups; 1 when none of them held a process. */
static int slot_clear(const struct slot *sl) {
  /* an attempt's processes are in each of its cgroups: the first one lists them all */
  char procs[PATH_MAX];
  if (ncgroups == 0 || cg_path(procs, sizeof procs, 0, sl->name, "cgroup.procs")) return 1;
  FILE *f = fopen(procs, "re");
  if (!f) return 1;
  int empty = 1;
  long pid;
  while (fscanf(f, "%ld", &pid) == 1) {
    empty = 0;
    kill((pid_t)pid, SIGKILL);
  }
  fclose(f);
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
void slot_release(size_t s) {
  struct slot *sl = &slots[s];
  /* memory nothing can reclaim once the attempt is gone: files it left in a tmpfs (page cache of
   * files on disk is reclaimed when the next attempt needs the room) */
  ssize_t m = dir_of(CG_MEMORY);
  int retire = m >= 0 && cg_read((size_t)m, sl->name, "memory.stat", "shmem") > RETIRE_BYTES;
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
void drain_pass(void) {
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

const char *slot_name(size_t s) {
  return slots[s].name;
}

/* Did the slot's memory cgroup kill for memory since the last call (its last attempt's end)? */
int slot_oom(size_t s) {
  long kills = cg_oom_kills(slots[s].name);
  int more = kills > slots[s].oom_seen;
  slots[s].oom_seen = kills;
  return more;
}

/* What the slot's attempt, which just ended, used over its life: CPU µs and peak memory bytes, each
 * left as it is where the slot has no counter for it (v1 without cpuacct; memory in v2, whose
 * memory.peak spans every attempt of the slot). Called once per attempt, before slot_release. */
void slot_usage(size_t s, long long *cpu_us, long long *mem) {
  struct slot *sl = &slots[s];
  ssize_t a = dir_of(CG_CPUACCT);
  if (a >= 0 && (cgroup_kinds[a] & CG_V2)) {
    long long total = cg_read((size_t)a, sl->name, "cpu.stat", "usage_usec");
    if (total >= sl->cpu_base_us) {
      *cpu_us = total - sl->cpu_base_us;
      sl->cpu_base_us = total;
    }
  } else if (a >= 0) {
    long long ns = cg_read((size_t)a, sl->name, "cpuacct.usage", NULL);
    if (ns >= 0) *cpu_us = ns / 1000;
  }
  ssize_t m = dir_of(CG_MEMORY);
  if (m >= 0 && !(cgroup_kinds[m] & CG_V2)) {
    long long peak = cg_read((size_t)m, sl->name, "memory.max_usage_in_bytes", NULL);
    if (peak > 0) *mem = peak;
  }
}

size_t slots_draining(void) {
  return ndraining;
}

void slots_remove_free(void) {
  for (size_t s = 0; s < nslots; s++)
    if (slots[s].state == SLOT_FREE) slot_remove(&slots[s]);
}
