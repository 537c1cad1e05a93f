// In-process store: the embedded default for trying the server out. Every
// method does its reads and writes synchronously (no await in between), so each
// is atomic from the caller's view, like the Lua scripts of the Redis store.
// Records are cloned in and out so callers can't mutate stored state.
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { randomBytes } from 'node:crypto';
import { randomToken } from '../util/crypto.js';
import { encodeScram } from './codec.js';
import { grantOfAccount } from './grant-ownership.js';
import { adaptLimiter, limiterOptions } from './rate-limit.js';
import { MemorySecondFactorStore } from './second-factor/memory.js';
import { MemoryActivityLog } from './activity/memory.js';
import { MemoryPasskeyStore } from './passkeys/memory.js';
import { MAX_REFRESH_PER_GRANT } from './types.js';
import type {
  Account, AuthorizationCode, ConsumeCodeResult, CreateUpstreamAccountResult, DeviceGrant, Grant, LoginSession, PollDeviceResult,
  AccountNewsEvent, GrantRevokedEvent, PasswordCredentials, RateLimiter, RateLimitRule, RefreshToken, RevocationListener, RotateRefreshAsResult, RotateRefreshResult, ServerInfo, SigningKey, Store,
  UpstreamOrigin, UpstreamState, UserAgent,
} from './types.js';

const SWEEP_MS = 60_000;
/** A consumed code stays known this long at least, so a replay is recognised. */
const CODE_TOMBSTONE_MS = 600_000;

/** A Map whose entries vanish at their deadline: checked on read, swept periodically. */
class TtlMap<K, V> {
  private readonly m = new Map<K, { v: V; exp: number }>();
  get(k: K, now = Date.now()): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.exp <= now) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: K, v: V, exp: number): void {
    this.m.set(k, { v, exp });
  }
  /** Keeps the value, moves the deadline. */
  expireAt(k: K, exp: number): void {
    const e = this.m.get(k);
    if (e) e.exp = exp;
  }
  delete(k: K): boolean {
    return this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
  deleteEarliest(): void {
    let first: K | undefined;
    let exp = Infinity;
    for (const [k, e] of this.m) if (e.exp < exp) [first, exp] = [k, e.exp];
    if (first !== undefined) this.m.delete(first);
  }
  sweep(now: number): void {
    for (const [k, e] of this.m) if (e.exp <= now) this.m.delete(k);
  }
}

const clone = <T>(v: T): T => structuredClone(v);

const credentialsText = (c: PasswordCredentials) => `${c.passwordHash}\n${encodeScram(c.scram)}`;

function writeCredentials(a: Account, c: PasswordCredentials): void {
  a.passwordHash = c.passwordHash;
  if (c.scram && Object.keys(c.scram).length) a.scram = clone(c.scram);
  else delete a.scram;
}

interface CodeEntry {
  code: AuthorizationCode;
  expiresAt: number;
  ttlMs: number;
  used: boolean;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;

  private readonly accounts = new Map<string, Account>();
  private readonly keys = new Map<string, SigningKey>();
  private published: ServerInfo | null = null;
  private readonly grants = new Map<string, Grant>();
  /** `${jid}\n${clientId}` → grant id, the latest saved wins (as in Redis). */
  private readonly grantByClient = new Map<string, string>();
  private readonly refresh = new Map<string, TtlMap<string, RefreshToken>>();
  private readonly codes = new TtlMap<string, CodeEntry>();
  private readonly devices = new TtlMap<string, { device: DeviceGrant; digest: string }>();
  private readonly userCodes = new TtlMap<string, string>();
  private readonly sessions = new TtlMap<string, LoginSession>();
  /** `${iss}\n${sub}` → jid */
  private readonly subjects = new Map<string, string>();
  private readonly upstreamStates = new TtlMap<string, UpstreamState>();
  private readonly logoutTokens = new TtlMap<string, true>();
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly revocationListeners = new Set<RevocationListener>();
  private readonly timer: NodeJS.Timeout;
  readonly secondFactors = new MemorySecondFactorStore();
  readonly activity = new MemoryActivityLog();
  readonly passkeys = new MemoryPasskeyStore();

