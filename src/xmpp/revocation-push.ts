// Live revocation over the component link (docs/protocol.md, "Live sessions"):
// every revocation any instance performs reaches us through the store; if our
// link is the one that is up, we tell the XMPP server, whose module closes the
// sessions that logged in with that grant. Account news works the same way:
// a removed or disabled account loses every live session, whatever it logged
// in with (passwords have no grant), and an upstream logout ends the sessions
// opened with an app password. News can be lost (no instance
// online, a Redis blip), so we also re-check the grants of the server's live
// sessions whenever the link comes up, the feed reconnects, and on a timer.
import type { Logger } from '../log.js';
import type { CoreDeps } from '../oauth/context.js';
import { onAccountSessionsEnded, type SessionsEnded } from '../oauth/account-life/account-lifecycle.js';
import { onGrantRevoked } from '../oauth/grants/grant-management.js';
import type { GrantRevokedEvent } from '../store/types.js';
import { NS_AUTH } from './auth-protocol.js';
import type { ComponentLink } from './link.js';
import { xml, type Element } from './xml.js';

interface Deps {
  core: CoreDeps;
  log: Logger;
}

const PUSH_TIMEOUT_MS = 5_000;
const SESSIONS_TIMEOUT_MS = 10_000;
/** Grants checked per round trip batch during a re-check. */
const CHECK_BATCH = 200;

export interface RevocationPush {
  /** Runs one re-check now (tests, and the triggers above). Resolves with the grants found revoked. */
  recheck(): Promise<string[]>;
  stop(): void;
}

