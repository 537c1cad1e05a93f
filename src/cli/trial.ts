import type { App } from '../app.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { TrialNotice } from '../http/routes/home.js';
import { DEVICE_GRANT } from '../oauth/clients/registration/metadata.js';
import { isShared, storeOptionsFrom } from '../store/index.js';
import { randomToken } from '../util/crypto.js';

/**
 * Trial mode, like `vault server -dev`: the zero-configuration start gets a
 * demo account and open registration, so the whole flow can be tried at once.
 *
 * The rule: trial mode is on exactly when no config file is given (no
 * `--config`, no XMPP_OAUTH_CONFIG) and no shared store is configured
 * (redis.url, redis.sentinels, redis.cluster). Other environment overrides,
 * such as XMPP_OAUTH_HTTP__PORT to move off a busy port 8080, tune the trial;
 * they do not turn it into a deployment. Nothing it creates survives the
 * process: the store is in memory and the registration key is random.
 *
 * The XMPP link stays off unless the environment configures it (xmpp.service,
 * xmpp.secret or xmpp.enabled): a trial must not dial 127.0.0.1:5347 with an
 * empty secret into a Prosody that happens to own that port. When it is on,
 * /readyz does not wait for it (unless readyz.require_xmpp is set): a trial is
 * ready once its web flows are.
 */
export interface Trial {
  /** The config with trial additions (a per-process registration key). */
  config: Config;
  /** What the landing page shows; never the password. */
  notice: TrialNotice;
  /** Creates the demo account and prints the one start-up block. Call after app.start(). */
  announce(app: App, log: Logger): Promise<void>;
}

export function trialFor(loaded: LoadedConfig): Trial | undefined {
  if (loaded.file || isShared(storeOptionsFrom(loaded.config.redis))) return undefined;
  const set = (path: string) => loaded.isSet?.(path) ?? false;
  const linked = ['xmpp.enabled', 'xmpp.service', 'xmpp.secret'].some(set) && loaded.config.xmpp.enabled;
  const config: Config = {
    ...loaded.config,
    registration_key: loaded.config.registration_key ?? randomToken(32),
    xmpp: { ...loaded.config.xmpp, enabled: linked },
    readyz: { ...loaded.config.readyz, require_xmpp: set('readyz.require_xmpp') && loaded.config.readyz.require_xmpp },
  };
  const account = `demo@${config.xmpp.hosts[0] ?? 'localhost'}`;
  const notice: TrialNotice = { account, registerCommand: registerCommand(config) };
  return {
    config,
    notice,
    async announce(app, log) {
      const password = randomToken(12);
      await app.accounts.create(account, password);
      const url = config.issuer;
      const lines = [
        'TRIAL MODE: no config file and no redis.url, so this is a throwaway server on the in-memory store.',
        'Everything (the demo account, registered clients, grants, tokens) is lost on restart.',
        `  Open:          ${url}/`,
        `  Demo account:  ${account}`,
        `  Password:      ${password}`,
        '  Register a public client (PKCE, code and device flow):',
        `    ${notice.registerCommand}`,
        config.xmpp.enabled
          ? `XMPP: attaching as component ${config.xmpp.domain} at ${config.xmpp.service} is retried in the background; the web flows work without it.`
          : 'XMPP: no component link in a trial unless configured (XMPP_OAUTH_XMPP__SERVICE and XMPP_OAUTH_XMPP__SECRET).',
        'Set redis.url in a config file for anything but a trial (see docs/getting-started.md).',
      ];
      // The log line never carries the password: logs are shipped and kept
      // (journald, collectors) longer than this process lives.
      log.warn({ trial: { url, account, register_command: notice.registerCommand } }, 'TRIAL MODE: throwaway server on the in-memory store; the demo account and its password are printed on stderr');
      // The person who started it reads the block as written (a JSON line would
      // escape its newlines and quotes), whether or not stderr is a terminal.
      process.stderr.write(`\n${lines.join('\n')}\n\n`);
    },
  };
}

/** A curl command that registers a public native client with loopback redirects (RFC 8252). */
function registerCommand(config: Config): string {
  const grants = ['authorization_code', 'refresh_token', ...(config.allowed_grant_types.includes('device_code') ? [DEVICE_GRANT] : [])];
  const body = JSON.stringify({
    client_name: 'My trial app',
    client_uri: 'https://app.example/',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: grants,
  });
  return `curl -s -H 'Content-Type: application/json' -d '${body}' ${config.issuer}/oauth2/register`;
}
