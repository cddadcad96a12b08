// The fixed choices of settings whose values belong to other layers (rate-limit tables, launchers,
// resource enforcement): plain lists with no imports and no side effects, so that config can check
// a value without loading the api layer or an executor, and those layers name their options from here.

/** Which per-action rate-limit table the API applies (batch-api.md §f.1), or none. */
export const RATE_LIMIT_MODES = ['intl', 'mainland', 'off'] as const;
export type RateLimitMode = (typeof RATE_LIMIT_MODES)[number];

/** How the local executor starts attempts: the C shim, the /bin/sh supervisor, or auto (shim if it builds). */
export const LAUNCHERS = ['auto', 'shim', 'shell'] as const;
export type Launcher = (typeof LAUNCHERS)[number];

/** Whether attempts get cgroups with their instance type's limits. */
export const ENFORCE_MODES = ['on', 'off'] as const;
export type EnforceMode = (typeof ENFORCE_MODES)[number];