export function startRevocationPush(link: ComponentLink, deps: Deps): RevocationPush {
  const { core } = deps;
  const log = deps.log.child({ part: 'revocation-push' });
  const hosts = core.config.xmpp.hosts.map((h) => h.toLowerCase());
  let running: Promise<string[]> | undefined;
  let again = false;

  // The account's own host; every host when the revoking step did not know the account.
  const hostsFor = (jid?: string): string[] => {
    if (!jid?.includes('@')) return hosts;
    const domain = jid.slice(jid.lastIndexOf('@') + 1).toLowerCase();
    return hosts.includes(domain) ? [domain] : [];
  };

  async function tell(host: string, grantId: string, user?: string): Promise<void> {
    const attrs: Record<string, string> = { xmlns: NS_AUTH, grant: grantId };
    if (user) attrs.user = user;
    try {
      const reply = await link.request(xml('iq', { type: 'set', to: host }, xml('revoked', attrs)), PUSH_TIMEOUT_MS);
      const closed = reply.getChild('revoked', NS_AUTH)?.attrs.closed;
      log.info({ host, closed: closed === undefined ? undefined : Number(closed) }, 'revocation delivered to the XMPP server');
    } catch (err) {
      logFailure(host, 'revoked', err);
    }
  }

  function logFailure(host: string, op: string, err: unknown): void {
    const e = err as { name?: string; condition?: string };
    // A server without our module (ejabberd) answers service-unavailable: nothing to close there.
    if (e.condition === 'service-unavailable' || e.condition === 'feature-not-implemented') {
      log.debug({ host, op }, 'XMPP server does not take live revocations (no xmpp-oauth module)');
    } else {
      log.info({ host, op, error: e.condition ?? e.name }, 'could not reach the XMPP server about revocations; the next re-check retries');
    }
  }

  /** Ends an account's live sessions (all, or those opened `via` one way) on its host. */
  async function tellLogout(host: string, user: string, event: SessionsEnded, before?: number): Promise<void> {
    const attrs: Record<string, string> = { xmlns: NS_AUTH, user };
    if (event.via) attrs.via = event.via;
    if (before !== undefined) attrs.before = String(before);
    // The account is gone (not created again since): the server purges what it kept of it (roster,
    // archives, roles), as its own account deletion does, so a later holder of the JID inherits nothing.
    else if (event.why === 'removed') attrs.removed = 'true';
    try {
      const reply = await link.request(xml('iq', { type: 'set', to: host }, xml('logout', attrs)), PUSH_TIMEOUT_MS);
      const closed = reply.getChild('logout', NS_AUTH)?.attrs.closed;
      log.info({ host, why: event.why, closed: closed === undefined ? undefined : Number(closed) }, 'account logout delivered to the XMPP server');
    } catch (err) {
      logFailure(host, 'logout', err);
    }
  }

  function deliverEnded(event: SessionsEnded): void {
    if (!link.online || !event.jid.includes('@')) return;
    const user = event.jid.slice(0, event.jid.lastIndexOf('@'));
    for (const host of hostsFor(event.jid)) void tellLogout(host, user, event);
  }

  function deliver(event: GrantRevokedEvent): void {
    // Another instance's link is up (Prosody takes one), or none is: then the re-check at the next link-up covers it.
    if (!link.online) return;
    const user = event.jid?.includes('@') ? event.jid.slice(0, event.jid.lastIndexOf('@')) : undefined;
    for (const host of hostsFor(event.jid)) void tell(host, event.grantId, user);
  }

  /** Asks each host which grants its live sessions used; tells it about those that are gone. */
  async function recheckOnce(): Promise<string[]> {
    if (!link.online) return [];
    const revoked: string[] = [];
    for (const host of hosts) {
      let reply: Element;
      try {
        reply = await link.request(xml('iq', { type: 'get', to: host }, xml('sessions', { xmlns: NS_AUTH })), SESSIONS_TIMEOUT_MS);
      } catch (err) {
        logFailure(host, 'sessions', err);
        continue;
      }
      const held = new Map<string, string | undefined>();
      /** Accounts with grantless (password) sessions: user -> oldest session's start (unix s). */
      const grantless = new Map<string, number>();
      for (const s of reply.getChild('sessions', NS_AUTH)?.getChildren('session') ?? []) {
        const grant = s.attrs.grant;
        if (typeof grant === 'string' && grant.length > 0 && grant.length <= 200) held.set(grant, s.attrs.user);
        else if (grant === undefined && typeof s.attrs.user === 'string' && s.attrs.user.length > 0 && s.attrs.user.length <= 1023) {
          const since = Number(s.attrs.since);
          if (Number.isFinite(since)) grantless.set(s.attrs.user, since);
        }
      }
      await recheckAccounts(host, grantless);
      const ids = [...held.keys()];
      for (let i = 0; i < ids.length; i += CHECK_BATCH) {
        const batch = ids.slice(i, i + CHECK_BATCH);
        const alive = await Promise.all(batch.map((id) => core.store.grantExists(id, { fresh: true }).catch(() => true)));
        for (const [j, id] of batch.entries()) {
          if (alive[j]) continue;
          revoked.push(id);
          await tell(host, id, held.get(id));
        }
      }
      if (ids.length > 0) log.debug({ host, grants: ids.length, revoked: revoked.length }, 'live sessions re-checked');
    }
    return revoked;
  }

  /**
   * Account news can be lost too: a password session has no grant to find
   * gone, so its account is checked instead. Removed or disabled: every
   * session ends; created after the session began (the JID was removed and
   * given to someone else): the sessions older than the account end.
   */
  async function recheckAccounts(host: string, grantless: Map<string, number>): Promise<void> {
    const users = [...grantless.keys()];
    for (let i = 0; i < users.length; i += CHECK_BATCH) {
      const batch = users.slice(i, i + CHECK_BATCH);
      const accounts = await Promise.all(batch.map((u) => core.store.getAccount(`${u}@${host}`).then((a) => a, () => undefined)));
      for (const [j, user] of batch.entries()) {
        const account = accounts[j];
        if (account === undefined) continue; // unknown: the store did not answer
        const jid = `${user}@${host}`;
        const since = grantless.get(user)!;
        if (!account) await tellLogout(host, user, { jid, why: 'removed' });
        else if (account.disabled) await tellLogout(host, user, { jid, why: 'disabled' });
        // since is whole seconds, rounded down: a second's margin.
        else if (account.createdAt > (since + 1) * 1000) await tellLogout(host, user, { jid, why: 'removed' }, Math.floor(account.createdAt / 1000));
      }
    }
  }

  // One re-check at a time; a trigger during one queues exactly one more.
  function recheck(): Promise<string[]> {
    if (running) {
      again = true;
      return running;
    }
    running = recheckOnce()
      .catch((err: unknown) => {
        log.warn({ err }, 'live session re-check failed');
        return [] as string[];
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void recheck();
        }
      });
    return running;
  }

  const unsubscribe = onGrantRevoked(core, deliver, () => void recheck());
  const unsubscribeAccounts = onAccountSessionsEnded(core, deliverEnded);
  const offStatus = link.onStatus(({ state }) => {
    if (state === 'online') void recheck();
  });
  const every = core.config.xmpp.session_recheck_interval;
  const timer = every > 0 ? setInterval(() => void recheck(), every * 1000) : undefined;
  timer?.unref();

  return {
    recheck,
    stop() {
      unsubscribe();
      unsubscribeAccounts();
      offStatus();
      clearInterval(timer);
    },
  };
}
