// The set-up most XMPP suites share: a real Prosody (0.12 or 13) whose VirtualHost
// `localhost` logs in through our module, and a real xmpp-oauth server (own Redis)
// attached to it as the component. One place, so every suite runs the same stack
// and can loop over both Prosody generations.
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
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
  /** Further files copied into the plugin directory beside our module (e.g. a test-only Prosody module). */
  pluginFiles?: string[];
  /** Overrides of the server's config (merged over the `xmpp` block for that key). */
  server?: Record<string, unknown>;
  /** Accounts to create once the link is up: JID → password. */
  accounts?: Record<string, string>;
  /** The caller's Redis (URL) instead of a fresh one that stops with the server: it outlives the server, e.g. across restartServer(). */
  redis?: string;
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
  /** After the test stopped `server`: starts a new one with the same config and waits for the link; `server` is then the new one. */
  restartServer(): Promise<TestServer>;
  stop(): Promise<void>;
}

export async function startProsodyStack(opts: ProsodyStackOptions = {}): Promise<ProsodyStack> {
  const pluginDir = pluginDirWithModule();
  for (const file of opts.pluginFiles ?? []) {
    copyFileSync(file, join(pluginDir, basename(file)));
    chmodSync(join(pluginDir, basename(file)), 0o644);
  }
  const version = opts.version ?? '0.12';
  const extraHosts = opts.prosody?.virtualHosts ?? [];
  const prosody = await startProsody({
    ...opts.prosody,
    version,
    components: [STACK_COMPONENT],
    pluginDir,
    virtualHosts: [ourModuleHost(STACK_COMPONENT, opts.moduleOptions), ...extraHosts],
  });
  const { xmpp: xmppOverrides, ...rest } = (opts.server ?? {}) as { xmpp?: Record<string, unknown> };
  const ourServer = async () => {
    const started = await startServer({ ...rest, xmpp: { ...attachTo(prosody, STACK_COMPONENT), ...xmppOverrides } }, { redis: opts.redis ?? true, log: opts.log });
    await started.app.link!.waitOnline(15_000);
    return started;
  };
  let server: TestServer;
  try {
    server = await ourServer();
    for (const [jid, password] of Object.entries(opts.accounts ?? {})) await server.app.accounts.create(jid, password);
  } catch (err) {
    await prosody.stop();
    rmSync(pluginDir, { recursive: true, force: true });
    throw err;
  }
  const stack: ProsodyStack = {
    prosody,
    server,
    target: { port: prosody.c2sPort, domain: 'localhost' },
    label: `Prosody ${version}`,
    async restartServer() {
      stack.server = await ourServer();
      return stack.server;
    },
    async stop() {
      await stack.server.stop();
      await prosody.stop();
      rmSync(pluginDir, { recursive: true, force: true });
    },
  };
  return stack;
}
