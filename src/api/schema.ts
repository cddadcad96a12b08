// A tiny, typed schema DSL for the request structures of the Batch API (batch-api.md §b, §c) and the
// two request decoders:
//
//   decodeJson(schema, value, rootPath?)  — a parsed TC3 POST JSON body (§a.3 "JSON")
//   decodeFlat(schema, params)            — flattened parameters of TC3 GET / v1 requests (§a.3 "Flattened form")
//
// Both produce the same fresh, typed value (Infer<S>) for equivalent input, and both throw ApiError with
// MissingParameter / InvalidParameter / InvalidParameterValue / UnknownParameter naming the parameter in
// the flattened notation (`Job.Tasks.0.Application`, `Filters.1.Values.0`).
//
// Recursion is bounded by the depth of the *schema* (which is small and acyclic): a decoder only descends
// into an input value when the schema has a nested structure at that place, so hostile, deeply nested
// input cannot exhaust the stack — anything nested deeper than the schema is an unknown or invalid
// parameter and is rejected without being walked.

import { apiError, type ApiError } from '../domain/errors.ts';

// ---------------------------------------------------------------------------------------------------
// Schema types

export interface StrSchema {
  readonly kind: 'str';
}
export interface IntSchema {
  readonly kind: 'int';
}
export interface UintSchema {
  readonly kind: 'uint';
}
export interface FloatSchema {
  readonly kind: 'float';
}
export interface BoolSchema {
  readonly kind: 'bool';
}
export type ScalarSchema = StrSchema | IntSchema | UintSchema | FloatSchema | BoolSchema;

export interface ArraySchema<E extends Schema = Schema> {
  readonly kind: 'arr';
  readonly element: E;
}

/** One member of a structure: its schema and whether the API marks it Required. */
export interface FieldDef<S extends Schema = Schema, R extends boolean = boolean> {
  readonly schema: S;
  readonly required: R;
}

export type FieldDefs = { readonly [name: string]: FieldDef };

export interface ObjectSchema<F extends FieldDefs = FieldDefs> {
  readonly kind: 'obj';
  /** Structure name (e.g. `Task`, or the action name for a request); used in messages. */
  readonly name: string;
  readonly fields: F;
}

export type Schema = ScalarSchema | ArraySchema | ObjectSchema;

// ---------------------------------------------------------------------------------------------------
// Constructors

/** String. */
export const str: StrSchema = Object.freeze({ kind: 'str' });
/** Integer(int64). Limited to JavaScript safe integers (|n| <= 2^53-1). */
export const int: IntSchema = Object.freeze({ kind: 'int' });
/** Integer(uint64): must be >= 0. Limited to safe integers (n <= 2^53-1). */
export const uint: UintSchema = Object.freeze({ kind: 'uint' });
/** Float: any finite number. */
export const float: FloatSchema = Object.freeze({ kind: 'float' });
/** Boolean. */
export const bool: BoolSchema = Object.freeze({ kind: 'bool' });

export function arr<E extends Schema>(element: E): ArraySchema<E> {
  return Object.freeze({ kind: 'arr', element });
}

export function obj<const F extends FieldDefs>(name: string, fields: F): ObjectSchema<F> {
  return Object.freeze({ kind: 'obj', name, fields: Object.freeze({ ...fields }) as F });
}

/** A member the API marks Required. */
export function req<S extends Schema>(schema: S): FieldDef<S, true> {
  return Object.freeze({ schema, required: true });
}

/** An optional member. */
export function opt<S extends Schema>(schema: S): FieldDef<S, false> {
  return Object.freeze({ schema, required: false });
}

// ---------------------------------------------------------------------------------------------------
// Type inference

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<F extends FieldDefs> = {
  [K in keyof F]: F[K] extends FieldDef<Schema, true> ? K : never;
}[keyof F];

type InferFields<F extends FieldDefs> = Simplify<
  { -readonly [K in RequiredKeys<F>]: Infer<F[K]['schema']> } & {
    -readonly [K in Exclude<keyof F, RequiredKeys<F>>]?: Infer<F[K]['schema']>;
  }
>;

/** The decoded TypeScript type of a schema. */
export type Infer<S> = S extends StrSchema
  ? string
  : S extends IntSchema | UintSchema | FloatSchema
    ? number
    : S extends BoolSchema
      ? boolean
      : S extends ArraySchema<infer E>
        ? Infer<E>[]
        : S extends ObjectSchema<infer F>
          ? InferFields<F>
          : never;

// ---------------------------------------------------------------------------------------------------
// Messages

