import { describe, expect, expectTypeOf, it } from 'vitest';
import { ApiError, type ErrorCode } from '../../src/domain/errors.ts';
import { REQUESTS } from '../../src/api/models.ts';
import {
  arr,
  bool,
  decodeFlat,
  decodeJson,
  float,
  int,
  obj,
  opt,
  req,
  str,
  uint,
  type Infer,
} from '../../src/api/schema.ts';

// A small schema exercising every construct of the DSL.
const Leaf = obj('Leaf', {
  S: req(str),
  I: opt(int),
  U: opt(uint),
  F: opt(float),
  B: opt(bool),
  L: opt(arr(str)),
});
const Item = obj('Item', {
  Name: req(str),
  Values: req(arr(str)),
  Leaf: opt(Leaf),
});
const Root = obj('Root', {
  Id: req(str),
  Items: opt(arr(Item)),
  One: opt(Item),
  Ints: opt(arr(uint)),
  Nested: opt(arr(arr(int))),
  Count: opt(int),
  Size: opt(uint),
  Flag: opt(bool),
  Ratio: opt(float),
});

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw new Error(`expected an ApiError, got ${String(e)}`);
  }
  throw new Error('expected an ApiError, but nothing was thrown');
}

function expectError(fn: () => unknown, code: ErrorCode, ...fragments: string[]): ApiError {
  const e = caught(fn);
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}

const flat = (pairs: Record<string, string> | [string, string][]): Map<string, string> =>
  new Map(Array.isArray(pairs) ? pairs : Object.entries(pairs));

describe('schema DSL types', () => {
  it('infers required, optional, array and nested members', () => {
    expectTypeOf<Infer<typeof Item>>().toEqualTypeOf<{
      Name: string;
      Values: string[];
      Leaf?: { S: string; I?: number; U?: number; F?: number; B?: boolean; L?: string[] };
    }>();
    expectTypeOf<Infer<typeof Root>['Nested']>().toEqualTypeOf<number[][] | undefined>();
    expectTypeOf<Infer<typeof str>>().toEqualTypeOf<string>();
    expectTypeOf<Infer<typeof uint>>().toEqualTypeOf<number>();
    expectTypeOf<Infer<typeof bool>>().toEqualTypeOf<boolean>();
    expectTypeOf(() => decodeJson(Root, { Id: 'x' })).returns.toEqualTypeOf<Infer<typeof Root>>();
    expectTypeOf(() => decodeFlat(Root, new Map())).returns.toEqualTypeOf<Infer<typeof Root>>();
  });

  it('keeps the structure name and Required flags at run time', () => {
    expect(Item.name).toBe('Item');
    expect(Item.fields.Name.required).toBe(true);
    expect(Item.fields.Leaf.required).toBe(false);
    expect(Item.fields.Values.schema).toEqual({ kind: 'arr', element: { kind: 'str' } });
  });
});

