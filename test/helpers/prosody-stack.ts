// The set-up most XMPP suites share: a real Prosody (0.12 or 13) whose VirtualHost
// `localhost` logs in through our module, and a real xmpp-oauth server (own Redis)
// attached to it as the component. One place, so every suite runs the same stack
// and can loop over both Prosody generations.
import { rmSync } from 'node:fs';
import { attachTo, ourModuleHost, pluginDirWithModule } from './prosody-module.js';
import { startProsody, type ProsodyInstance, type ProsodyOptions, type ProsodyVersion } from './prosody.js';
import { startServer, type TestServer } from './server.js';
import type { Logger } from '../../src/log.js';
import type { LoginTarget } from './xmpp-client.js';

export const STACK_COMPONENT = { domain: 'oauth.localhost', secret: 'component-secret' };

export interface ProsodyStackOptions {
  version?: ProsodyVersion;
  /** Options of our module on `localhost` (e.g. { xmpp_oauth_timeout: 2 }). */
  moduleOptions?: Record<string, string | number | boolean>;
  /** Further Prosody modules, VirtualHosts, raw config. */
  prosody?: Omit<ProsodyOptions, 'components' | 'pluginDir' | 'version'>;
  /** Overrides of the server's config (merged over the `xmpp` block for that key). */
  server?: Record<string, unknown>;
  /** Accounts to create once the link is up: JID → password. */
  accounts?: Record<string, string>;
  /** Where the server logs (default: nowhere). */
  log?: Logger;
}

export interface ProsodyStack {
  prosody: ProsodyInstance;
  server: TestServer;
  /** Where c2s clients connect for `localhost`. */
  target: LoginTarget;
  /** "Prosody 13" or "Prosody 0.12", for test names. */
  label: string;
  stop(): Promise<void>;
}

export async function startProsodyStack(opts: ProsodyStackOptions = {}): Promise<ProsodyStack> {
  const pluginDir = pluginDirWithModule();
  const version = opts.version ?? '0.12';
  const extraHosts = opts.prosody?.virtualHosts ?? [];
  const prosody = await startProsody({
    ...opts.prosody,
    version,
    components: [STACK_COMPONENT],
    pluginDir,
    virtualHosts: [ourModuleHost(STACK_COMPONENT, opts.moduleOptions), ...extraHosts],
  });
  let server: TestServer;
  try {
    const { xmpp: xmppOverrides, ...rest } = (opts.server ?? {}) as { xmpp?: Record<string, unknown> };
    server = await startServer({ ...rest, xmpp: { ...attachTo(prosody, STACK_COMPONENT), ...xmppOverrides } }, { redis: true, log: opts.log });
    await server.app.link!.waitOnline(15_000);
    for (const [jid, password] of Object.entries(opts.accounts ?? {})) await server.app.accounts.create(jid, password);
  } catch (err) {
    await prosody.stop();
    rmSync(pluginDir, { recursive: true, force: true });
    throw err;
  }
  return {
    prosody,
    server,
    target: { port: prosody.c2sPort, domain: 'localhost' },
    label: `Prosody ${version}`,
    async stop() {
      await server.stop();
      await prosody.stop();
      rmSync(pluginDir, { recursive: true, force: true });
    },
  };
}