const MAX_NAME_IN_MESSAGE = 200;
const MAX_VALUE_IN_MESSAGE = 64;
/** Guard against programming errors (a cyclic schema); real schemas are < 10 levels deep. */
const MAX_SCHEMA_DEPTH = 32;

/** A parameter name in backticks; control characters escaped, very long names shortened. */
function q(name: string): string {
  let s = name.length > MAX_NAME_IN_MESSAGE ? `${name.slice(0, MAX_NAME_IN_MESSAGE)}…` : name;
  if (/[\u0000-\u001f\u007f`]/.test(s)) s = JSON.stringify(s).slice(1, -1).replace(/`/g, '\\u0060');
  return `\`${s}\``;
}

/** A received text value, JSON-quoted and shortened. */
function qv(text: string): string {
  return JSON.stringify(text.length > MAX_VALUE_IN_MESSAGE ? `${text.slice(0, MAX_VALUE_IN_MESSAGE)}…` : text);
}

function join(path: string, seg: string | number): string {
  return path === '' ? String(seg) : `${path}.${seg}`;
}

function expected(schema: Schema): string {
  switch (schema.kind) {
    case 'str':
      return 'a string';
    case 'int':
    case 'uint':
      return 'an integer';
    case 'float':
      return 'a number';
    case 'bool':
      return 'a boolean';
    case 'arr':
      return 'an array';
    case 'obj':
      return `an object (${schema.name})`;
  }
}

function jsonTypeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v;
}

function missing(path: string): ApiError {
  return apiError('MissingParameter', { detail: `The parameter ${q(path)} is required.` });
}

function wrongType(path: string, schema: Schema, got: string): ApiError {
  return apiError('InvalidParameter', { detail: `${q(path)} must be ${expected(schema)}, got ${got}.` });
}

function unknown(path: string, structure: string, fullName?: string): ApiError {
  const inParameter = fullName !== undefined && fullName !== path ? ` (in parameter ${q(fullName)})` : '';
  return apiError('UnknownParameter', { param: q(path), structure, inParameter });
}

function outOfRange(path: string): ApiError {
  return apiError('InvalidParameterValue', { param: q(path), problem: `is out of range (integers must lie within ±${Number.MAX_SAFE_INTEGER})` });
}

function negative(path: string): ApiError {
  return apiError('InvalidParameterValue', { param: q(path), problem: 'must not be negative' });
}

// ---------------------------------------------------------------------------------------------------
// Shared validator

type Mode = 'json' | 'flat';

