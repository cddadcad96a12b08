// pino logger with the bindings we use (requestId, action, account, jobId, taskName, index, attempt)
// and redaction of secrets wherever they might appear in a logged object.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'secretKey',
  '*.secretKey',
  'SecretKey',
  '*.SecretKey',
  '*.*.SecretKey',
  'Password',
  '*.Password',
  '*.*.Password',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '***' }, base: { service: 'openbatch' } },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
