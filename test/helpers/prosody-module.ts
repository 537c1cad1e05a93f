// Installs our Prosody module folder (contrib/prosody/mod_auth_xmpp_oauth/, the
// main file and its *.lib.lua files) into a throwaway plugin directory that the
// prosody user can read.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import type { ProsodyInstance, ProsodyVirtualHost } from './prosody.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MODULE_DIR = fileURLToPath(new URL('../../contrib/prosody/mod_auth_xmpp_oauth', import.meta.url));

/** A new plugin directory holding mod_auth_xmpp_oauth/; returns its path. */
export function pluginDirWithModule(): string {
  const pluginDir = mkdtempSync(join(tmpdir(), 'xmpp-oauth-plugins-'));
  chmodSync(pluginDir, 0o755);
  const target = join(pluginDir, 'mod_auth_xmpp_oauth');
  mkdirSync(target, { mode: 0o755 });
  chmodSync(target, 0o755);
  for (const name of readdirSync(MODULE_DIR)) {
    if (!name.endsWith('.lua')) continue;
    copyFileSync(join(MODULE_DIR, name), join(target, name));
    chmodSync(join(target, name), 0o644);
  }
  return pluginDir;
}

/** The VirtualHost `localhost`, whose logins go to our module asking `component` (extra module options beside). */
export function ourModuleHost(component: { domain: string }, options: Record<string, string | number | boolean> = {}): ProsodyVirtualHost {
  return { host: 'localhost', options: { authentication: 'xmpp_oauth', xmpp_oauth_component: component.domain, ...options } };
}

/** The `xmpp` config block of a server attaching as `component` to `prosody`, serving `localhost`. */
export function attachTo(prosody: ProsodyInstance, component: { domain: string; secret: string }) {
  return { enabled: true, service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain: component.domain, secret: component.secret, hosts: ['localhost'] };
}
