// The ejabberd set-up several XMPP suites share: a Redis of its own, an
// xmpp-oauth config file for the extauth bridge (ejabberd runs
// `xmpp-oauth --config … extauth --protocol ejabberd` for PLAIN), a real
// ejabberd (23.01, or 24.12 with `version`) using that bridge, and a real xmpp-oauth server on the same
// Redis attached to it as the component. One place, so the suites run the same stack.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './cli.js';
import { startEjabberd, type EjabberdInstance, type EjabberdVersion } from './ejabberd.js';
import { freePort } from './ports.js';
import { startRedis, type RedisInstance } from './redis.js';
import { startServer, type TestServer } from './server.js';
import type { Logger } from '../../src/log.js';
import type { LoginTarget } from './xmpp-client.js';

export const EJABBERD_STACK_COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };

export interface EjabberdStackOptions {
  /** Which ejabberd generation (default 23.01). */
  version?: EjabberdVersion;
  /** X-OAUTH2 lookups: ejabberd asks our server (oauth_db_type: rest), sending this secret; our server has ejabberd_lookup on with it. */
  lookupSecret?: string;
  /** Serve ejabberd's mod_http_api (kick_user) and tell our server of it (ejabberd_api). */
  httpApi?: boolean;
  /** STARTTLS on c2s (required), with this certificate: ejabberd 24.12 then offers SASL2. */
  tls?: { certFile: string; keyFile: string };
  /** Load mod_auth_fast (24.12; left off in our example configuration). */
  authFast?: boolean;
  /** Overrides of the server's config (merged over the `xmpp` block for that key). */
  server?: Record<string, unknown>;
  /** Accounts to create once the link is up: JID → password. */
  accounts?: Record<string, string>;
  /** How long to wait for the component link (default 20 s). */
  linkTimeoutMs?: number;
  /** Where the server logs (default: nowhere). */
  log?: Logger;
}

export interface EjabberdStack {
  redis: RedisInstance;
  ejabberd: EjabberdInstance;
  server: TestServer;
  /** The xmpp-oauth config file the extauth bridge reads (issuer, the shared Redis, hosts). */
  config: string;
  /** Where c2s clients connect for `localhost`. */
  target: LoginTarget;
  stop(): Promise<void>;
}

export async function startEjabberdStack(opts: EjabberdStackOptions = {}): Promise<EjabberdStack> {
  const component = EJABBERD_STACK_COMPONENT;
  const redis = await startRedis();
  let dir: string | undefined;
  let ejabberd: EjabberdInstance | undefined;
  let server: TestServer | undefined;
  const stop = async () => {
    await server?.stop();
    await ejabberd?.stop();
    await redis.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const httpPort = await freePort();
    const issuer = `http://127.0.0.1:${httpPort}`;
    dir = mkdtempSync(join(tmpdir(), 'ejabberd-stack-'));
    chmodSync(dir, 0o755);
    const config = join(dir, 'xmpp-oauth.yml');
    writeFileSync(config, `issuer: ${issuer}\nredis:\n  url: ${redis.url}\nxmpp:\n  hosts: [localhost]\nlog:\n  level: info\n`);
    chmodSync(config, 0o644);
    ejabberd = await startEjabberd({
      version: opts.version,
      components: [component],
      // As an operator writes it: the launcher itself, by absolute path, no shell, no PATH lookup of ours.
      extauthProgram: `${BIN} --config ${config} extauth --protocol ejabberd`,
      ...(opts.lookupSecret ? { extApiUrl: issuer, extApiHeaders: `X-Lookup-Secret: ${opts.lookupSecret}` } : {}),
      httpApi: opts.httpApi,
      tls: opts.tls,
      authFast: opts.authFast,
    });
    const { xmpp: xmppOverrides, ...rest } = (opts.server ?? {}) as { xmpp?: Record<string, unknown> };
    server = await startServer(
      {
        http: { host: '127.0.0.1', port: httpPort },
        issuer,
        ...(opts.lookupSecret ? { ejabberd_lookup: { enabled: true, secret: opts.lookupSecret } } : {}),
        ...(opts.httpApi ? { ejabberd_api: { url: ejabberd.apiUrl } } : {}),
        ...rest,
        xmpp: {
          enabled: true,
          service: `xmpp://127.0.0.1:${ejabberd.componentPorts[0]}`,
          domain: component.domain,
          secret: component.secret,
          hosts: ['localhost'],
          ...xmppOverrides,
        },
      },
      { redis: redis.url, log: opts.log },
    );
    await server.app.link!.waitOnline(opts.linkTimeoutMs ?? 20_000);
    for (const [jid, password] of Object.entries(opts.accounts ?? {})) await server.app.accounts.create(jid, password);
    return { redis, ejabberd, server, config, target: { port: ejabberd.c2sPort, domain: 'localhost' }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
