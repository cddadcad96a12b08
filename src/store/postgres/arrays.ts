// PostgreSQL array literals of columns, built by hand for the batch statements (batch.ts, events.ts):
// cheaper than node-postgres's generic array serialisation, which showed in the batch's profile.

/** A PostgreSQL array literal of `values` (each element quoted, backslash and `"` escaped; null as NULL). */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    else out += `"${v.replace(/[\\"]/g, '\\$&')}"`;
  }
  return out + '}';
}
