// ejabberd has no module of ours to tell, so ending an account's live sessions
// there goes through its own admin API (mod_http_api, command kick_user): when
// an account is disabled or removed here, every ejabberd session of it ends, as
// our Prosody module does. ejabberd cannot tell which login a session used, so
// news that ends only some sessions (app-password logins after an upstream
// logout, password logins after a password change) is not its to act on.
import type { Logger } from '../log.js';
import { onAccountSessionsEnded, type SessionsEnded } from '../oauth/account-life/account-lifecycle.js';
import type { CoreDeps } from '../oauth/context.js';

const CALL_TIMEOUT_MS = 5_000;

export interface EjabberdApi {
  url: string;
  authorization?: string;
}

export function startEjabberdSessionEnder(core: CoreDeps, api: EjabberdApi, log: Logger): () => void {
  const base = api.url.replace(/\/+$/, '');
  const hosts = core.config.xmpp.hosts.map((h) => h.toLowerCase());

  async function kick(event: SessionsEnded): Promise<void> {
    if (event.via) {
      log.debug({ why: event.why }, 'ejabberd: sessions of one login kind cannot be told apart there; left open');
      return;
    }
    const at = event.jid.lastIndexOf('@');
    const user = event.jid.slice(0, at);
    const host = event.jid.slice(at + 1);
    if (!hosts.includes(host)) return;
    try {
      const res = await fetch(`${base}/kick_user`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(api.authorization ? { authorization: api.authorization } : {}) },
        body: JSON.stringify({ user, host }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      const text = await res.text();
      if (!res.ok) {
        // ejabberd's own words name the cause (api_permissions, a wrong path): worth an operator's look.
        log.warn({ status: res.status, why: event.why, answer: text.slice(0, 200) }, 'ejabberd refused kick_user: live sessions stay open');
        return;
      }
      // 23.01 answers {"num_resources":N}; 24.12 (API v2 and later) a string, "Kicked sessions: N".
      const answer = JSON.parse(text) as unknown;
      const kicked =
        typeof answer === 'string'
          ? Number(/(\d+)\s*$/.exec(answer)?.[1])
          : Number((answer as { num_resources?: unknown } | null)?.num_resources);
      log.info({ host, why: event.why, closed: Number.isFinite(kicked) ? kicked : undefined }, 'ejabberd sessions of the account ended (kick_user)');
    } catch (err) {
      log.warn({ err: (err as Error).message, why: event.why }, 'could not reach ejabberd mod_http_api: live sessions stay open');
    }
  }

  return onAccountSessionsEnded(core, (event) => void kick(event));
}