/** An array being assembled from flattened names: sparse until validated for contiguity. */
class FlatArray {
  readonly items = new Map<number, unknown>();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const DEC_INT = /^-?[0-9]+$/;
const DEC_FLOAT = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

function decodeScalar(schema: ScalarSchema, v: unknown, path: string, mode: Mode): unknown {
  if (mode === 'flat') {
    // Flattened values are always text; convert by the model type (§a.3).
    const text = v as string;
    switch (schema.kind) {
      case 'str':
        return checkString(text, path);
      case 'int':
      case 'uint': {
        // Decimal only: rejects "", " 1", "+1", "1.5", "0x10", "1e3". Leading zeros ("007") are
        // accepted, as strconv.ParseInt-style parsers do. Note: an empty value is rejected although the
        // Node SDK's TC3-GET path sends `Name=` for a member explicitly set to `undefined` (its
        // http_connection mergeData keeps undefined; querystring renders it as ""). Such a request is
        // ambiguous (absent or empty?), so it gets a clear InvalidParameter rather than a guess.
        if (!DEC_INT.test(text)) throw wrongType(path, schema, qv(text));
        const n = Number(text);
        return checkInteger(schema, n, path);
      }
      case 'float': {
        if (!DEC_FLOAT.test(text)) throw wrongType(path, schema, qv(text));
        const n = Number(text);
        if (!Number.isFinite(n)) throw apiError('InvalidParameterValue', { param: q(path), problem: 'is out of range' });
        return n;
      }
      case 'bool':
        if (text === 'true') return true;
        if (text === 'false') return false;
        // COMPAT: the Python SDK flattens booleans with str(), i.e. `True` / `False` (v1-signature and
        // GET requests), so those spellings are accepted too. Nothing else is ("1", "TRUE", "yes", "").
        if (text === 'True') return true;
        if (text === 'False') return false;
        throw wrongType(path, schema, qv(text));
    }
  }
  switch (schema.kind) {
    case 'str':
      if (typeof v !== 'string') throw wrongType(path, schema, jsonTypeOf(v));
      return checkString(v, path);
    case 'int':
    case 'uint':
      if (typeof v !== 'number') throw wrongType(path, schema, jsonTypeOf(v));
      if (Number.isFinite(v) && !Number.isInteger(v)) throw wrongType(path, schema, `non-integer number ${v}`);
      return checkInteger(schema, v, path);
    case 'float':
      if (typeof v !== 'number') throw wrongType(path, schema, jsonTypeOf(v));
      if (!Number.isFinite(v)) throw apiError('InvalidParameterValue', { param: q(path), problem: 'is out of range' });
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw wrongType(path, schema, jsonTypeOf(v));
      return v;
  }
}

function checkString(s: string, path: string): string {
  if (s.includes('\u0000')) throw apiError('InvalidParameterValue', { param: q(path), problem: 'must not contain NUL characters' });
  return s;
}

function checkInteger(schema: IntSchema | UintSchema, n: number, path: string): number {
  if (!Number.isSafeInteger(n)) throw outOfRange(path);
  if (schema.kind === 'uint' && n < 0) throw negative(path);
  return n === 0 ? 0 : n; // normalise -0
}

function decodeValue(schema: Schema, v: unknown, path: string, mode: Mode, depth: number): unknown {
  if (depth > MAX_SCHEMA_DEPTH) throw new Error(`schema nested deeper than ${MAX_SCHEMA_DEPTH} levels at ${path}`);
  switch (schema.kind) {
    case 'arr': {
      const element = schema.element as Schema;
      if (mode === 'flat') {
        if (!(v instanceof FlatArray)) throw wrongType(path, schema, 'a scalar value');
        const n = v.items.size;
        const out: unknown[] = new Array<unknown>(n);
        for (let i = 0; i < n; i++) {
          if (!v.items.has(i)) {
            let max = -1;
            for (const k of v.items.keys()) if (k > max) max = k;
            throw apiError('InvalidParameter', { detail: `${q(join(path, i))} is missing: the elements of ${q(path)} must be numbered contiguously from 0 (found ${q(join(path, max))}).` });
          }
          out[i] = decodeValue(element, v.items.get(i), join(path, i), mode, depth + 1);
        }
        return out;
      }
      if (!Array.isArray(v)) throw wrongType(path, schema, jsonTypeOf(v));
      const out: unknown[] = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        // An array element cannot be "absent": a null element is a wrong type, not a dropped member.
        if (item === null || item === undefined) throw wrongType(join(path, i), element, 'null');
        out[i] = decodeValue(element, item, join(path, i), mode, depth + 1);
      }
      return out;
    }
    case 'obj': {
      if (!isPlainObject(v)) throw wrongType(path, schema, mode === 'flat' ? 'a scalar value' : jsonTypeOf(v));
      const fields = schema.fields as FieldDefs;
      // Unknown members first (cheap, and catches misspelt names before anything else).
      for (const key of Object.keys(v)) {
        if (!Object.hasOwn(fields, key)) throw unknown(join(path, key), schema.name);
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(fields)) {
        const field = fields[key] as FieldDef;
        const value = Object.hasOwn(v, key) ? v[key] : undefined;
        const childPath = join(path, key);
        if (value === null || value === undefined) {
          // null counts as absent: SDKs drop nulls, and Go/Python may send them for unset members.
          if (field.required) throw missing(childPath);
          continue;
        }
        out[key] = decodeValue(field.schema, value, childPath, mode, depth + 1);
      }
      return out;
    }
    default:
      return decodeScalar(schema, v, path, mode);
  }
}

// ---------------------------------------------------------------------------------------------------
// decodeJson

/**
 * Validate a parsed JSON request value against `schema` and return a fresh typed copy.
 * `rootPath` prefixes every parameter path in messages (e.g. `TaskTemplateInfo` when decoding a Task).
 * A top-level `null`/`undefined` for an object schema is treated as `{}` (no parameters).
 */
export function decodeJson<S extends Schema>(schema: S, value: unknown, rootPath = ''): Infer<S> {
  const s: Schema = schema;
  if (value === null || value === undefined) {
    if (s.kind === 'obj') value = {};
    else throw missing(rootPath === '' ? '(root)' : rootPath);
  }
  if (rootPath === '' && s.kind === 'obj' && !isPlainObject(value)) {
    throw apiError('InvalidParameter', { detail: `The request parameters of ${s.name} must be a JSON object, got ${jsonTypeOf(value)}.` });
  }
  return decodeValue(s, value, rootPath, 'json', 0) as Infer<S>;
}

// ---------------------------------------------------------------------------------------------------
// decodeFlat

const INDEX_DIGITS = /^[0-9]+$/;
const CANONICAL_INDEX = /^(0|[1-9][0-9]*)$/;
/** Longer indices cannot be contiguous in any request of sane size; keeps Number() exact. */
const MAX_INDEX_DIGITS = 9;

