// Filter checks shared by the Describe actions (batch-api.md §g): known names, values present,
// limits. Filters are ANDed, the values of one filter ORed.
import { apiError } from '../domain/errors.ts';
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
    throw apiError('InvalidParameterValue.LimitExceeded', { param: param, problem: `has ${list.length} filters; at most ${limits.maxFiltersPerRequest} are allowed` });
  }
  return list.map((f, i) => {
    if (!known(f.Name)) throw apiError('InvalidFilter', { param: `${param}.${i}.Name`, name: f.Name });
    if (f.Values.length === 0) throw apiError('InvalidParameterValue.InvalidFilter', { param: `${param}.${i}.Values`, problem: 'must not be empty' });
    if (f.Values.length > limits.maxValuesPerFilter) {
      throw apiError('InvalidParameterValue.LimitExceeded', { param: `${param}.${i}.Values`, problem: `has ${f.Values.length} values; at most ${limits.maxValuesPerFilter} are allowed` });
    }
    if (f.Name.startsWith('tag:') && f.Name.length === 4) throw apiError('InvalidParameterValue.InvalidFilter', { param: `${param}.${i}.Name`, problem: '"tag:" must name a tag key' });
    return { name: f.Name, values: f.Values };
  });
}

/** Offset/Limit of a paged Describe action. */
export function checkPage(offset: number | undefined, limit: number | undefined, def: number, max: number, min = 0): { offset: number; limit: number } {
  const o = offset ?? 0;
  const l = limit ?? def;
  if (o < 0) throw apiError('InvalidParameterValue', { param: 'Offset', problem: `must not be negative; got ${o}` });
  if (l < min || l > max) throw apiError('InvalidParameterValue', { param: 'Limit', problem: `must be between ${min} and ${max}; got ${l}` });
  return { offset: o, limit: l };
}
