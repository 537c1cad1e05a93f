// The soak's accounting: every request with its outcome and time, the fault
// windows, every refresh chain with each rotation, every revocation. The report
// classifies from these records after the run, so nothing is judged mid-flight.

export type Outcome = '2xx' | '3xx' | '4xx' | '5xx' | 'net-error' | 'login-ok' | 'login-refused' | 'login-error';

export interface RequestRecord {
  kind: string;
  instance?: string;
  start: number;
  end: number;
  outcome: Outcome;
  status?: number;
  /** A refusal/failure the load generator expected (a revoked token, a replay). */
  expected?: boolean;
  detail?: string;
}

export interface FaultWindow {
  kind: string;
  /**
   * Whether a part is down (Redis, Prosody, an instance): failures of the load
   * inside count as the fault's. A hostile client is no outage: the load must go
   * on unharmed through it, so its window excuses nothing.
   */
  outage: boolean;
  start: number;
  /** The faulty part is back (restart returned). */
  restored?: number;
  /** First successful probe (introspection on both instances and an XMPP token login) after restored. */
  recovered?: number;
  detail?: string;
}

export interface Chain {
  id: number;
  /** The account (bare JID); with the client (by origin) it names the grant: one grant per account and client. */
  user: string;
  origin: 'code' | 'device';
  createdAt: number;
  /** Times a rotation response was received (the chain's writes). */
  rotations: number[];
  access: string;
  refresh: string;
  previousRefresh?: string;
  busy: boolean;
  state: 'live' | 'revoked' | 'replayed' | 'lost';
  endedAt?: number;
  /** Tokens that must never be accepted again once the chain is revoked. */
  oldAccess: string[];
  lostDetail?: string;
}

export class Ledger {
  readonly requests: RequestRecord[] = [];
  readonly windows: FaultWindow[] = [];
  readonly chains: Chain[] = [];
  /** Times of Redis SIGKILLs: writes acknowledged within AOF_WINDOW_MS before one may be gone. */
  readonly redisKills: number[] = [];
  readonly resurrections: Array<{ chain: number; how: string; at: number; revokedAt: number }> = [];
  /** Logins and introspections refused although their credential was good (judged against the windows later). */
  readonly refusals: Array<{ kind: string; start: number; end: number; chain?: number; outcome?: string; detail?: string }> = [];
  private nextChain = 1;

  record(r: RequestRecord): RequestRecord {
    this.requests.push(r);
    return r;
  }

  newChain(user: string, origin: Chain['origin'], access: string, refresh: string): Chain {
    const now = Date.now();
    const c: Chain = { id: this.nextChain++, user, origin, createdAt: now, rotations: [], access, refresh, busy: false, state: 'live', oldAccess: [] };
    this.chains.push(c);
    return c;
  }

  /** A free live chain, marked busy (one operation on a chain at a time, as one client would). */
  take(pick: (cs: Chain[]) => Chain | undefined): Chain | undefined {
    const c = pick(this.chains.filter((x) => x.state === 'live' && !x.busy));
    if (c) c.busy = true;
    return c;
  }

  /**
   * An account without a live chain for this client (reserved until the flow
   * ends): the server keeps one grant per account and client, so a second chain
   * would share the first one's grant and end with its revocation.
   */
  freeUser(users: readonly string[], origin: Chain['origin'], pick: (us: string[]) => string): string | undefined {
    const free = users.filter((u) => !this.reserved.has(`${origin}:${u}`) && !this.chains.some((c) => c.user === u && c.origin === origin && c.state === 'live'));
    if (!free.length) return undefined;
    const u = pick(free);
    this.reserved.add(`${origin}:${u}`);
    return u;
  }

  release(user: string, origin: Chain['origin']): void {
    this.reserved.delete(`${origin}:${user}`);
  }

  private readonly reserved = new Set<string>();

  /** True while [start, end] overlaps any outage window (an open window runs to now). */
  inWindow(start: number, end: number, slackMs = 0): boolean {
    return this.windows.some((w) => w.outage && start <= (w.recovered ?? Date.now()) + slackMs && end >= w.start - slackMs);
  }
}
