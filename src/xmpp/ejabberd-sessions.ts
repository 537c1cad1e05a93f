// ejabberd has no module of ours to tell, so ending live sessions there goes
// through its own admin API (mod_http_api, command kick_user).
//
// ejabberd keeps no link from a session to the credential it logged in with:
// the extauth program is asked "is this password right for alice" and nothing
// more, X-OAUTH2 looks a token up and forgets it, and no admin command
// (user_sessions_info, kick_session) says which login a session used. So
// whenever some of an account's sessions must end (a grant or app password
// revoked, by any door; the account disabled or removed; a password change
// that signs out the old password's sessions; an upstream logout) every
// session of the account ends. Clients that still hold a valid credential log
// in again by themselves; the one that lost it cannot. That over-kills on
// purpose: the alternative is a revoked session that stays open for days.
// A grant that could never open an ejabberd session (no chat scope: a web
// app's openid grant, an account-only token, which ejabberd refuses) ends none.
import type { Logger } from '../log.js';
import { onAccountSessionsEnded } from '../oauth/account-life/account-lifecycle.js';
import type { CoreDeps } from '../oauth/context.js';
import { onGrantRevoked } from '../oauth/grants/grant-management.js';
import { allowsXmppLogin, isRestrictedXmppLogin } from '../oauth/scopes.js';

const CALL_TIMEOUT_MS = 5_000;

export interface EjabberdApi {
  url: string;
  authorization?: string;
}

/** Why an account's sessions end there (log lines only). */
type Why = 'removed' | 'disabled' | 'upstream-logout' | 'password-changed' | 'grant-revoked';

export function startEjabberdSessionEnder(core: Pick<CoreDeps, 'store' | 'config'>, api: EjabberdApi, log: Logger): () => void {
  const base = api.url.replace(/\/+$/, '');
  const hosts = core.config.xmpp.hosts.map((h) => h.toLowerCase());
  /** Accounts with a kick_user call under way; `again` when news came during it. */
  const busy = new Map<string, { again?: Why }>();

  async function kickUser(user: string, host: string, why: Why): Promise<void> {
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
        log.warn({ status: res.status, why, answer: text.slice(0, 200) }, 'ejabberd refused kick_user: live sessions stay open');
        return;
      }
      // 23.01 answers {"num_resources":N}; 24.12 (API v2 and later) a string, "Kicked sessions: N".
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        // The call went through; only its answer is not JSON (a proxy's page, a newer API's shape).
        log.warn({ host, why, answer: text.slice(0, 200) }, 'ejabberd answered kick_user with something that is not JSON: sessions may or may not have ended');
        return;
      }
      const kicked =
        typeof answer === 'string'
          ? Number(/(\d+)\s*$/.exec(answer)?.[1])
          : Number((answer as { num_resources?: unknown } | null)?.num_resources);
      log.info({ host, why, closed: Number.isFinite(kicked) ? kicked : undefined }, 'ejabberd sessions of the account ended (kick_user)');
    } catch (err) {
      log.warn({ err: (err as Error).message, why }, 'could not reach ejabberd mod_http_api: live sessions stay open');
    }
  }

  /**
   * One call per account at a time. Disabling an account revokes each of its
   * grants too, so news comes in bursts: a burst folds into the call under way
   * plus at most one more (for sessions that began while it ran).
   */
  function end(jid: string, why: Why): void {
    const at = jid.lastIndexOf('@');
    if (at <= 0) return;
    const user = jid.slice(0, at);
    const host = jid.slice(at + 1).toLowerCase();
    if (!hosts.includes(host)) return;
    const key = `${user}@${host}`;
    const running = busy.get(key);
    if (running) {
      running.again ??= why;
      return;
    }
    const state: { again?: Why } = {};
    busy.set(key, state);
    void (async () => {
      let next: Why | undefined = why;
      while (next) {
        state.again = undefined;
        await kickUser(user, host, next);
        next = state.again;
      }
      busy.delete(key);
    })();
  }

  const offAccounts = onAccountSessionsEnded(core, (event) => end(event.jid, event.why));
  // Without the account (never the case for a grant that existed) there is no one to kick.
  const offGrants = onGrantRevoked(core, (event) => {
    if (!event.jid) return;
    if (event.scope && !(allowsXmppLogin(event.scope) && !isRestrictedXmppLogin(event.scope))) {
      log.debug({ why: 'grant-revoked' }, 'ejabberd: the revoked grant could not log in there; sessions left open');
      return;
    }
    end(event.jid, 'grant-revoked');
  });
  return () => {
    offAccounts();
    offGrants();
  };
}