describe('decodeJson', () => {
  const full = {
    Id: 'root-1',
    Items: [
      { Name: 'a', Values: ['1', '2'], Leaf: { S: 's', I: -3, U: 4, F: 1.5, B: false, L: ['x'] } },
      { Name: 'b', Values: [] },
    ],
    One: { Name: 'one', Values: ['v'] },
    Ints: [0, 1, 2],
    Nested: [[1, 2], [], [-3]],
    Count: -9007199254740991,
    Size: 9007199254740991,
    Flag: true,
    Ratio: 0.25,
  };

  it('accepts a valid value and returns a fresh deep copy', () => {
    const input = structuredClone(full);
    const out = decodeJson(Root, input);
    expect(out).toEqual(full);
    expect(out).not.toBe(input);
    expect(out.Items).not.toBe(input.Items);
    expect(out.Items?.[0]?.Leaf).not.toBe(input.Items[0]?.Leaf);
    out.Items?.[0]?.Values.push('mutated');
    expect(input.Items[0]?.Values).toEqual(['1', '2']);
  });

  it('keeps duplicates and order in arrays (deduplication is a business rule, not a schema rule)', () => {
    expect(decodeJson(Root, { Id: 'x', Ints: [3, 3, 1, 3] }).Ints).toEqual([3, 3, 1, 3]);
  });

  it('treats null as absent', () => {
    const out = decodeJson(Root, { Id: 'x', Items: null, Count: null, One: { Name: 'n', Values: ['v'], Leaf: null } });
    expect(out).toEqual({ Id: 'x', One: { Name: 'n', Values: ['v'] } });
    expect(Object.hasOwn(out, 'Items')).toBe(false);
    expect(Object.hasOwn(out, 'Count')).toBe(false);
    expectError(() => decodeJson(Root, { Id: null }), 'MissingParameter', 'The parameter `Id` is required.');
    expectError(
      () => decodeJson(Root, { Id: 'x', One: { Name: null, Values: [] } }),
      'MissingParameter',
      'The parameter `One.Name` is required.',
    );
  });

  it('treats a top-level null as an empty request, and rejects a non-object request', () => {
    expect(decodeJson(obj('Empty', {}), null)).toEqual({});
    expect(decodeJson(obj('Empty', {}), undefined)).toEqual({});
    expectError(() => decodeJson(Root, null), 'MissingParameter', '`Id`');
    expectError(() => decodeJson(Root, []), 'InvalidParameter', 'Root', 'JSON object', 'array');
    expectError(() => decodeJson(Root, 'x'), 'InvalidParameter', 'got string');
    expectError(() => decodeJson(Root, 5), 'InvalidParameter', 'got number');
  });

  it('reports missing required members with their full path', () => {
    expectError(() => decodeJson(Root, {}), 'MissingParameter', 'The parameter `Id` is required.');
    expectError(
      () => decodeJson(Root, { Id: 'x', Items: [{ Name: 'a', Values: [] }, { Name: 'b' }] }),
      'MissingParameter',
      'The parameter `Items.1.Values` is required.',
    );
    expectError(
      () => decodeJson(Root, { Id: 'x', Items: [{ Name: 'a', Values: [], Leaf: {} }] }),
      'MissingParameter',
      'The parameter `Items.0.Leaf.S` is required.',
    );
    // the brief's example, on the real model
    expectError(
      () => decodeJson(REQUESTS.SubmitJob, { Placement: { Zone: 'z' }, Job: { Tasks: [{ TaskName: 't' }] } }),
      'MissingParameter',
      'The parameter `Job.Tasks.0.Application` is required.',
    );
  });

  it('prefixes paths with rootPath', () => {
    expectError(
      () => decodeJson(Item, { Values: [] }, 'TaskTemplateInfo'),
      'MissingParameter',
      'The parameter `TaskTemplateInfo.Name` is required.',
    );
    expectError(
      () => decodeJson(Item, { Name: 'n', Values: [1] }, 'TaskTemplateInfo'),
      'InvalidParameter',
      '`TaskTemplateInfo.Values.0` must be a string, got number',
    );
    expectError(() => decodeJson(Item, 'x', 'One'), 'InvalidParameter', '`One` must be an object (Item), got string');
    expectError(() => decodeJson(str, null, 'Name'), 'MissingParameter', '`Name`');
    expect(decodeJson(arr(int), [1, 2], 'Nums')).toEqual([1, 2]);
  });

  it('rejects wrong JSON types with path, expected type and received type', () => {
    const cases: [unknown, string][] = [
      [{ Id: 5 }, '`Id` must be a string, got number'],
      [{ Id: true }, '`Id` must be a string, got boolean'],
      [{ Id: ['x'] }, '`Id` must be a string, got array'],
      [{ Id: { a: 1 } }, '`Id` must be a string, got object'],
      [{ Id: 'x', Count: '1' }, '`Count` must be an integer, got string'],
      [{ Id: 'x', Count: true }, '`Count` must be an integer, got boolean'],
      [{ Id: 'x', Size: '1' }, '`Size` must be an integer, got string'],
      [{ Id: 'x', Count: 1.5 }, '`Count` must be an integer, got non-integer number 1.5'],
      [{ Id: 'x', Ratio: '0.5' }, '`Ratio` must be a number, got string'],
      [{ Id: 'x', Flag: 'true' }, '`Flag` must be a boolean, got string'],
      [{ Id: 'x', Flag: 1 }, '`Flag` must be a boolean, got number'],
      [{ Id: 'x', Items: {} }, '`Items` must be an array, got object'],
      [{ Id: 'x', Items: 'a' }, '`Items` must be an array, got string'],
      [{ Id: 'x', Items: ['a'] }, '`Items.0` must be an object (Item), got string'],
      [{ Id: 'x', One: [] }, '`One` must be an object (Item), got array'],
      [{ Id: 'x', Ints: [1, null] }, '`Ints.1` must be an integer, got null'],
      [{ Id: 'x', Nested: [[1], [2, 'x']] }, '`Nested.1.1` must be an integer, got string'],
      [{ Id: 'x', Items: [{ Name: 'n', Values: ['a', 'b', 7] }] }, '`Items.0.Values.2` must be a string, got number'],
    ];
    for (const [input, message] of cases) expectError(() => decodeJson(Root, input), 'InvalidParameter', message);
    expectError(
      () => decodeJson(REQUESTS.SubmitJob, { Placement: { Zone: 'z' }, Job: { Priority: '1', Tasks: [] } }),
      'InvalidParameter',
      '`Job.Priority` must be an integer, got string',
    );
  });

  it('checks integer range and sign', () => {
    expect(decodeJson(Root, { Id: 'x', Count: -5, Size: 0 })).toEqual({ Id: 'x', Count: -5, Size: 0 });
    expect(decodeJson(Root, { Id: 'x', Count: 2.0 }).Count).toBe(2);
    expect(Object.is(decodeJson(Root, { Id: 'x', Count: -0 }).Count, 0)).toBe(true);
    expect(decodeJson(Root, { Id: 'x', Size: Number.MAX_SAFE_INTEGER }).Size).toBe(Number.MAX_SAFE_INTEGER);
    expectError(() => decodeJson(Root, { Id: 'x', Count: 2 ** 53 }), 'InvalidParameterValue', '`Count`', 'out of range');
    expectError(() => decodeJson(Root, { Id: 'x', Count: -(2 ** 53) }), 'InvalidParameterValue', 'out of range');
    expectError(() => decodeJson(Root, { Id: 'x', Count: 1e300 }), 'InvalidParameterValue', 'out of range');
    // JSON.parse turns 1e400 into Infinity, and 18446744073709551616 into an unsafe double
    expectError(() => decodeJson(Root, JSON.parse('{"Id":"x","Count":1e400}')), 'InvalidParameterValue', 'out of range');
    expectError(
      () => decodeJson(Root, JSON.parse('{"Id":"x","Size":18446744073709551616}')),
      'InvalidParameterValue',
      '`Size`',
      'out of range',
    );
    expectError(() => decodeJson(Root, { Id: 'x', Size: -1 }), 'InvalidParameterValue', '`Size` must not be negative');
    expectError(() => decodeJson(Root, { Id: 'x', Ints: [1, -2] }), 'InvalidParameterValue', '`Ints.1` must not be negative');
    expect(decodeJson(Root, { Id: 'x', Size: -0 }).Size).toBe(0);
  });

  it('accepts any finite number as a float', () => {
    expect(decodeJson(Root, { Id: 'x', Ratio: 3 }).Ratio).toBe(3);
    expect(decodeJson(Root, { Id: 'x', Ratio: -1e-9 }).Ratio).toBe(-1e-9);
    expect(decodeJson(Root, { Id: 'x', Ratio: 1e300 }).Ratio).toBe(1e300);
    expectError(() => decodeJson(Root, JSON.parse('{"Id":"x","Ratio":-1e400}')), 'InvalidParameterValue', '`Ratio`');
    expectError(() => decodeJson(Root, { Id: 'x', Ratio: Number.NaN }), 'InvalidParameterValue', '`Ratio`');
  });

  it('rejects strings containing NUL', () => {
    expectError(() => decodeJson(Root, { Id: 'a\u0000b' }), 'InvalidParameterValue', '`Id`', 'NUL');
    expectError(
      () => decodeJson(Root, { Id: 'x', One: { Name: 'n', Values: ['ok', '\u0000'] } }),
      'InvalidParameterValue',
      '`One.Values.1`',
    );
    expect(decodeJson(Root, { Id: '' }).Id).toBe('');
    expect(decodeJson(Root, { Id: 'ünïcødé ✓ \t\n' }).Id).toBe('ünïcødé ✓ \t\n');
  });

  it('rejects members that are not in the structure', () => {
    expectError(() => decodeJson(Root, { Id: 'x', Foo: 1 }), 'UnknownParameter', '`Foo` is not a parameter of Root');
    expectError(
      () => decodeJson(Root, { Id: 'x', Items: [{ Name: 'a', Values: [], Extra: null }] }),
      'UnknownParameter',
      '`Items.0.Extra` is not a parameter of Item',
    );
    expectError(
      () => decodeJson(REQUESTS.SubmitJob, { Placement: { Zone: 'z' }, Job: { Tasks: [], Foo: 1 } }),
      'UnknownParameter',
      '`Job.Foo` is not a parameter of Job',
    );
    // prototype names are not members
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expectError(() => decodeJson(Root, JSON.parse(`{"Id":"x","${key}":{}}`)), 'UnknownParameter', `\`${key}\``);
    }
    // names are case-sensitive
    expectError(() => decodeJson(Root, { id: 'x' }), 'UnknownParameter', '`id`');
  });

  it('reports unknown members before missing ones', () => {
    expectError(() => decodeJson(Root, { Bogus: 1 }), 'UnknownParameter', '`Bogus`');
  });

  it('escapes and shortens hostile member names in messages', () => {
    const e = expectError(() => decodeJson(Root, { Id: 'x', ['a`b\nc']: 1 }), 'UnknownParameter');
    expect(e.message).not.toContain('\n');
    expect(e.message).toContain('a\\u0060b\\nc');
    const long = 'k'.repeat(100_000);
    const e2 = expectError(() => decodeJson(Root, { Id: 'x', [long]: 1 }), 'UnknownParameter');
    expect(e2.message.length).toBeLessThan(400);
  });

  it('survives hostile deep nesting without walking it', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    expectError(
      () => decodeJson(Root, { Id: 'x', One: { Name: 'n', Values: [], Leaf: { S: deep } } }),
      'InvalidParameter',
      '`One.Leaf.S` must be a string, got object',
    );
    expectError(() => decodeJson(Root, { Id: 'x', Deep: deep }), 'UnknownParameter', '`Deep`');
    expectError(() => decodeJson(Root, { Id: 'x', One: deep }), 'UnknownParameter', '`One.a` is not a parameter of Item');
    let deepArr: unknown = [];
    for (let i = 0; i < 200_000; i++) deepArr = [deepArr];
    expectError(() => decodeJson(Root, { Id: 'x', Nested: deepArr }), 'InvalidParameter', '`Nested.0.0` must be an integer, got array');
    expectError(() => decodeJson(Root, { Id: 'x', Items: deepArr }), 'InvalidParameter', '`Items.0` must be an object (Item), got array');
  });

  it('handles long arrays iteratively', () => {
    const ints = Array.from({ length: 200_000 }, (_, i) => i);
    expect(decodeJson(Root, { Id: 'x', Ints: ints }).Ints).toEqual(ints);
  });

  it('rejects non-plain objects', () => {
    expectError(() => decodeJson(Root, { Id: 'x', One: new Map() }), 'InvalidParameter', '`One` must be an object');
    expectError(() => decodeJson(Root, { Id: 'x', One: new Date(0) }), 'InvalidParameter', '`One` must be an object');
    expect(decodeJson(Root, Object.assign(Object.create(null) as object, { Id: 'x' }))).toEqual({ Id: 'x' });
  });
});

