import { BoundedMap } from '../util/bounded-map.js';
import type { Account, Grant } from './types.js';

interface Entry {
  until: number;
  /** Set when the read also showed the grant belongs to its account (see Store.tokenGrant). */
  owned?: Grant;
}

/**
 * Grants known alive (and, for tokenGrant, owned by their account), held in
 * process. Valid only while the revocation feed is subscribed and answered
 * its last ping recently; `epoch` moves on every revocation, account removal
 * and outage, so a Redis answer read before one of them is never stored after
 * it (the read may predate the change).
 */
export class GrantLiveness {
  static readonly MAX = 20_000;
  /** Bounds what a missed message could cost when a PUBLISH itself failed (the revoking instance lost Redis). */
  static readonly MAX_AGE_MS = 10_000;
  static readonly PING_MS = 1_000;
  /** No PONG for this long: the feed may be stalled (half-open connection), stop trusting it. */
  static readonly STALE_MS = 3_000;

  private readonly entries = new BoundedMap<string, Entry>(GrantLiveness.MAX);
  /** Accounts as last read, for the one-step refresh (see Store.knownAccountOfGrant). */
  private readonly accounts = new BoundedMap<string, { until: number; account: Account }>(GrantLiveness.MAX);
  epoch = 0;
  private subscribed = false;
  private lastPong = 0;
  /** Since when the feed has been heard without a break (0: not now). */
  private heardSince = 0;

  private usable(now: number): boolean {
    if (this.subscribed && now - this.lastPong < GrantLiveness.STALE_MS) return true;
    this.heardSince = 0;
    if (this.entries.size > 0) this.entries.clear();
    if (this.accounts.size > 0) this.accounts.clear();
    return false;
  }

  /** Since when every message on the feed has been heard (0: not now). */
  heardFrom(): number {
    return this.usable(Date.now()) ? this.heardSince : 0;
  }

  /** Whether every message on the feed has been heard for the last `ms`. */
  heardFor(ms: number): boolean {
    const now = Date.now();
    return this.usable(now) && this.heardSince > 0 && now - this.heardSince >= ms;
  }

  private entry(id: string): Entry | undefined {
    const now = Date.now();
    if (!this.usable(now)) return undefined;
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    if (e.until > now) return e;
    this.entries.delete(id);
    return undefined;
  }

  has(id: string): boolean {
    return this.entry(id) !== undefined;
  }

  /** The grant, if it was last read alive and owned by `jid`'s account. */
  ownedBy(id: string, jid: string): Grant | undefined {
    const owned = this.entry(id)?.owned;
    return owned !== undefined && owned.jid === jid ? owned : undefined;
  }

  /**
   * A Redis read begun at `epoch` said the grant lives, its key for `ttlMs`
   * more (-1: no expiry); `owned` when the same read showed its account.
   */
  remember(id: string, epoch: number, ttlMs: number, owned?: Grant): void {
    const now = Date.now();
    if (epoch !== this.epoch || !this.usable(now)) return;
    const age = ttlMs > 0 ? Math.min(ttlMs, GrantLiveness.MAX_AGE_MS) : GrantLiveness.MAX_AGE_MS;
    this.entries.set(id, { until: now + age, owned: owned ?? this.entries.get(id)?.owned });
  }

  /** An account read begun at `epoch`; kept until account news, an outage, or MAX_AGE_MS. */
  rememberAccount(account: Account, epoch: number): void {
    const now = Date.now();
    if (epoch !== this.epoch || !this.usable(now)) return;
    this.accounts.set(account.jid, { until: now + GrantLiveness.MAX_AGE_MS, account });
  }

  account(jid: string): Account | undefined {
    const now = Date.now();
    if (!this.usable(now)) return undefined;
    const e = this.accounts.get(jid);
    if (e === undefined) return undefined;
    if (e.until > now) return e.account;
    this.accounts.delete(jid);
    return undefined;
  }

  forget(id: string): void {
    this.epoch++;
    this.entries.delete(id);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.accounts.clear();
  }

  up(): void {
    this.clear();
    this.subscribed = true;
    this.lastPong = Date.now();
    this.heardSince = this.lastPong;
  }

  pong(sentAt: number): void {
    if (this.subscribed) this.lastPong = Math.max(this.lastPong, sentAt);
  }

  down(): void {
    this.subscribed = false;
    this.heardSince = 0;
    this.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
