// A real pino logger (the server's own redaction aside) whose lines a test can
// read raw: some checks are about the JSON text itself (a key written twice
// survives no JSON.parse).
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every line as written. */
  raw: string[];
  /** The lines parsed (a repeated key keeps its last value). */
  lines(): Array<Record<string, unknown> & { msg?: string; level?: number }>;
}

export function captureLog(level: pino.LevelWithSilent = 'debug'): CapturedLog {
  const raw: string[] = [];
  const log = pino({ level, base: { name: 'xmpp-oauth' } }, { write: (s: string) => void raw.push(s.trimEnd()) });
  return { log, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
