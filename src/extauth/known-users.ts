import { normaliseJid } from '../accounts/jid.js';
import { BoundedMap } from '../util/bounded-map.js';

/**
 * Accounts the bridge has lately seen exist. Neither external-auth protocol can
 * say "try later", and a "no" to `isuser` makes the XMPP server bounce messages
 * for an offline user; so while storage is down, an account seen here still
 * exists. Bounded: the least recently seen goes first.
 */
export class KnownUsers {
  private readonly seen: BoundedMap<string, true>;

  constructor(max = 10_000) {
    this.seen = new BoundedMap(max);
  }

  remember(user: string, host: string): void {
    const jid = normaliseJid(`${user}@${host}`);
    if (!jid) return; // not a JID, so not an account either
    this.seen.delete(jid); // re-inserted last: most recently seen
    this.seen.set(jid, true);
  }

  forget(user: string, host: string): void {
    const jid = normaliseJid(`${user}@${host}`);
    if (jid) this.seen.delete(jid);
  }

  has(user: string, host: string): boolean {
    const jid = normaliseJid(`${user}@${host}`);
    return jid !== null && this.seen.has(jid);
  }
}
