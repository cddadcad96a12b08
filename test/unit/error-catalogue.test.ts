// The error catalogue (src/domain/errors.ts) against the code and the spec, fastify-style: every code
// that src/ can throw is catalogued, every catalogued code is one of batch-api.md §a.8/§e (copied into
// test/fixtures/spec-error-codes.json, since CI has no copy of the spec), and the codes nothing emits
// are listed here by name, so adding or removing the last emission site of a code fails until the list
// says so. The emission sites are found with the TypeScript checker: every string literal that stands
// where an error code is expected (apiError, fail, new ApiError, a helper's code parameter, a cast).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { apiError, ERROR_CATALOG, ERROR_CODES, renderTemplate, type ErrorCode } from '../../src/domain/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CATALOGUE_FILE = 'src/domain/errors.ts';

/** Catalogued codes that nothing in src/ emits (Tencent defines them; OpenBatch has no case for them yet). */
const NEVER_EMITTED: ErrorCode[] = [
  'ActionOffline',
  'AuthFailure.InvalidSecretId',
  'AuthFailure.MFAFailure',
  'AuthFailure.TokenFailure',
  'AuthFailure.UnauthorizedOperation',
  'DryRunOperation',
  'LimitExceeded',
  'NoSuchProduct',
  'RequestLimitExceeded.GlobalRegionUinLimitExceeded',
  'RequestLimitExceeded.IPLimitExceeded',
  'RequestLimitExceeded.UinLimitExceeded',
  'ResourceInUse',
  'ResourceNotFound',
  'ServiceUnavailable',
  'UnauthorizedOperation',
  'InternalError.CallCam',
  'InternalError.CallCpmAPI',
  'InternalError.CallCvm',
  'InternalError.CallTagAPI',
  'InvalidParameterValue.InvalidDataTypeAny',
  'InvalidParameterValue.UnavailableZone',
  'LimitExceeded.JobQuota',
  'UnauthorizedOperation.UserNotAllowedToUseBatch',
  'UnsupportedOperation.TerminateOperationWithEnvId',
];

/** Files that still build an ApiError from a message written by hand (in the template's shape) rather
 *  than with apiError; their owner (the object-store rewrite) moves them over and empties this list. */
const HAND_WRITTEN_MESSAGES = ['src/objectstore/cos-url.ts', 'src/objectstore/fs/fs-store.ts'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const rel = `${dir}/${d.name}`;
    if (d.isDirectory()) return sourceFiles(rel);
    return d.name.endsWith('.ts') ? [rel] : [];
  });
}

interface Scan {
  /** Code → the places (file:line) where a literal stands for it. */
  emitted: Map<string, string[]>;
  /** Files with a `new ApiError(…)`. */
  handWritten: Set<string>;
}

/** Scans src/ with the type checker (once; it takes a few seconds). */
function scan(): Scan {
  const files = sourceFiles('src');
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram(files.map((f) => path.join(ROOT, f)), options);
  const checker = program.getTypeChecker();
  const codes = new Set<string>(ERROR_CODES);
  const isCodeType = (t: ts.Type | undefined): boolean => {
    if (t === undefined) return false;
    const base = t.isTypeParameter() ? checker.getBaseConstraintOfType(t) : t;
    if (base === undefined) return false;
    // (an optional parameter's type has undefined too)
    const parts = (base.isUnion() ? base.types : [base]).filter((p) => !(p.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    return parts.length > 0 && parts.every((p) => p.isStringLiteral() && codes.has(p.value));
  };
  const out: Scan = { emitted: new Map(), handWritten: new Set() };
  for (const rel of files) {
    const sf = program.getSourceFile(path.join(ROOT, rel));
    if (!sf) throw new Error(`not in the program: ${rel}`);
    const visit = (node: ts.Node): void => {
      if (ts.isTypeNode(node)) return; // a code named in a type is not thrown
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'ApiError') out.handWritten.add(rel);
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && isCodeType(checker.getContextualType(node))) {
        const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        const at = out.emitted.get(node.text) ?? [];
        at.push(`${rel}:${line}`);
        out.emitted.set(node.text, at);
      }
      ts.forEachChild(node, visit);
    };
    if (rel !== CATALOGUE_FILE) visit(sf);
  }
  return out;
}

const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/spec-error-codes.json'), 'utf8')) as {
  common: string[]; commonUnverified: string[]; batch: string[];
};

describe('the error catalogue', () => {
  let scanned: Scan | undefined;
  const get = (): Scan => (scanned ??= scan());

  it('holds every code that src/ throws', () => {
    const emitted = [...get().emitted.keys()];
    // the scan finds the sites it should (so that an empty scan cannot pass)
    expect(get().emitted.get('ResourceNotFound.Job')?.some((at) => at.startsWith('src/services/jobs.ts:'))).toBe(true);
    expect(get().emitted.get('FailedOperation')).toEqual([
      expect.stringMatching(/^src\/api\/pipeline\.ts:\d+$/), expect.stringMatching(/^src\/scheduler\/inbox\.ts:\d+$/),
      expect.stringMatching(/^src\/scheduler\/replica\.ts:\d+$/), expect.stringMatching(/^src\/scheduler\/replica\.ts:\d+$/),
    ]);
    expect(get().emitted.get('InvalidParameter.TaskTemplateDescriptionTooLong')).toBeDefined(); // through a helper's code parameter
    expect(emitted.filter((c) => !Object.hasOwn(ERROR_CATALOG, c))).toEqual([]);
  }, 120_000);

  it('lists by name the codes nothing emits', () => {
    const never = ERROR_CODES.filter((c) => !get().emitted.has(c));
    expect(never.sort()).toEqual([...NEVER_EMITTED].sort());
  }, 120_000);

  it('builds an ApiError with a message template only in apiError, except in the files listed', () => {
    expect([...get().handWritten].sort()).toEqual([...HAND_WRITTEN_MESSAGES].sort());
  }, 120_000);

  it('holds only codes of the spec (batch-api.md §a.8 and §e)', () => {
    const known = new Set([...spec.common, ...spec.commonUnverified, ...spec.batch]);
    expect(spec.batch).toHaveLength(72); // §e's title counts them
    expect(ERROR_CODES.filter((c) => !known.has(c))).toEqual([]);
  });

  it('has one template per code, and apiError fills in every parameter it names', () => {
    for (const code of ERROR_CODES) {
      const { template } = ERROR_CATALOG[code];
      expect(template.trim(), code).not.toBe('');
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const params = Object.fromEntries(names.map((n) => [n, `<${n}>`]));
      const err = (apiError as (c: ErrorCode, p: Record<string, string>) => ReturnType<typeof apiError>)(code, params);
      expect(err.code).toBe(code);
      expect(err.message, code).toBe(renderTemplate(template, params));
      expect(err.message, code).not.toMatch(/\{\w+\}/);
    }
    expect(apiError('ResourceNotFound.Job', { jobId: 'job-12345678' }).message).toBe('Job job-12345678 does not exist.');
  });
});
