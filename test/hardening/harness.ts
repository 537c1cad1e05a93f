// Shared by the hardening tests: a real server on real Redis whose log lines
// are captured, so a test can assert that no remote input reaches `error`.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApp } from '../../src/app.js';
import { validate } from '../../src/config/load.js';
import { PASSWORD } from '../helpers/flow.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { CLIENT_SECRET, secretHash, type TestServer } from '../helpers/server.js';

export { CLIENT_SECRET, PASSWORD };
export const REGISTRATION_KEY = 'registration-key-for-hardening-0123456789';
export const REDIRECT = 'https://app.example/cb';

export interface LogLine {
  level: number;
  msg?: string;
  [k: string]: unknown;
}

export interface HardenedServer extends TestServer {
  /** Every log line at `warn` or above since start. */
  logs: LogLine[];
  errorLogs(): LogLine[];
}

/**
 * The same server as test/helpers/server.ts (static clients `webapp`,
 * `native`, `tv`), plus registration, with throttles opened wide so a fuzzer
 * reaches the code behind them, and a logger that keeps warn/error lines.
 */
export async function startHardenedServer(
  overrides: Record<string, unknown> = {},
  extraClients: Array<Record<string, unknown>> = [],
): Promise<HardenedServer> {
  const redis: RedisInstance = await startRedis();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          logs.push({ level: 60, msg: `unparseable log line: ${line.slice(0, 200)}` });
        }
      }
      cb();
    },
  });
  const log = pino({ level: 'warn' }, sink);
  const config = validate({
    issuer: url,
    http: { host: '127.0.0.1', port },
    redis: { url: redis.url },
    xmpp: { enabled: false, hosts: ['localhost', 'example.org'] },
    log: { level: 'warn' },
    registration_key: REGISTRATION_KEY,
    allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code', 'password'],
    token_throttle: { per_client: 1_000_000, failed_auth: 1_000_000, window: 60 },
    login_throttle: { per_account: 1_000_000, per_address: 1_000_000, window: 60 },
    clients: [
      {
        id: 'webapp',
        name: 'Test Web App',
        secret_hash: secretHash(CLIENT_SECRET),
        redirect_uris: [REDIRECT],
        client_uri: 'https://app.example/',
        grant_types: ['authorization_code', 'refresh_token', 'password'],
      },
      {
        id: 'native',
        name: 'Test Native App',
        public: true,
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback', 'org.example.app:/cb'],
      },
      { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
      ...extraClients,
    ],
    ...overrides,
  });
  const app = await createApp(config, log);
  await app.start();
  return {
    app,
    url,
    redisUrl: redis.url,
    logs,
    errorLogs: () => logs.filter((l) => l.level >= 50),
    async stop() {
      await app.stop();
      await redis.stop();
    },
  };
}

/** Error codes a well-formed OAuth/OIDC JSON error may carry (RFC 6749, 6750, 7009, 7591, 8628, OIDC). */
export const OAUTH_ERROR_CODES = new Set([
  // RFC 6749 4.1.2.1 / 5.2
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type',
  'invalid_scope', 'access_denied', 'unsupported_response_type', 'temporarily_unavailable',
  // RFC 6750
  'invalid_token', 'insufficient_scope',
  // RFC 7009
  'unsupported_token_type',
  // RFC 7591
  'invalid_redirect_uri', 'invalid_client_metadata', 'invalid_software_statement', 'unapproved_software_statement',
  // RFC 8628
  'authorization_pending', 'slow_down', 'expired_token',
]);
