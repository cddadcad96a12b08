// How the user commands print what they got: `--output table` (the default; columns chosen by each
// command, with cli-table3), `json` (the API's answer as it came, RequestId removed) or `yaml`.
import Table from 'cli-table3';
import YAML from 'yaml';
import { CliError } from './connection.ts';

export type Format = 'table' | 'json' | 'yaml';
export const FORMATS: Format[] = ['table', 'json', 'yaml'];

export function formatOf(s: string | undefined): Format {
  const f = (s ?? 'table') as Format;
  if (!FORMATS.includes(f)) throw new CliError(`--output must be one of ${FORMATS.join(', ')}; got "${s}"`, 2);
  return f;
}

/** A column: its heading and how to get its text from a row. */
export type Column<T> = [heading: string, cell: (row: T) => unknown];

/** The API's data without the RequestId members (at the top level). */
export function withoutRequestId(x: unknown): unknown {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
  const { RequestId: _drop, ...rest } = x as Record<string, unknown>;
  return rest;
}

export function text(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function table<T>(rows: T[], columns: Column<T>[]): string {
  const t = new Table({ head: columns.map(([h]) => h), style: { head: [], border: [] } });
  for (const r of rows) t.push(columns.map(([, f]) => text(f(r))));
  return t.toString();
}

/** Key/value lines of an object (the table form of one resource). */
export function fields(pairs: [string, unknown][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${text(v)}`).join('\n');
}

/** Print `data` in `format`; `tableText` makes the table form. */
export function print(format: Format, data: unknown, tableText: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(withoutRequestId(data), null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(YAML.stringify(withoutRequestId(data)));
  else process.stdout.write(tableText() + '\n');
}