describe('decodeFlat', () => {
  it('decodes flattened names into the same value decodeJson gives for the equivalent JSON', () => {
    const json = {
      Id: 'root-1',
      Items: [
        { Name: 'a', Values: ['1', '2'], Leaf: { S: 's', I: -3, U: 4, F: 1.5, B: false, L: ['x'] } },
        { Name: 'b', Values: ['z'] },
      ],
      One: { Name: 'one', Values: ['v'] },
      Ints: [0, 1, 2],
      Nested: [[1, 2], [-3]],
      Count: -12,
      Size: 9007199254740991,
      Flag: true,
      Ratio: 0.25,
    };
    const params = flat({
      Id: 'root-1',
      'Items.0.Name': 'a',
      'Items.0.Values.0': '1',
      'Items.0.Values.1': '2',
      'Items.0.Leaf.S': 's',
      'Items.0.Leaf.I': '-3',
      'Items.0.Leaf.U': '4',
      'Items.0.Leaf.F': '1.5',
      'Items.0.Leaf.B': 'false',
      'Items.0.Leaf.L.0': 'x',
      'Items.1.Name': 'b',
      'Items.1.Values.0': 'z',
      'One.Name': 'one',
      'One.Values.0': 'v',
      'Ints.0': '0',
      'Ints.1': '1',
      'Ints.2': '2',
      'Nested.0.0': '1',
      'Nested.0.1': '2',
      'Nested.1.0': '-3',
      Count: '-12',
      Size: '9007199254740991',
      Flag: 'true',
      Ratio: '0.25',
    });
    expect(decodeFlat(Root, params)).toEqual(decodeJson(Root, json));
    expect(decodeFlat(Root, params)).toEqual(json);
  });

  it('orders array elements by index, not by parameter order', () => {
    const out = decodeFlat(Root, flat([['Ints.2', '20'], ['Id', 'x'], ['Ints.0', '0'], ['Ints.1', '10']]));
    expect(out.Ints).toEqual([0, 10, 20]);
  });

  it('returns plain objects', () => {
    const out = decodeFlat(Root, flat({ Id: 'x', 'One.Name': 'n', 'One.Values.0': 'v' }));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(out.One)).toBe(Object.prototype);
    expect(Array.isArray(out.One?.Values)).toBe(true);
  });

  it('decodes an empty map', () => {
    expect(decodeFlat(obj('Empty', {}), new Map())).toEqual({});
    expect(decodeFlat(REQUESTS.DescribeJobs, new Map())).toEqual({});
    expectError(() => decodeFlat(Root, new Map()), 'MissingParameter', 'The parameter `Id` is required.');
  });

  it('applies the Missing rules after assembling the tree', () => {
    expectError(
      () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Values.0': 'a' })),
      'MissingParameter',
      'The parameter `Items.0.Name` is required.',
    );
    expectError(
      () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Name': 'a', 'Items.0.Leaf.I': '1' })),
      'MissingParameter',
      'The parameter `Items.0.Values` is required.',
    );
    expectError(
      () => decodeFlat(REQUESTS.SubmitJob, flat({ 'Placement.Zone': 'z', 'Job.Tasks.0.TaskName': 't' })),
      'MissingParameter',
      'The parameter `Job.Tasks.0.Application` is required.',
    );
  });

  describe('integers', () => {
    it('accepts decimal integers', () => {
      expect(decodeFlat(Root, flat({ Id: 'x', Count: '-42', Size: '0' }))).toEqual({ Id: 'x', Count: -42, Size: 0 });
      expect(decodeFlat(Root, flat({ Id: 'x', Count: '007' })).Count).toBe(7); // leading zeros in values are fine
      expect(Object.is(decodeFlat(Root, flat({ Id: 'x', Count: '-0' })).Count, 0)).toBe(true);
      expect(decodeFlat(Root, flat({ Id: 'x', Count: '-9007199254740991' })).Count).toBe(-9007199254740991);
    });

    it.each(['', ' ', '1.5', '1.0', '0x10', '1e3', '+1', ' 1', '1 ', '1_000', 'one', '--1', '-', 'Infinity', 'NaN', '١'])(
      'rejects %j with InvalidParameter',
      (text) => {
        expectError(
          () => decodeFlat(Root, flat({ Id: 'x', Count: text })),
          'InvalidParameter',
          `\`Count\` must be an integer, got ${JSON.stringify(text)}`,
        );
      },
    );

    it('rejects out-of-range and negative values with InvalidParameterValue', () => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Count: '9007199254740992' })), 'InvalidParameterValue', '`Count`', 'out of range');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', Size: '18446744073709551615' })),
        'InvalidParameterValue',
        '`Size`',
        'out of range',
      );
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Count: '9'.repeat(400) })), 'InvalidParameterValue', 'out of range');
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Size: '-1' })), 'InvalidParameterValue', '`Size` must not be negative');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Ints.0': '1', 'Ints.1': '-1' })),
        'InvalidParameterValue',
        '`Ints.1` must not be negative',
      );
      expectError(
        () => decodeFlat(REQUESTS.SubmitJob, flat({ 'Placement.Zone': 'z', 'Job.Priority': 'high', 'Job.Tasks.0.Application.DeliveryForm': 'LOCAL' })),
        'InvalidParameter',
        '`Job.Priority` must be an integer',
      );
    });
  });

  describe('booleans', () => {
    it('accepts true/false and (COMPAT, Python SDK) True/False', () => {
      expect(decodeFlat(Root, flat({ Id: 'x', Flag: 'true' })).Flag).toBe(true);
      expect(decodeFlat(Root, flat({ Id: 'x', Flag: 'false' })).Flag).toBe(false);
      expect(decodeFlat(Root, flat({ Id: 'x', Flag: 'True' })).Flag).toBe(true);
      expect(decodeFlat(Root, flat({ Id: 'x', Flag: 'False' })).Flag).toBe(false);
    });

    it.each(['', 'TRUE', 'FALSE', '1', '0', 'yes', 'on', ' true', 'true '])('rejects %j', (text) => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Flag: text })), 'InvalidParameter', '`Flag` must be a boolean');
    });
  });

  describe('floats', () => {
    it.each([
      ['1.5', 1.5],
      ['-2', -2],
      ['0', 0],
      ['1e-5', 1e-5],
      ['2.5E+3', 2500],
      ['0.1', 0.1],
    ])('accepts %j', (text, value) => {
      expect(decodeFlat(Root, flat({ Id: 'x', Ratio: text })).Ratio).toBe(value);
    });

    it.each(['', 'abc', '0x1', '1.', '.5', '+1', 'Infinity', 'NaN', '1,5', ' 1'])('rejects %j', (text) => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Ratio: text })), 'InvalidParameter', '`Ratio` must be a number');
    });

    it('rejects overflowing floats with InvalidParameterValue', () => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Ratio: '1e999' })), 'InvalidParameterValue', '`Ratio`', 'out of range');
    });
  });

  describe('strings', () => {
    it('keeps the text verbatim, including the empty string', () => {
      expect(decodeFlat(Root, flat({ Id: '' })).Id).toBe('');
      expect(decodeFlat(Root, flat({ Id: ' a=b&c.d ' })).Id).toBe(' a=b&c.d ');
      expect(decodeFlat(Root, flat({ Id: '123' })).Id).toBe('123');
    });

    it('rejects NUL', () => {
      expectError(() => decodeFlat(Root, flat({ Id: 'a\u0000' })), 'InvalidParameterValue', '`Id`', 'NUL');
    });
  });

  describe('array indices', () => {
    it('rejects gaps, naming the missing element', () => {
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Ints.0': '1', 'Ints.2': '3' })),
        'InvalidParameter',
        '`Ints.1` is missing',
        '`Ints.2`',
      );
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.1': '1' })), 'InvalidParameter', '`Ints.0` is missing');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Name': 'a', 'Items.0.Values.1': 'v' })),
        'InvalidParameter',
        '`Items.0.Values.0` is missing',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.1.Name': 'a', 'Items.1.Values.0': 'v' })),
        'InvalidParameter',
        '`Items.0` is missing',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Nested.0.0': '1', 'Nested.2.0': '1' })),
        'InvalidParameter',
        '`Nested.1` is missing',
      );
    });

    it('accepts only canonical decimal indices, so each element has exactly one name', () => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.00': '1' })), 'InvalidParameter', '`00`', '`Ints.00`', 'leading zeros');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Ints.0': '1', 'Ints.01': '2' })),
        'InvalidParameter',
        '`Ints.01`',
      );
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.-1': '1' })), 'InvalidParameter', '`Ints` must be an array, got an object');
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.+1': '1' })), 'InvalidParameter', '`Ints` must be an array');
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.1e1': '1' })), 'InvalidParameter', '`Ints` must be an array');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Ints.99999999999999999999999': '1' })),
        'InvalidParameter',
        'out of range',
        '`Ints.99999999999999999999999`',
      );
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Ints.123456789': '1' })), 'InvalidParameter', '`Ints.0` is missing');
    });

    it('decodes many elements', () => {
      const n = 50_000;
      const params = new Map<string, string>([['Id', 'x']]);
      for (let i = n - 1; i >= 0; i--) params.set(`Ints.${i}`, String(i));
      const out = decodeFlat(Root, params);
      expect(out.Ints).toHaveLength(n);
      expect(out.Ints?.[n - 1]).toBe(n - 1);
    });
  });

  describe('names that do not map onto the schema', () => {
    it('rejects unknown members with UnknownParameter and the exact name', () => {
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Foo: '1' })), 'UnknownParameter', '`Foo` is not a parameter of Root');
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Foo': '1' })),
        'UnknownParameter',
        '`Items.0.Foo` is not a parameter of Item',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Leaf.Foo.Bar.0': '1' })),
        'UnknownParameter',
        '`Items.0.Leaf.Foo` is not a parameter of Leaf',
        '`Items.0.Leaf.Foo.Bar.0`',
      );
      expectError(() => decodeFlat(Root, flat({ Id: 'x', '0': 'a' })), 'UnknownParameter', '`0` is not a parameter of Root');
      expectError(() => decodeFlat(Root, flat([['Id', 'x'], ['__proto__', 'a']])), 'UnknownParameter', '`__proto__`');
      expectError(() => decodeFlat(Root, flat({ Id: 'x', 'constructor.name': 'a' })), 'UnknownParameter', '`constructor`');
      expectError(() => decodeFlat(Root, flat({ id: 'x' })), 'UnknownParameter', '`id`');
      // common parameters are the caller's business: decodeFlat sees them as unknown
      expectError(() => decodeFlat(Root, flat({ Id: 'x', Action: 'DescribeJobs' })), 'UnknownParameter', '`Action`');
    });

    it('rejects an index on a non-array with InvalidParameter', () => {
      expectError(
        () => decodeFlat(Root, flat({ 'Id.0': 'x' })),
        'InvalidParameter',
        '`Id` must be a string, got an array (parameter `Id.0`)',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'One.0.Name': 'n' })),
        'InvalidParameter',
        '`One` must be an object (Item), got an array (parameter `One.0.Name`)',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.0.Leaf.S.0': 's' })),
        'InvalidParameter',
        '`Items.0.Leaf.S` must be a string, got an array (parameter `Items.0.Leaf.S.0`)',
      );
    });

    it('rejects a member path below a scalar with InvalidParameter', () => {
      expectError(
        () => decodeFlat(Root, flat({ 'Id.Foo': 'x' })),
        'InvalidParameter',
        '`Id` must be a string, got an object (parameter `Id.Foo`)',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Ints.0.Foo': '1' })),
        'InvalidParameter',
        '`Ints.0` must be an integer, got an object (parameter `Ints.0.Foo`)',
      );
    });

    it('rejects a member name on an array with InvalidParameter', () => {
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.Name': 'n' })),
        'InvalidParameter',
        '`Items` must be an array, got an object (parameter `Items.Name`)',
      );
    });

    it('rejects a scalar where a structure is expected with InvalidParameter', () => {
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', One: 'n' })),
        'InvalidParameter',
        '`One` must be an object (Item), got a scalar value (parameter `One`)',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', Ints: '1' })),
        'InvalidParameter',
        '`Ints` must be an array, got a scalar value',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Items.0': 'n' })),
        'InvalidParameter',
        '`Items.0` must be an object (Item), got a scalar value',
      );
      expectError(
        () => decodeFlat(Root, flat({ Id: 'x', 'Nested.0': '1' })),
        'InvalidParameter',
        '`Nested.0` must be an array, got a scalar value',
      );
    });

    it('rejects malformed names with empty segments', () => {
      for (const name of ['', '.Id', 'Id.', 'Items..Name', 'One..', '.']) {
        expectError(() => decodeFlat(Root, flat([[name, 'x']])), 'InvalidParameter', 'Malformed parameter name');
      }
    });

    it('survives hostile, very deep names', () => {
      const deepUnder = (prefix: string) => prefix + '.a'.repeat(200_000);
      expectError(() => decodeFlat(Root, flat([[deepUnder('Id'), 'x']])), 'InvalidParameter', '`Id` must be a string');
      expectError(
        () => decodeFlat(Root, flat([['Id', 'x'], [deepUnder('One'), 'x']])),
        'UnknownParameter',
        '`One.a` is not a parameter of Item',
      );
      const deepIdx = 'Nested' + '.0'.repeat(200_000);
      expectError(() => decodeFlat(Root, flat([['Id', 'x'], [deepIdx, '1']])), 'InvalidParameter', '`Nested.0.0` must be an integer, got an array');
      const e = caught(() => decodeFlat(Root, flat([['Id', 'x'], ['Zz' + '.a'.repeat(200_000), '1']])));
      expect(e.code).toBe('UnknownParameter');
      expect(e.message.length).toBeLessThan(600);
    });

    it('escapes control characters in names', () => {
      const e = expectError(() => decodeFlat(Root, flat({ Id: 'x', 'Bad\r\nName': '1' })), 'UnknownParameter');
      expect(e.message).not.toMatch(/[\r\n]/);
      expect(e.message).toContain('Bad\\r\\nName');
    });
  });

  describe('DescribeComputeEnvActivities: Filters is a single object', () => {
    const schema = REQUESTS.DescribeComputeEnvActivities;

    it('decodes Filters.Name / Filters.Values.N', () => {
      const params = flat({
        EnvId: 'env-1',
        'Filters.Name': 'compute-node-id',
        'Filters.Values.0': 'node-a',
        'Filters.Values.1': 'node-b',
        Offset: '0',
        Limit: '20',
      });
      const expected = {
        EnvId: 'env-1',
        Filters: { Name: 'compute-node-id', Values: ['node-a', 'node-b'] },
        Offset: 0,
        Limit: 20,
      };
      expect(decodeFlat(schema, params)).toEqual(expected);
      expect(decodeJson(schema, expected)).toEqual(expected);
    });

    it('rejects the array form in both encodings', () => {
      expectError(
        () => decodeFlat(schema, flat({ EnvId: 'env-1', 'Filters.0.Name': 'compute-node-id', 'Filters.0.Values.0': 'n' })),
        'InvalidParameter',
        '`Filters` must be an object (Filter), got an array (parameter `Filters.0.Name`)',
      );
      expectError(
        () => decodeJson(schema, { EnvId: 'env-1', Filters: [{ Name: 'compute-node-id', Values: ['n'] }] }),
        'InvalidParameter',
        '`Filters` must be an object (Filter), got array',
      );
    });

    it('requires the Filter members', () => {
      expectError(
        () => decodeFlat(schema, flat({ EnvId: 'env-1', 'Filters.Name': 'compute-node-id' })),
        'MissingParameter',
        'The parameter `Filters.Values` is required.',
      );
    });

    it('whereas the other Describe actions take an array of Filters', () => {
      expect(
        decodeFlat(REQUESTS.DescribeJobs, flat({ 'Filters.0.Name': 'job-state', 'Filters.0.Values.0': 'FAILED' })),
      ).toEqual({ Filters: [{ Name: 'job-state', Values: ['FAILED'] }] });
      expectError(
        () => decodeFlat(REQUESTS.DescribeJobs, flat({ 'Filters.Name': 'job-state' })),
        'InvalidParameter',
        '`Filters` must be an array, got an object (parameter `Filters.Name`)',
      );
    });
  });
});
