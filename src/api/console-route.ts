// The web console's files at /console/ (docs/console.md): index.html, app.js and app.css, and yaml.js
// (the YAML parser, which the submit page loads when it opens). The app is
// TypeScript under console/src, bundled and minified in memory by esbuild's JS API on the first request
// (then cached for the life of the server), so `npm ci && npm start` stays the whole setup: nothing is
// generated on disk. Answers are gzipped for clients that accept it and carry an ETag (a 304 for
// If-None-Match) and a strict Content-Security-Policy.
// The console has no API of its own: it signs ordinary API calls in the browser.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../lib/logger.ts';

export const CONSOLE_PATH = '/console/';
/** Where the console's sources are (the repository's console/ folder). */
export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../console');

interface Asset {
  body: Buffer;
  /** The body gzipped once, for clients that accept it. */
  gzipped: Buffer;
  type: string;
  etag: string;
}

type Assets = Record<'index.html' | 'app.js' | 'app.css' | 'yaml.js', Asset>;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function asset(body: Buffer | string, type: string): Asset {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { body: b, gzipped: gzipSync(b, { level: 9 }), type, etag: `"${createHash('sha256').update(b).digest('base64url').slice(0, 27)}"` };
}

/** Builds under way in this process (esbuild's service is stopped when the last one ends). */
let building = 0;

/** Bundles console/src/main.ts, console/src/yaml-entry.ts and console/src/app.css (minified) and reads index.html. */
export async function buildConsole(dir = CONSOLE_DIR): Promise<Assets> {
  const esbuild = await import('esbuild');
  building++;
  try {
    const common = { bundle: true, minify: true, write: false, logLevel: 'silent', legalComments: 'none' } as const;
    const script = (entry: string, outfile: string) =>
      esbuild.build({ ...common, entryPoints: [path.join(dir, 'src', entry)], format: 'iife', target: 'es2020', platform: 'browser', outfile });
    const [js, yaml, css, html] = await Promise.all([
      script('main.ts', 'app.js'),
      script('yaml-entry.ts', 'yaml.js'),
      esbuild.build({ ...common, entryPoints: [path.join(dir, 'src/app.css')], outfile: 'app.css' }),
      fs.readFile(path.join(dir, 'index.html')),
    ]);
    const text = (r: { outputFiles?: { text: string }[] }) => r.outputFiles?.[0]?.text ?? '';
    return {
      'index.html': asset(html, 'text/html; charset=utf-8'),
      'app.js': asset(text(js), 'text/javascript; charset=utf-8'),
      'app.css': asset(text(css), 'text/css; charset=utf-8'),
      'yaml.js': asset(text(yaml), 'text/javascript; charset=utf-8'),
    };
  } finally {
    // the bundler's service process is not needed once the files are built
    if (--building === 0) await esbuild.stop();
  }
}

export function registerConsoleRoute(app: FastifyInstance, logger: Logger, dir = CONSOLE_DIR): void {
  let built: Promise<Assets> | undefined;
  const assets = (): Promise<Assets> => {
    built ??= buildConsole(dir).catch((e: unknown) => {
      built = undefined; // the next request tries again (a file being edited, say)
      throw e;
    });
    return built;
  };
  const serve = (name: keyof Assets) => async (req: FastifyRequest, reply: FastifyReply) => {
    let a: Asset;
    try {
      a = (await assets())[name];
    } catch (e) {
      logger.error({ err: e }, 'the console cannot be built');
      return reply.code(500).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store')
        .send(`The console cannot be built: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    void reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    if (name === 'index.html') void reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
    // gzip when the client takes it (a third of the bytes); each variant has its own ETag
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const etag = gzip ? `${a.etag.slice(0, -1)}-gz"` : a.etag;
    void reply.header('etag', etag).header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    if (gzip) void reply.header('content-encoding', 'gzip');
    return reply.code(200).header('content-type', a.type).send(gzip ? a.gzipped : a.body);
  };
  app.get('/console', async (_req, reply) => reply.redirect(CONSOLE_PATH, 301));
  app.get(CONSOLE_PATH, serve('index.html'));
  for (const name of ['index.html', 'app.js', 'app.css', 'yaml.js'] as const) app.get(`${CONSOLE_PATH}${name}`, serve(name));
}
