import pino, { Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout. Secrets never reach a log line: the paths below are censored wherever
 * a caller passes credentials, request headers or a token response. No caller logs the
 * process configuration whole; it logs the fields it means to show, none of them secret.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.client_secret',
  '*.clientSecret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.access_token',
  '*.refresh_token',
  'token',
  '*.token',
];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'cf-app-discovery' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
