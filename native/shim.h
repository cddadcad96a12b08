/*
 * What the parts of openbatch-shim share (openbatch-shim.c: the protocol and the supervision;
 * shim-slots.c: the attempts' cgroup slots; shim-child.c: an attempt's setup between fork and exec;
 * shim-mounts.c: its private mounts).
 */
#ifndef OPENBATCH_SHIM_H
#define OPENBATCH_SHIM_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_LIST 16
/* CFS period of attempt cgroups, µs (the quota is given per this period) */
#define PERIOD_US 100000

/* what a --cgroup parent holds: cgroup v1 controllers, or cgroup v2 (all of them) */
#define CG_MEMORY 1
#define CG_CPU 2
#define CG_PIDS 4
#define CG_CPUACCT 8
#define CG_V2 16

/* set from the command line, the same for every attempt */
extern const char *cgroup_dirs[MAX_LIST];
extern int cgroup_kinds[MAX_LIST];
extern size_t ncgroups;
extern const char *hidden[MAX_LIST];
extern size_t nhidden;
extern long pids_max;
extern const char *scratch_dir;
extern int attempt_nice, attempt_priority;

void die(const char *what);

/* shim-slots.c */
ssize_t slot_take(void);
const char *slot_name(size_t s);
int slot_oom(size_t s);
void slot_usage(size_t s, long long *cpu_us, long long *mem);
void slot_release(size_t s);
size_t slots_draining(void);
void drain_pass(void);
void slots_remove_free(void);
int cg_join(const char *slot, long long mem, long cpu_quota);

/* shim-child.c */
int child_setup(char **f, char **envp, const char *slot, const char **step);
int probe_ns(const char *dir);
int mkdirs(const char *path, mode_t mode);

/* shim-mounts.c */
int private_mounts(char *spec, const char *cwd, const char **step);

#endif
