// PostgreSQL array literals of columns, built by hand for the batch statements (batch.ts, events.ts):
// cheaper than node-postgres's generic array serialisation, which showed in the batch's profile.

// An element is quoted with `\` and `"` escaped by a backslash. For a string with no control
// character and no surrogate, that is exactly what JSON.stringify gives (it escapes only those two
// then), and V8 does it natively: ~8 × faster than a regex replace on the events' JSON bodies, whose
// every key is quoted (the profile of a PostgreSQL batch had this as its first item).
const NOT_AS_JSON = /[\u0000-\u001f\ud800-\udfff]/;

function quoted(v: string): string {
  return NOT_AS_JSON.test(v) ? `"${v.replace(/[\\"]/g, '\\$&')}"` : JSON.stringify(v);
}

/** A PostgreSQL array literal of `values` (each element quoted, backslash and `"` escaped; null as NULL). */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    else out += quoted(v);
  }
  return out + '}';
}
