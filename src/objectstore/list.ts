// Listing helpers shared by every ObjectStore backend and its callers: the listing order (UTF-8
// bytes, as S3), the checks of listPage's options (one place, so backends agree), and listAll(), the
// AsyncIterable over every page of a prefix built on ObjectStore.listPage.
import { MAX_LIST_KEYS, type BucketRef, type ListPageOptions, type ObjectEntry, type ObjectStore, type RequestOptions } from './types.ts';

/** Order of two keys in a listing: by their UTF-8 bytes (not by UTF-16 code units, which differ for
 *  characters beyond U+FFFF against U+E000–U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** listPage's options checked once for every backend: `maxKeys` clamped to 1..MAX_LIST_KEYS (must
 *  be a positive integer), and at most one of `startAfter` and `continuationToken`. */
export function checkListOptions(opts: ListPageOptions = {}): { maxKeys: number; startAfter?: string; continuationToken?: string } {
  const { maxKeys = MAX_LIST_KEYS, startAfter, continuationToken } = opts;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, not ${maxKeys}`);
  if (startAfter !== undefined && continuationToken !== undefined) {
    throw new RangeError('give startAfter or continuationToken, not both');
  }
  return { maxKeys: Math.min(maxKeys, MAX_LIST_KEYS), startAfter, continuationToken };
}

/** Every object under `prefix`, page after page, in listing order. A page that claims more but
 *  hands back the token it was given would loop forever: that throws. */
export async function* listAll(
  store: ObjectStore,
  loc: BucketRef,
  prefix: string,
  opts: RequestOptions & { maxKeys?: number; startAfter?: string } = {},
): AsyncGenerator<ObjectEntry, void, undefined> {
  let token: string | undefined;
  let first = true;
  do {
    const page = await store.listPage(loc, prefix, first ? opts : { ...opts, startAfter: undefined, continuationToken: token });
    first = false;
    yield* page.keys;
    if (page.nextToken !== undefined && page.nextToken === token) {
      throw new Error(`object store ${store.name} returned the same continuation token twice listing ${loc.bucket}/${prefix}`);
    }
    token = page.nextToken;
  } while (token !== undefined);
}

/** The keys of listAll as an array (for small prefixes and tests). */
export async function listKeys(store: ObjectStore, loc: BucketRef, prefix: string, opts: RequestOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of listAll(store, loc, prefix, opts)) out.push(e.key);
  return out;
}
