// Filter checks shared by the Describe actions (batch-api.md §g): known names, values present,
// limits. Filters are ANDed, the values of one filter ORed.
import { ApiError } from '../domain/errors.ts';
import type { Limits } from '../config/config.ts';

export interface CheckedFilter {
  name: string;
  values: string[];
}

export function checkFilters(
  list: { Name: string; Values: string[] }[] | undefined,
  known: (name: string) => boolean,
  limits: Limits,
  param = 'Filters',
): CheckedFilter[] {
  if (!list) return [];
  if (list.length > limits.maxFiltersPerRequest) {
    throw new ApiError('InvalidParameterValue.LimitExceeded', `${param} has ${list.length} filters; at most ${limits.maxFiltersPerRequest} are allowed.`);
  }
  return list.map((f, i) => {
    if (!known(f.Name)) throw new ApiError('InvalidFilter', `${param}.${i}.Name "${f.Name}" is not a supported filter here.`);
    if (f.Values.length === 0) throw new ApiError('InvalidParameterValue.InvalidFilter', `${param}.${i}.Values must not be empty.`);
    if (f.Values.length > limits.maxValuesPerFilter) {
      throw new ApiError('InvalidParameterValue.LimitExceeded', `${param}.${i}.Values has ${f.Values.length} values; at most ${limits.maxValuesPerFilter} are allowed.`);
    }
    if (f.Name.startsWith('tag:') && f.Name.length === 4) throw new ApiError('InvalidParameterValue.InvalidFilter', `${param}.${i}.Name "tag:" must name a tag key.`);
    return { name: f.Name, values: f.Values };
  });
}

/** Offset/Limit of a paged Describe action. */
export function checkPage(offset: number | undefined, limit: number | undefined, def: number, max: number, min = 0): { offset: number; limit: number } {
  const o = offset ?? 0;
  const l = limit ?? def;
  if (o < 0) throw new ApiError('InvalidParameterValue', `Offset must not be negative; got ${o}.`);
  if (l < min || l > max) throw new ApiError('InvalidParameterValue', `Limit must be between ${min} and ${max}; got ${l}.`);
  return { offset: o, limit: l };
}