function shapeOfSegment(seg: string): string {
  return INDEX_DIGITS.test(seg) ? 'an array' : 'an object';
}

/**
 * Decode flattened parameters (`Placement.Zone`, `Job.Tasks.0.Application.Command`, `JobIds.0`,
 * `Filters.0.Values.1`, and for a single-object field `Filters.Name` / `Filters.Values.0`) into the value
 * decodeJson would return for the equivalent JSON. The map must hold only the action's own parameters:
 * the caller removes common parameters (Action, Version, Region, Timestamp, Nonce, SecretId, Signature,
 * SignatureMethod, Token, Language, RequestClient) first. Values are the URL-decoded texts.
 */
export function decodeFlat<F extends FieldDefs>(schema: ObjectSchema<F>, params: Map<string, string>): Infer<ObjectSchema<F>> {
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

  for (const [name, value] of params) {
    const segs = name.split('.');
    if (segs.some((s) => s === '')) {
      throw apiError('InvalidParameter', { detail: `Malformed parameter name ${q(name)}: empty name segment.` });
    }

    let current: Schema = schema;
    let node: Record<string, unknown> | FlatArray = root;
    let path = '';
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i] as string;
      const last = i === segs.length - 1;
      let childSchema: Schema;
      let childPath: string;
      let get: () => unknown;
      let set: (v: unknown) => void;

      if (current.kind === 'obj') {
        const fields = current.fields as FieldDefs;
        if (path !== '' && INDEX_DIGITS.test(seg)) {
          // e.g. `Filters.0.Name` for DescribeComputeEnvActivities, whose Filters is one Filter object.
          throw apiError('InvalidParameter', { detail: `${q(path)} must be ${expected(current)}, got an array (parameter ${q(name)}).` });
        }
        if (!Object.hasOwn(fields, seg)) throw unknown(join(path, seg), current.name, name);
        childSchema = (fields[seg] as FieldDef).schema;
        childPath = join(path, seg);
        const container = node as Record<string, unknown>;
        get = () => container[seg];
        set = (v) => {
          container[seg] = v;
        };
      } else if (current.kind === 'arr') {
        if (!INDEX_DIGITS.test(seg)) {
          throw apiError('InvalidParameter', { detail: `${q(path)} must be an array, got an object (parameter ${q(name)}).` });
        }
        if (!CANONICAL_INDEX.test(seg)) {
          throw apiError('InvalidParameter', { detail: `Array index ${q(seg)} in ${q(name)} must be written in decimal without leading zeros.` });
        }
        if (seg.length > MAX_INDEX_DIGITS) {
          throw apiError('InvalidParameter', { detail: `Array index ${q(seg)} in ${q(name)} is out of range.` });
        }
        const index = Number(seg);
        childSchema = current.element as Schema;
        childPath = join(path, index);
        const container = node as FlatArray;
        get = () => container.items.get(index);
        set = (v) => {
          container.items.set(index, v);
        };
      } else {
        // A member path or an index below a scalar: `JobId.Foo`, `JobId.0`.
        throw apiError('InvalidParameter', { detail: `${q(path)} must be ${expected(current)}, got ${shapeOfSegment(seg)} (parameter ${q(name)}).` });
      }

      if (last) {
        if (childSchema.kind === 'obj' || childSchema.kind === 'arr') {
          // `Placement=x`, `JobIds=x`: a scalar where a structure is expected.
          throw apiError('InvalidParameter', { detail: `${q(childPath)} must be ${expected(childSchema)}, got a scalar value (parameter ${q(name)}).` });
        }
        // Names are unique map keys and indices canonical, so a leaf is never assigned twice, and no
        // container can exist at a scalar's place (that would have needed a longer name under a scalar).
        set(value);
      } else {
        if (childSchema.kind !== 'obj' && childSchema.kind !== 'arr') {
          const nextSeg = segs[i + 1] as string;
          throw apiError('InvalidParameter', { detail: `${q(childPath)} must be ${expected(childSchema)}, got ${shapeOfSegment(nextSeg)} (parameter ${q(name)}).` });
        }
        let child = get();
        if (child === undefined) {
          child = childSchema.kind === 'obj' ? (Object.create(null) as Record<string, unknown>) : new FlatArray();
          set(child);
        }
        node = child as Record<string, unknown> | FlatArray;
      }
      current = childSchema;
      path = childPath;
    }
  }

  return decodeValue(schema, root, '', 'flat', 0) as Infer<ObjectSchema<F>>;
}
