/**
 * Accounts the bridge has lately seen exist. Neither external-auth protocol can
 * say "try later", and a "no" to `isuser` makes the XMPP server bounce messages
 * for an offline user; so while storage is down, an account seen here still
 * exists. Bounded: the oldest entry goes first.
 */
export class KnownUsers {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 10_000) {}

  remember(user: string, host: string): void {
    const key = keyOf(user, host);
    this.seen.delete(key); // re-inserted last: most recently seen
    if (this.seen.size >= this.max) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(key);
  }

  forget(user: string, host: string): void {
    this.seen.delete(keyOf(user, host));
  }

  has(user: string, host: string): boolean {
    return this.seen.has(keyOf(user, host));
  }
}

// Case-folded only: a miss merely falls back to the answer without memory.
const keyOf = (user: string, host: string) => `${user.toLowerCase()}@${host.toLowerCase()}`;
