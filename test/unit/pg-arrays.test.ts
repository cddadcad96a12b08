// Array literals of the PostgreSQL batch statements (src/store/postgres/arrays.ts), read back by a real
// server as text[]: every element arrives as it was sent, on the JSON.stringify fast path and off it
// (control characters, surrogates). Without a server, skips (saying why).
import { describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/store/postgres/arrays.ts';
import { pgSkipReason, withAdmin } from '../support/pg.ts';

const skip = await pgSkipReason();

const ELEMENTS = [
  'plain', '', 'with "quotes" and \\backslashes\\', '{"Seq":1,"Reason":"a \\"b\\"\\n"}', 'NULL', 'a,b}{', ' spaced ',
  'line\nbreak\ttab\u0001', 'emoji 🚀 pair', '中文', 'x\u2028y',
];

describe.skipIf(!!skip)(`PostgreSQL array literals${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('come back from the server as the strings, numbers and nulls they were made of', async () => {
    const values: (string | number | null)[] = [...ELEMENTS, null, 42, -7];
    const back = await withAdmin(async (c) => (await c.query<{ a: (string | null)[] }>('SELECT $1::text[] AS a', [arrayLiteral(values)])).rows[0]!.a);
    expect(back).toEqual(values.map((v) => (typeof v === 'number' ? String(v) : v)));
  });

  it('quote a JSON body on the fast path exactly as the escaping path would', () => {
    const body = JSON.stringify([{ Seq: 1, Reason: 'exit "2"\n', Path: 'C:\\x' }]);
    expect(arrayLiteral([body])).toBe(`{"${body.replace(/[\\"]/g, '\\$&')}"}`);
  });
});
