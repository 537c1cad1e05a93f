import { createHash } from 'node:crypto';
import { createApp, type App } from '../../src/app.js';
import { validate } from '../../src/config/load.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { freePort } from './ports.js';
import { startRedis } from './redis.js';

export const CLIENT_SECRET = 'test-client-secret-0123456789abcdef';
export const secretHash = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

export interface TestServer {
  app: App;
  url: string;
  redisUrl?: string;
  stop(): Promise<void>;
}

/**
 * A real server on a loopback port, by default backed by a real redis-server of
 * its own, with a confidential and a public test client and XMPP disabled.
 */
export async function startServer(
  overrides: Record<string, unknown> = {},
  opts: { redis?: boolean | string; /** Where the server logs (default: nowhere). */ log?: Logger } = { redis: true },
): Promise<TestServer> {
  const redis = opts.redis === true ? await startRedis() : undefined;
  const redisUrl = typeof opts.redis === 'string' ? opts.redis : redis?.url;
  const fixed = (overrides.http as { port?: number } | undefined)?.port;
  const port = fixed ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const config = validate({
    issuer: url,
    http: { host: '127.0.0.1', port },
    redis: redisUrl ? { url: redisUrl } : {},
    xmpp: { enabled: false, hosts: ['localhost', 'example.org'] },
    log: { level: 'silent' },
    clients: [
      {
        id: 'webapp',
        name: 'Test Web App',
        secret_hash: secretHash(CLIENT_SECRET),
        redirect_uris: ['https://app.example/cb'],
        client_uri: 'https://app.example/',
      },
      {
        id: 'native',
        name: 'Test Native App',
        public: true,
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback', 'org.example.app:/cb'],
      },
      { id: 'tv', name: 'Test TV App', public: true, grant_types: ['device_code', 'refresh_token'] },
    ],
    ...overrides,
  });
  const app = await createApp(config, opts.log ?? silentLogger);
  await app.start();
  return {
    app,
    url,
    redisUrl,
    async stop() {
      await app.stop();
      await redis?.stop();
    },
  };
}

/**
 * startServer with a domain-name issuer (http://localhost:PORT, listening on
 * 127.0.0.1): what passkeys need, as WebAuthn takes no IP address as RP ID.
 * `base` is the issuer, the address browsers use.
 */
export async function startServerOnLocalhost(
  overrides: Record<string, unknown> = {},
  opts?: Parameters<typeof startServer>[1],
): Promise<{ server: TestServer; base: string }> {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const server = await startServer({ issuer: base, http: { host: '127.0.0.1', port }, ...overrides }, opts);
  return { server, base };
}