  constructor() {
    // unref: an idle store must not keep the process alive.
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  private sweep(now = Date.now()): void {
    this.codes.sweep(now);
    this.devices.sweep(now);
    this.userCodes.sweep(now);
    this.sessions.sweep(now);
    this.upstreamStates.sweep(now);
    this.logoutTokens.sweep(now);
    for (const [id, tokens] of this.refresh) {
      tokens.sweep(now);
      if (tokens.size === 0) this.refresh.delete(id);
    }
  }

  // accounts

  async createAccount(account: Account): Promise<boolean> {
    if (this.accounts.has(account.jid)) return false;
    this.accounts.set(account.jid, clone(account));
    return true;
  }

  async getAccount(jid: string): Promise<Account | null> {
    const a = this.accounts.get(jid);
    return a ? clone(a) : null;
  }

  async accountExists(jid: string): Promise<boolean> {
    return this.accounts.has(jid);
  }

  async setPasswordCredentials(jid: string, credentials: PasswordCredentials): Promise<boolean> {
    const a = this.accounts.get(jid);
    if (!a) return false;
    writeCredentials(a, credentials);
    a.epoch = randomToken(12);
    return true;
  }

  async upgradeCredentials(jid: string, expected: PasswordCredentials, next: PasswordCredentials): Promise<boolean> {
    const a = this.accounts.get(jid);
    if (!a || credentialsText(a) !== credentialsText(expected)) return false;
    writeCredentials(a, next);
    return true;
  }

  async renewAccountEpoch(jid: string): Promise<string | null> {
    const a = this.accounts.get(jid);
    if (!a) return null;
    a.epoch = randomToken(12);
    return a.epoch;
  }

  async removeAccount(jid: string): Promise<boolean> {
    const up = this.accounts.get(jid)?.upstream;
    if (up && this.subjects.get(`${up.iss}\n${up.sub}`) === jid) this.subjects.delete(`${up.iss}\n${up.sub}`);
    // Grants are revoked by the caller through the grant-management core (src/oauth/account-life/account-lifecycle.ts), which announces each.
    const removed = this.accounts.delete(jid);
    if (removed) this.announceAccount(jid, 'removed');
    return removed;
  }

  async listAccounts(): Promise<string[]> {
    return [...this.accounts.keys()];
  }

  async setAccountDisabled(jid: string, disabled: boolean): Promise<boolean> {
    const a = this.accounts.get(jid);
    if (!a) return false;
    if (disabled) a.disabled = true;
    else delete a.disabled;
    this.announceAccount(jid, disabled ? 'disabled' : 'enabled');
    return true;
  }

  // upstream identities

  async findAccountBySubject(iss: string, sub: string): Promise<string | null> {
    return this.subjects.get(`${iss}\n${sub}`) ?? null;
  }

  async createUpstreamAccount(account: Account & { upstream: UpstreamOrigin }): Promise<CreateUpstreamAccountResult> {
    const key = `${account.upstream.iss}\n${account.upstream.sub}`;
    if (this.subjects.has(key)) return 'subject-taken';
    if (this.accounts.has(account.jid)) return 'jid-taken';
    this.accounts.set(account.jid, clone(account));
    this.subjects.set(key, account.jid);
    return 'created';
  }

  async linkUpstream(jid: string, origin: UpstreamOrigin): Promise<boolean> {
    const a = this.accounts.get(jid);
    const key = `${origin.iss}\n${origin.sub}`;
    if (!a || a.upstream || this.subjects.has(key)) return false;
    a.upstream = clone(origin);
    this.subjects.set(key, jid);
    this.announceAccount(jid, 'linked');
    return true;
  }

  async touchUpstreamLogin(jid: string, at: number): Promise<boolean> {
    const a = this.accounts.get(jid);
    if (!a?.upstream) return false;
    if (at > a.upstream.lastLoginAt) a.upstream.lastLoginAt = at;
    return true;
  }

  async forgetUpstreamLogin(jid: string): Promise<boolean> {
    const a = this.accounts.get(jid);
    if (!a?.upstream) return false;
    a.upstream.lastLoginAt = 0;
    this.announceAccount(jid, 'upstream-logout');
    return true;
  }

  async firstLogoutToken(digest: string, ttl: number): Promise<boolean> {
    if (this.logoutTokens.get(digest)) return false;
    this.logoutTokens.set(digest, true, Date.now() + ttl * 1000);
    return true;
  }

  async saveUpstreamState(id: string, state: UpstreamState, ttl: number): Promise<void> {
    this.upstreamStates.set(id, clone(state), Date.now() + ttl * 1000);
  }

  async takeUpstreamState(id: string): Promise<UpstreamState | null> {
    const s = this.upstreamStates.get(id);
    this.upstreamStates.delete(id);
    return s ? clone(s) : null;
  }

  // signing keys

  async listSigningKeys(): Promise<SigningKey[]> {
    return [...this.keys.values()].sort((a, b) => a.createdAt - b.createdAt).map(clone);
  }

  async initSigningKeys(key: SigningKey): Promise<SigningKey[]> {
    if (this.keys.size === 0) this.keys.set(key.kid, clone(key));
    return this.listSigningKeys();
  }

  async addSigningKey(key: SigningKey): Promise<void> {
    this.keys.set(key.kid, clone(key));
  }

  async updateSigningKey(key: SigningKey): Promise<void> {
    // Update only: a key removed meanwhile must not come back.
    if (this.keys.has(key.kid)) this.keys.set(key.kid, clone(key));
  }

  async removeSigningKey(kid: string): Promise<void> {
    this.keys.delete(kid);
  }

  async publishServerInfo(info: ServerInfo): Promise<void> {
    this.published = clone(info);
  }

  private readonly secrets = new Map<string, string>();

  async deploymentSecret(name: string): Promise<string> {
    let value = this.secrets.get(name);
    if (!value) this.secrets.set(name, (value = randomBytes(32).toString('base64')));
    return value;
  }

  async serverInfo(): Promise<ServerInfo | null> {
    return this.published && clone(this.published);
  }

  // grants

  async saveGrant(grant: Grant): Promise<void> {
    this.grants.set(grant.id, clone(grant));
    this.grantByClient.set(`${grant.jid}\n${grant.clientId}`, grant.id);
  }

  async updateGrant(grant: Grant): Promise<boolean> {
    if (!this.grants.has(grant.id)) return false;
    this.grants.set(grant.id, clone(grant));
    return true;
  }

  async getGrant(id: string): Promise<Grant | null> {
    const g = this.grants.get(id);
    return g ? clone(g) : null;
  }

  async grantExists(id: string): Promise<boolean> {
    return this.grants.has(id);
  }

  async tokenGrant(id: string, jid: string): Promise<Grant | null> {
    const grant = await this.getGrant(id);
    return grantOfAccount(grant, await this.getAccount(jid), jid) ? grant : null;
  }

  async findGrant(jid: string, clientId: string): Promise<Grant | null> {
    const id = this.grantByClient.get(`${jid}\n${clientId}`);
    const g = id === undefined ? undefined : this.grants.get(id);
    return g ? clone(g) : null;
  }

  async listGrants(jid: string): Promise<Grant[]> {
    return [...this.grants.values()]
      .filter((g) => g.jid === jid)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(clone);
  }

  async countGrants(jid: string): Promise<number> {
    let n = 0;
    for (const g of this.grants.values()) if (g.jid === jid) n++;
    return n;
  }

  async touchGrant(id: string, at: number, userAgent?: UserAgent): Promise<void> {
    const g = this.grants.get(id);
    if (g && at > g.lastUsedAt) {
      g.lastUsedAt = at;
      if (userAgent) g.userAgent = { ...userAgent };
    }
  }

  async revokeGrant(id: string): Promise<boolean> {
    return this.dropGrant(id);
  }

  private dropGrant(id: string): boolean {
    const g = this.grants.get(id);
    this.refresh.delete(id);
    if (!g) return false;
    this.grants.delete(id);
    void this.publishRevocation({ grantId: id, jid: g.jid, scope: g.scope, at: Date.now() });
    const indexKey = `${g.jid}\n${g.clientId}`;
    if (this.grantByClient.get(indexKey) === id) this.grantByClient.delete(indexKey);
    return true;
  }

  // revocation news: one process, so an in-process fan-out (no gaps to report)

  async publishRevocation(event: GrantRevokedEvent): Promise<void> {
    // Delivered after the revoking call returns, as Redis pub/sub would be.
    const copy = clone(event);
    queueMicrotask(() => {
      for (const listener of this.revocationListeners) {
        try {
          listener(copy);
        } catch {
          // A failing listener must not stop the others (Redis delivery is per subscriber too).
        }
      }
    });
  }

  private readonly accountListeners = new Set<(event: AccountNewsEvent) => void>();

  async announcePasswordChanged(jid: string): Promise<void> {
    this.announceAccount(jid, 'password-changed');
  }

  /** Delivered after the call that made the news returns, as over Redis. */
  private announceAccount(jid: string, kind: AccountNewsEvent['kind']): void {
    const event: AccountNewsEvent = { jid, kind, at: Date.now() };
    queueMicrotask(() => {
      for (const listener of this.accountListeners) {
        try {
          listener({ ...event });
        } catch {
          // A failing listener must not stop the others.
        }
      }
    });
  }

  private readonly slotListeners = new Set<(domain: string) => void>();

  async publishSlotFreed(domain: string): Promise<void> {
    queueMicrotask(() => {
      for (const listener of this.slotListeners) listener(domain);
    });
  }

  onSlotFreed(listener: (domain: string) => void): () => void {
    const own = (d: string) => listener(d);
    this.slotListeners.add(own);
    return () => this.slotListeners.delete(own);
  }

  onAccountNews(listener: (event: AccountNewsEvent) => void): () => void {
    const own = (e: AccountNewsEvent) => listener(e);
    this.accountListeners.add(own);
    return () => this.accountListeners.delete(own);
  }

  onRevocation(listener: RevocationListener): () => void {
    const own = (e: GrantRevokedEvent) => listener(e);
    this.revocationListeners.add(own);
    return () => this.revocationListeners.delete(own);
  }

  // authorization codes

  async saveCode(digest: string, code: AuthorizationCode, ttl: number): Promise<void> {
    const ttlMs = ttl * 1000;
    const expiresAt = Date.now() + ttlMs;
    this.codes.set(digest, { code: clone(code), expiresAt, ttlMs, used: false }, expiresAt);
  }

  async peekCode(grantId: string, digest: string): Promise<{ code: AuthorizationCode; used: boolean } | null> {
    const e = this.codes.get(digest);
    if (!e || e.code.grantId !== grantId) return null;
    return { code: { ...clone(e.code), expiresAt: e.expiresAt }, used: e.used };
  }

  async consumeCode(grantId: string, digest: string): Promise<ConsumeCodeResult> {
    const e = this.codes.get(digest);
    if (!e || e.code.grantId !== grantId) return { status: 'missing' };
    const code = { ...clone(e.code), expiresAt: e.expiresAt };
    if (e.used) return { status: 'replayed', code };
    e.used = true;
    // Keep a tombstone so a replay is recognised (and the grant revoked by the caller).
    this.codes.expireAt(digest, Date.now() + Math.max(e.ttlMs, CODE_TOMBSTONE_MS));
    if (!this.grants.has(grantId)) return { status: 'revoked' };
    return { status: 'ok', code };
  }

  // refresh tokens

  async saveRefresh(digest: string, token: RefreshToken): Promise<void> {
    // A token for a revoked grant would be an orphan: drop it (same as Redis).
    if (!this.grants.has(token.grantId)) return;
    this.addToken(this.tokensOf(token.grantId), digest, clone(token), token.expiresAt);
  }

  /** Adds a token, forgetting the one that expires first when the grant is full. */
  private addToken(tokens: TtlMap<string, RefreshToken>, digest: string, token: RefreshToken, exp: number): void {
    tokens.set(digest, token, exp);
    tokens.sweep(Date.now());
    while (tokens.size > MAX_REFRESH_PER_GRANT) tokens.deleteEarliest();
  }

  knownAccountOfGrant(grantId: string): Account | null {
    const jid = this.grants.get(grantId)?.jid;
    const account = jid === undefined ? undefined : this.accounts.get(jid);
    return account ? clone(account) : null;
  }

  async getRefreshAndAccount(grantId: string, digest: string): Promise<{ refresh: RefreshToken | null; account: Account | null }> {
    const refresh = await this.getRefresh(grantId, digest);
    return { refresh, account: refresh ? await this.getAccount(refresh.jid) : null };
  }

  async getRefresh(grantId: string, digest: string): Promise<RefreshToken | null> {
    const t = this.refresh.get(grantId)?.get(digest);
    return t ? clone(t) : null;
  }

  async rotateRefresh(grantId: string, oldDigest: string, newDigest: string, next: RefreshToken): Promise<RotateRefreshResult> {
    const tokens = this.refresh.get(grantId);
    const old = tokens?.get(oldDigest);
    if (!tokens || !old || !this.grants.has(grantId)) return { status: 'missing' };
    if (old.rotatedAt !== undefined) {
      this.dropGrant(grantId);
      return { status: 'replayed', grantId };
    }
    const previous = clone(old);
    const now = Date.now();
    old.rotatedAt = now;
    this.addToken(tokens, newDigest, { ...clone(next), grantId }, next.expiresAt);
    const grant = this.grants.get(grantId)!;
    if (grant.lastUsedAt < now) grant.lastUsedAt = now;
    return { status: 'ok', previous };
  }

  async rotateRefreshAs(
    grantId: string,
    oldDigest: string,
    newDigest: string,
    clientId: string,
    lifetime: { issuedAt: number; expiresAt: number },
  ): Promise<RotateRefreshAsResult> {
    const old = this.refresh.get(grantId)?.get(oldDigest);
    if (!old || !this.grants.has(grantId)) return { status: 'missing' };
    if (old.clientId !== clientId) return { status: 'other-client' };
    if (old.expiresAt <= Date.now()) return { status: 'missing' };
    const { rotatedAt: _, ...base } = old;
    return this.rotateRefresh(grantId, oldDigest, newDigest, { ...clone(base), ...lifetime });
  }

  private tokensOf(grantId: string): TtlMap<string, RefreshToken> {
    let t = this.refresh.get(grantId);
    if (!t) this.refresh.set(grantId, (t = new TtlMap()));
    return t;
  }

  // device grants

  async createDevice(device: DeviceGrant, deviceDigest: string): Promise<boolean> {
    if (this.userCodes.get(device.userCode) !== undefined) return false;
    this.userCodes.set(device.userCode, device.id, device.expiresAt);
    this.devices.set(device.id, { device: clone(device), digest: deviceDigest }, device.expiresAt);
    return true;
  }

  private deviceByUserCode(userCode: string): DeviceGrant | undefined {
    const id = this.userCodes.get(userCode);
    const d = id === undefined ? undefined : this.devices.get(id)?.device;
    return d && d.userCode === userCode ? d : undefined;
  }

  async findDeviceByUserCode(userCode: string): Promise<DeviceGrant | null> {
    const d = this.deviceByUserCode(userCode);
    return d ? clone(d) : null;
  }

  async decideDevice(
    userCode: string,
    decision: { status: 'approved'; jid: string; grantId: string; authTime: number; amr?: string[] } | { status: 'denied' },
  ): Promise<boolean> {
    const d = this.deviceByUserCode(userCode);
    if (!d || d.status !== 'pending') return false;
    if (decision.status === 'approved') {
      Object.assign(d, { status: 'approved', jid: decision.jid, grantId: decision.grantId, authTime: decision.authTime, amr: decision.amr && [...decision.amr] });
    } else {
      d.status = 'denied';
    }
    return true;
  }

  async pollDevice(id: string, deviceDigest: string, now: number, clientId: string): Promise<PollDeviceResult> {
    const e = this.devices.get(id, now);
    if (!e || e.digest !== deviceDigest) return { status: 'missing' };
    const d = e.device;
    if (d.clientId !== clientId) return { status: 'wrong_client' };
    if (d.status !== 'pending') {
      // Decided: answer once, then forget both the grant and its user code.
      this.devices.delete(id);
      if (this.userCodes.get(d.userCode) === id) this.userCodes.delete(d.userCode);
      return d.status === 'approved' ? { status: 'approved', device: clone(d) } : { status: 'denied' };
    }
    // slow_down is a variant of pending (RFC 8628 3.5); it doesn't count as a poll.
    if (d.lastPollAt > 0 && now - d.lastPollAt < d.interval * 1000) {
      d.interval += 5;
      return { status: 'slow_down', interval: d.interval };
    }
    d.lastPollAt = now;
    return { status: 'pending', interval: d.interval };
  }

  // login sessions

  async saveSession(session: LoginSession): Promise<void> {
    this.sessions.set(session.id, clone(session), session.expiresAt);
  }

  async getSession(id: string): Promise<LoginSession | null> {
    const s = this.sessions.get(id);
    if (!s) return null;
    const a = this.accounts.get(s.jid);
    // A removed, re-created, re-keyed or disabled account's sessions end with it.
    if (!a || a.disabled || (a.epoch ?? '') !== (s.epoch ?? '')) {
      this.sessions.delete(id);
      return null;
    }
    return clone(s);
  }

  async deleteSession(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  // throttling

  rateLimiter(rule: RateLimitRule): RateLimiter {
    const opts = limiterOptions(rule);
    const cacheKey = `${rule.name}/${opts.points}/${opts.duration}/${opts.blockDuration}`;
    let limiter = this.limiters.get(cacheKey);
    if (!limiter) {
      limiter = adaptLimiter(new RateLimiterMemory({ ...opts, keyPrefix: rule.name }), rule.points);
      this.limiters.set(cacheKey, limiter);
    }
    return limiter;
  }

  async ping(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
