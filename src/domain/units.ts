// vCPUs and memory as the wait reasons, refusals and out-of-memory details word them.

export function vcpus(n: number): string {
  const v = Math.round(n * 100) / 100;
  return `${v} vCPU${v === 1 ? '' : 's'}`;
}

export function gib(n: number): string {
  return `${Math.round(n * 10) / 10} GiB`;
}
