import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

// Field names that must never be logged, wherever they appear in an object.
const SECRET_PATHS = [
  'password', 'secret', 'token', 'code', 'client_secret', 'access_token', 'refresh_token',
  'id_token', 'device_code', 'code_verifier', 'authorization', 'cookie',
  '*.password', '*.secret', '*.token', '*.client_secret', '*.access_token', '*.refresh_token',
  '*.code', '*.code_verifier', '*.device_code', '*.authorization', '*.cookie',
  'req.headers.authorization', 'req.headers.cookie',
];

/**
 * Structured JSON logs on stdout (or `destination`, e.g. stderr for the
 * extauth bridge, whose stdout is the protocol channel).
 * Level policy: `error` only for what an operator must fix; remote misbehaviour
 * is `info` (bad input, failed logins) or `warn` (unexpected peer behaviour).
 */
export function createLogger(level: LevelWithSilent = 'info', destination: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { name: 'xmpp-oauth' },
      redact: { paths: SECRET_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: destination, sync: destination === 2 }),
  );
}

/** A logger that drops everything: for unit tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
