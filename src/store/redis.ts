// Redis store (production). Works with a single Redis, Sentinel or Cluster:
// every script touches one hash-tagged slot (see redis-keys.ts), and the few
// operations spanning two slots are ordered so a failure in between leaves only
// stale index entries, which readers detect and clean.
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createHash, randomBytes } from 'node:crypto';
import { BoundedMap } from '../util/bounded-map.js';
import { GrantLiveness } from './grant-liveness.js';
import { grantOfAccount } from './grant-ownership.js';
import { BatchedLimiter } from './batched-limiter.js';
import { decodeAccount, decodeCode, decodeDevice, decodeGrant, decodeRefresh, decodeServerInfo, decodeSession, decodeSigningKey, decodeUpstreamState, encodeScram, isUserAgent, parseJson, toNum } from './codec.js';
import { randomToken } from '../util/crypto.js';
import { adaptLimiter, limiterOptions } from './rate-limit.js';
import { RedisKeys } from './redis-keys.js';
import { RedisSecondFactorStore } from './second-factor/redis.js';
import type { SecondFactorStore } from './second-factor/types.js';
import { RedisActivityLog } from './activity/redis.js';
import { RedisPasskeyStore } from './passkeys/redis.js';
import { scripts, type ScriptName } from './redis-scripts.js';
import { MAX_REFRESH_PER_GRANT } from './types.js';
import type {
  Account, AuthorizationCode, ConsumeCodeResult, CreateUpstreamAccountResult, DeviceGrant, UpstreamOrigin, UpstreamState, Grant, LoginSession, PollDeviceResult,
  AccountNewsEvent, GrantRevokedEvent, PasswordCredentials, RateLimiter, RateLimitRule, RefreshToken, RevocationListener, RotateRefreshAsResult, RotateRefreshResult, ServerInfo, SigningKey, Store, UserAgent,
} from './types.js';

/** How long an announcer waits for its news to come back through its own feed. */
const ECHO_WAIT_MS = 100;

/** A consumed code stays known this long at least, so a replay is recognised. */
const CODE_TOMBSTONE_MS = 600_000;

type Client = Redis | Cluster;
type Arg = string | number;

/** Script replies are arrays of strings (or numbers); anything else reads as empty. */
function strings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '')) : [];
}

const ACCOUNT_NEWS = new Set<AccountNewsEvent['kind']>(['removed', 'disabled', 'enabled', 'linked', 'upstream-logout', 'password-changed']);

function decodeAccountNews(o: Record<string, unknown> | null): AccountNewsEvent | null {
  if (!o || typeof o.account !== 'string' || !o.account || o.account.length > 3071) return null;
  if (!ACCOUNT_NEWS.has(o.kind as AccountNewsEvent['kind'])) return null;
  return { jid: o.account, kind: o.kind as AccountNewsEvent['kind'], at: typeof o.at === 'number' ? o.at : Date.now() };
}

function decodeRevocation(o: Record<string, unknown> | null): GrantRevokedEvent | null {
  if (!o || typeof o.grantId !== 'string' || o.grantId.length === 0 || o.grantId.length > 200) return null;
  const scope = Array.isArray(o.scope) && o.scope.length <= 50 && o.scope.every((s) => typeof s === 'string') ? (o.scope as string[]) : undefined;
  return { grantId: o.grantId, jid: typeof o.jid === 'string' ? o.jid : undefined, scope, at: typeof o.at === 'number' ? o.at : Date.now() };
}

/** A refresh token's hash fields: its JSON, and rotatedAt beside it (which wins). */
function refreshRecord(data: string | null | undefined, rotatedAt?: string | null): RefreshToken | null {
  const o = parseJson(data);
  if (!o) return null;
  delete o.rotatedAt; // the hash field is authoritative
  const at = toNum(rotatedAt);
  if (at !== undefined) o.rotatedAt = at;
  return decodeRefresh(o);
}

/**
 * Before an answer from the liveness copy: let the event loop finish reading
 * every socket that was ready with the request. A revocation whose PUBLISH
 * completed before the request reached us is already in the feed's socket
 * (Redis writes it before it answers the publisher), but its read may be
 * queued behind the request's in the same poll phase; setImmediate runs after
 * that phase, so by then the news has been applied. Then the entry is asked
 * again.
 */
function caughtUp(live: GrantLiveness, id: string): Promise<boolean> {
  return new Promise((resolve) => setImmediate(() => resolve(live.has(id))));
}

/** Remaining lifetime in ms of a record that ends at `expiresAt`. */
const ttlUntil = (expiresAt: number) => Math.round(expiresAt - Date.now());

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly k: RedisKeys;
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly revocationListeners = new Set<RevocationListener>();
  private readonly gapListeners = new Set<() => void>();
  /** Pub/sub needs a connection of its own; opened with the first listener. */
  private subscriber?: Client;
  /** Grant liveness held in process (see grantExists); absent when turned off. */
  private readonly liveness?: GrantLiveness;
  /**
   * Grants seen gone (revoked or expired). Ids are random and never reused,
   * so this is a fact for good, whatever happens to the feed: repeated
   * revocations and checks of an ended grant need no round trip.
   */
  private readonly ended = new BoundedMap<string, true>(50_000);
  readonly secondFactors: SecondFactorStore;
  readonly activity: RedisActivityLog;
  readonly passkeys: RedisPasskeyStore;

  constructor(
    private readonly client: Client,
    keyPrefix?: string,
    opts: { grantLivenessCache?: boolean } = {},
  ) {
    // A Cluster has database 0 only; a single node or Sentinel primary may use another.
    this.k = new RedisKeys(keyPrefix, (client as { options?: { db?: number } }).options?.db ?? 0);
    this.secondFactors = new RedisSecondFactorStore(client, this.k);
    this.activity = new RedisActivityLog(client, this.k.prefix);
    this.passkeys = new RedisPasskeyStore(client, this.k);
    if (opts.grantLivenessCache) {
      this.liveness = new GrantLiveness();
      this.subscribe();
    }
    // ioredis sends EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a restarted server).
    for (const [name, def] of Object.entries(scripts)) {
      client.defineCommand(name, { numberOfKeys: def.keys, lua: def.lua });
    }
  }

  private run(name: ScriptName, keys: string[], args: Arg[] = []): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, ((...a: Arg[]) => Promise<unknown>) | undefined>)[name];
    if (!fn) throw new Error(`redis script ${name} is not defined`);
    return fn.call(this.client, ...keys, ...args);
  }

  // accounts

  async createAccount(account: Account): Promise<boolean> {
    const r = await this.run('xoCreateAccount', [this.k.account(account.jid), this.k.accountList()], [
      account.jid,
      account.passwordHash,
      account.createdAt,
      account.epoch ?? '',
      encodeScram(account.scram),
    ]);
    return r === 1;
  }

  async getAccount(jid: string): Promise<Account | null> {
    const h = await this.client.hgetall(this.k.account(jid));
    const a = decodeAccount(h);
    const at = toNum(h.upstreamLoginAt);
    if (a?.upstream && at !== undefined) a.upstream.lastLoginAt = at;
    return a && a.jid === jid ? a : null;
  }

  private subjectKey(iss: string, sub: string): string {
    return this.k.subject(createHash('sha256').update(`${iss}\n${sub}`).digest('hex'));
  }

  async setAccountDisabled(jid: string, disabled: boolean): Promise<boolean> {
    const changed = (await this.run('xoSetDisabled', [this.k.account(jid)], [disabled ? '1' : '0'])) === 1;
    if (changed) await this.announceAccount(jid, disabled ? 'disabled' : 'enabled');
    return changed;
  }

  async findAccountBySubject(iss: string, sub: string): Promise<string | null> {
    return this.client.get(this.subjectKey(iss, sub));
  }

  async createUpstreamAccount(account: Account & { upstream: UpstreamOrigin }): Promise<CreateUpstreamAccountResult> {
    const { upstream } = account;
    const r = await this.run('xoCreateUpstreamAccount', [this.k.account(account.jid), this.k.accountList(), this.subjectKey(upstream.iss, upstream.sub)], [
      account.jid,
      account.createdAt,
      JSON.stringify(upstream),
      upstream.lastLoginAt,
    ]);
    return r === 'created' || r === 'jid-taken' || r === 'subject-taken' ? r : 'jid-taken';
  }

  async linkUpstream(jid: string, origin: UpstreamOrigin): Promise<boolean> {
    const r = await this.run('xoLinkUpstream', [this.k.account(jid), this.subjectKey(origin.iss, origin.sub)], [jid, JSON.stringify(origin), origin.lastLoginAt]);
    // From now on the account's refresh tokens depend on upstream sign-ins: no copy may say otherwise.
    if (r === 1) await this.announceAccount(jid, 'linked');
    return r === 1;
  }

  async touchUpstreamLogin(jid: string, at: number): Promise<boolean> {
    return (await this.run('xoTouchUpstream', [this.k.account(jid)], [at])) === 1;
  }

  async forgetUpstreamLogin(jid: string): Promise<boolean> {
    const forgot = (await this.run('xoForgetUpstream', [this.k.account(jid)])) === 1;
    // Heard by the component link, which ends the XMPP sessions opened with app passwords.
    if (forgot) await this.announceAccount(jid, 'upstream-logout');
    return forgot;
  }

  async firstLogoutToken(digest: string, ttl: number): Promise<boolean> {
    return (await this.client.set(this.k.logoutToken(digest), '1', 'EX', Math.max(1, Math.round(ttl)), 'NX')) === 'OK';
  }

  async saveUpstreamState(id: string, state: UpstreamState, ttl: number): Promise<void> {
    await this.client.set(this.k.upstreamState(id), JSON.stringify(state), 'EX', Math.max(1, Math.round(ttl)));
  }

  async takeUpstreamState(id: string): Promise<UpstreamState | null> {
    return decodeUpstreamState(parseJson(await this.client.getdel(this.k.upstreamState(id))));
  }

  async accountExists(jid: string): Promise<boolean> {
    return (await this.client.exists(this.k.account(jid))) === 1;
  }

  async setPasswordCredentials(jid: string, c: PasswordCredentials): Promise<boolean> {
    return (await this.run('xoSetPassword', [this.k.account(jid)], [c.passwordHash, randomToken(12), encodeScram(c.scram)])) === 1;
  }

  async upgradeCredentials(jid: string, expected: PasswordCredentials, next: PasswordCredentials): Promise<boolean> {
    const args = [expected.passwordHash, encodeScram(expected.scram), next.passwordHash, encodeScram(next.scram)];
    return (await this.run('xoUpgradeCredentials', [this.k.account(jid)], args)) === 1;
  }

  async renewAccountEpoch(jid: string): Promise<string | null> {
    const epoch = randomToken(12);
    return (await this.run('xoRenewEpoch', [this.k.account(jid)], [epoch])) === 1 ? epoch : null;
  }

  async removeAccount(jid: string): Promise<boolean> {
    const up = (await this.getAccount(jid))?.upstream;
    const subject = up ? this.subjectKey(up.iss, up.sub) : this.k.subject('none');
    // Grants are revoked by the caller through the grant-management core (src/oauth/account-life/account-lifecycle.ts), which announces each.
    const removed = (await this.run('xoRemoveAccount', [this.k.account(jid), this.k.accountList(), subject], [jid])) === 1;
    // Copies of "this grant is the account's" go everywhere, even if a revocation after this is missed.
    if (removed) await this.announceAccount(jid, 'removed');
    return removed;
  }

  async listAccounts(): Promise<string[]> {
    return this.client.smembers(this.k.accountList());
  }

  // signing keys

  private decodeKeys(values: unknown): SigningKey[] {
    return strings(values)
      .map((v) => decodeSigningKey(parseJson(v)))
      .filter((key): key is SigningKey => key !== null)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async listSigningKeys(): Promise<SigningKey[]> {
    return this.decodeKeys(await this.client.hvals(this.k.signingKeys()));
  }

  async initSigningKeys(key: SigningKey): Promise<SigningKey[]> {
    return this.decodeKeys(await this.run('xoInitKeys', [this.k.signingKeys()], [key.kid, JSON.stringify(key)]));
  }

  async addSigningKey(key: SigningKey): Promise<void> {
    await this.client.hset(this.k.signingKeys(), key.kid, JSON.stringify(key));
  }

  async updateSigningKey(key: SigningKey): Promise<void> {
    await this.run('xoUpdateKey', [this.k.signingKeys()], [key.kid, JSON.stringify(key)]);
  }

  async removeSigningKey(kid: string): Promise<void> {
    await this.client.hdel(this.k.signingKeys(), kid);
  }

  async publishServerInfo(info: ServerInfo): Promise<void> {
    await this.client.set(this.k.serverInfo(), JSON.stringify(info));
  }

  async deploymentSecret(name: string): Promise<string> {
    const key = this.k.deploymentSecret(name);
    // SET NX then GET: whichever instance comes first decides, every other reads its value.
    const fresh = randomBytes(32).toString('base64');
    const [, got] = (await this.client.multi().set(key, fresh, 'NX').get(key).exec()) ?? [];
    const value = got?.[1];
    if (typeof value !== 'string' || !value) throw new Error('could not read the deployment secret from Redis');
    return value;
  }

  async serverInfo(): Promise<ServerInfo | null> {
    return decodeServerInfo(parseJson(await this.client.get(this.k.serverInfo())));
  }

  // grants: hash {data: JSON, lastUsedAt} in the grant's slot, indexed per user in another

  async saveGrant(grant: Grant): Promise<void> {
    // Grant first: an index entry without a grant is cleaned on read; the reverse would hide the grant.
    await this.client.hset(this.k.grant(grant.id), 'data', JSON.stringify(grant), 'lastUsedAt', String(grant.lastUsedAt));
    await this.run('xoIndexGrant', [this.k.userGrants(grant.jid), this.k.userClients(grant.jid)], [grant.id, grant.clientId]);
  }

  async updateGrant(grant: Grant): Promise<boolean> {
    const r = await this.run('xoUpdateGrant', [this.k.grant(grant.id)], [JSON.stringify(grant), grant.lastUsedAt]);
    return Number(r) === 1;
  }

  async getGrant(id: string): Promise<Grant | null> {
    const [data, lastUsedAt, userAgent] = await this.client.hmget(this.k.grant(id), 'data', 'lastUsedAt', 'userAgent');
    const o = parseJson(data);
    const touched = toNum(lastUsedAt);
    if (o && touched !== undefined) o.lastUsedAt = touched;
    // Kept beside lastUsedAt so an XMPP login records it with the same write (touchGrant).
    const agent = parseJson(userAgent);
    if (o && agent && isUserAgent(agent)) o.userAgent = agent;
    const g = decodeGrant(o);
    return g && g.id === id ? g : null;
  }

  /**
   * With the liveness cache on, a grant seen alive is remembered until a
   * revocation of it arrives on the feed (or is made here), and at most
   * GrantLiveness.MAX_AGE_MS or until its key would expire. Whenever the feed
   * cannot vouch for having heard every revocation (connection down, not yet
   * subscribed, ping overdue) the cache is empty and every answer comes from
   * Redis: it fails closed.
   */
  async grantExists(id: string, opts: { fresh?: boolean } = {}): Promise<boolean> {
    if (this.ended.has(id)) return false;
    const live = this.liveness;
    if (!live) return this.seen(id, (await this.client.exists(this.k.grant(id))) === 1);
    if (!opts.fresh && live.has(id) && (await caughtUp(live, id))) return true;
    const epoch = live.epoch;
    const ttl = await this.client.pttl(this.k.grant(id));
    if (ttl === -2) {
      // Gone without news reaching this instance: its copy must not outlive the key.
      live.forget(id);
      return this.seen(id, false);
    }
    live.remember(id, epoch, ttl);
    return true;
  }

  async tokenGrant(id: string, jid: string): Promise<Grant | null> {
    if (this.ended.has(id)) return null;
    const live = this.liveness;
    const known = live?.ownedBy(id, jid);
    if (known && (await caughtUp(live!, id))) return known;
    const epoch = live?.epoch ?? 0;
    // One round trip (auto-pipelined); the TTL only when it can be remembered.
    const [grant, account, ttl] = await Promise.all([
      this.getGrant(id),
      this.getAccount(jid),
      live ? this.client.pttl(this.k.grant(id)) : undefined,
    ]);
    if (!grantOfAccount(grant, account, jid)) {
      // Ended for good only when the key is really gone (not merely unreadable).
      if (ttl === -2) this.seen(id, false);
      return null;
    }
    if (live && ttl !== undefined && ttl !== -2) live.remember(id, epoch, ttl, grant!);
    return grant;
  }

  /** Notes a grant found gone (see `ended`); returns whether it exists. */
  private seen(id: string, exists: boolean): boolean {
    if (!exists) this.ended.set(id, true);
    return exists;
  }

  async findGrant(jid: string, clientId: string): Promise<Grant | null> {
    const id = await this.client.hget(this.k.userClients(jid), clientId);
    if (id === null) return null;
    const g = await this.getGrant(id);
    if (!g) await this.unindexGrants(jid, [id]);
    return g && g.jid === jid && g.clientId === clientId ? g : null;
  }

  async listGrants(jid: string): Promise<Grant[]> {
    const ids = await this.client.smembers(this.k.userGrants(jid));
    // One command per grant (different slots), sent together rather than one after another.
    const found = await Promise.all(ids.map((id) => this.getGrant(id)));
    const stale = ids.filter((_, i) => !found[i]);
    if (stale.length > 0) await this.unindexGrants(jid, stale);
    return found.filter((g): g is Grant => g !== null && g.jid === jid).sort((a, b) => a.createdAt - b.createdAt);
  }

  async countGrants(jid: string): Promise<number> {
    return this.client.scard(this.k.userGrants(jid));
  }

  async touchGrant(id: string, at: number, userAgent?: UserAgent): Promise<void> {
    await this.run('xoTouchGrant', [this.k.grant(id)], [at, userAgent ? JSON.stringify(userAgent) : '']);
  }

  async revokeGrant(id: string): Promise<boolean> {
    if (this.ended.has(id)) return false;
    const { existed, grant } = await this.revokeGrantSlot(id);
    this.seen(id, false);
    if (grant) await this.unindexGrants(grant.jid, [id]);
    if (existed) await this.publishRevocation({ grantId: id, jid: grant?.jid, scope: grant?.scope, at: Date.now() });
    return existed;
  }

  /** Step one of a revocation: the grant and all its refresh tokens, atomically. */
  private async revokeGrantSlot(id: string): Promise<{ existed: boolean; grant: Grant | null }> {
    const r = await this.run('xoRevokeGrant', [this.k.grant(id), this.k.grantRefreshSet(id)], [this.k.refreshPrefix(id)]);
    const [existed, data] = strings(r);
    return { existed: existed === '1', grant: decodeGrant(parseJson(data)) };
  }

  /** Step two: drop index entries (another slot). Also used to clean stale entries. */
  private async unindexGrants(jid: string, ids: string[]): Promise<void> {
    await this.run('xoUnindexGrants', [this.k.userGrants(jid), this.k.userClients(jid)], ids);
  }

  // revocation news: PUBLISH on one channel per key prefix, a second connection subscribed

  async publishRevocation(event: GrantRevokedEvent): Promise<void> {
    await this.announce(event, () => {
      this.seen(event.grantId, false);
      this.liveness?.forget(event.grantId);
    });
  }

  announcePasswordChanged(jid: string): Promise<void> {
    return this.announceAccount(jid, 'password-changed');
  }

  /** Account news: every instance empties its copies, and account listeners hear it. */
  private announceAccount(jid: string, kind: AccountNewsEvent['kind']): Promise<void> {
    return this.announce({ account: jid, kind, at: Date.now() }, () => this.liveness?.clear());
  }

  /** News on the revocation channel; `here` forgets on this instance at once, whatever happens to the message. */
  private async announce(news: GrantRevokedEvent | { account: string; kind: string; at: number }, here: () => void): Promise<void> {
    here();
    // With the copies on, the change is answered only once the news has come back through this
    // instance's own feed: by then Redis has handed it to every other instance's feed too (bounded wait).
    const nonce = this.liveness ? randomToken(9) : undefined;
    const echo = nonce === undefined ? undefined : this.echoOf(nonce);
    try {
      await this.client.publish(this.k.revocationChannel(), JSON.stringify(nonce === undefined ? news : { ...news, n: nonce }));
      await echo?.heard;
    } catch {
      // Best effort: the change is made already; listeners re-check what they hold on their own schedule.
    } finally {
      echo?.done();
    }
  }

  private readonly echoes = new Map<string, () => void>();

  private echoOf(nonce: string): { heard: Promise<void>; done: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<void>((resolve) => {
      this.echoes.set(nonce, resolve);
      timer = setTimeout(resolve, ECHO_WAIT_MS);
    });
    return {
      heard,
      done: () => {
        clearTimeout(timer);
        this.echoes.delete(nonce);
      },
    };
  }

  private readonly accountListeners = new Set<(event: AccountNewsEvent) => void>();
  private readonly slotListeners = new Set<(domain: string) => void>();

  async publishSlotFreed(domain: string): Promise<void> {
    await this.client.publish(this.k.revocationChannel(), JSON.stringify({ slotFreed: domain, at: Date.now() })).catch(() => undefined);
  }

  onSlotFreed(listener: (domain: string) => void): () => void {
    const own = (d: string) => listener(d);
    this.slotListeners.add(own);
    this.subscribe();
    return () => this.slotListeners.delete(own);
  }

  onAccountNews(listener: (event: AccountNewsEvent) => void): () => void {
    const own = (e: AccountNewsEvent) => listener(e);
    this.accountListeners.add(own);
    this.subscribe();
    return () => this.accountListeners.delete(own);
  }

  onRevocation(listener: RevocationListener, onGap?: () => void): () => void {
    const own = (e: GrantRevokedEvent) => listener(e);
    const gap = onGap ? () => onGap() : undefined;
    this.revocationListeners.add(own);
    if (gap) this.gapListeners.add(gap);
    this.subscribe();
    return () => {
      this.revocationListeners.delete(own);
      if (gap) this.gapListeners.delete(gap);
    };
  }

  private subscribe(): void {
    if (this.subscriber) return;
    const channel = this.k.revocationChannel();
    // Our 'ready' handler below subscribes on every (re)connection. ioredis's own
    // resubscription would issue a second SUBSCRIBE whose promise nobody holds: a
    // close() right after a Redis blip then rejects it unhandled ("Connection is closed.").
    const sub = 'nodes' in this.client ? this.client.duplicate() : this.client.duplicate({ autoResubscribe: false });
    this.subscriber = sub;
    // Outages are reported by the main connection; an unheard 'error' would only add noise.
    sub.on('error', () => undefined);
    const live = this.liveness;
    if (live) {
      // Down from the moment the link is: events published meanwhile are lost.
      sub.on('close', () => live.down());
      sub.on('end', () => live.down());
      // A PONG on the subscriber proves every message sent before it has been read (one ordered stream).
      const timer = setInterval(() => {
        if (sub.status !== 'ready') return;
        const sent = Date.now();
        sub.ping().then(() => live.pong(sent), () => live.down());
      }, GrantLiveness.PING_MS);
      timer.unref();
      sub.once('end', () => clearInterval(timer));
    }
    sub.on('message', (ch: string, message: string) => {
      if (ch === this.k.blocksChannel()) {
        this.onBlockNews(message);
        return;
      }
      if (ch !== channel) return;
      const news = parseJson(message);
      if (typeof news?.slotFreed === 'string') {
        // Not about grants or accounts: the copies stay.
        for (const listener of this.slotListeners) listener(news.slotFreed);
        return;
      }
      const event = decodeRevocation(news);
      // Applied below first; the waiting announcer is released after (a microtask later).
      if (typeof news?.n === 'string') queueMicrotask(() => this.echoes.get(news.n as string)?.());
      if (!event) {
        // Account news (see announceAccount), or unreadable news that may have been a revocation.
        live?.clear();
        const account = decodeAccountNews(news);
        if (account) {
          for (const listener of this.accountListeners) {
            try {
              listener(account);
            } catch {
              // One failing listener must not starve the others.
            }
          }
        }
        return;
      }
      this.seen(event.grantId, false);
      live?.forget(event.grantId);
      for (const listener of this.revocationListeners) {
        try {
          listener(event);
        } catch {
          // One failing listener must not starve the others.
        }
      }
    });
    // Every (re)connection: subscribe (again), then tell listeners they may have missed news meanwhile.
    sub.on('ready', () => {
      sub.subscribe(...(live ? [channel, this.k.blocksChannel()] : [channel])).then(
        () => {
          live?.up();
          for (const gap of this.gapListeners) gap();
        },
        () => live?.down(),
      );
    });
  }

  // authorization codes: hash {data, exp, ttl, used?}

  async saveCode(digest: string, code: AuthorizationCode, ttl: number): Promise<void> {
    const ttlMs = Math.max(1, Math.round(ttl * 1000));
    await this.run('xoSaveCode', [this.k.code(code.grantId, digest)], [JSON.stringify(code), Date.now() + ttlMs, ttlMs]);
  }

  async peekCode(grantId: string, digest: string): Promise<{ code: AuthorizationCode; used: boolean } | null> {
    const [data, exp, used] = await this.client.hmget(this.k.code(grantId, digest), 'data', 'exp', 'used');
    const code = decodeCode(parseJson(data));
    if (!code || code.grantId !== grantId) return null;
    const expiresAt = toNum(exp);
    if (expiresAt !== undefined) code.expiresAt = expiresAt;
    return { code, used: used !== null };
  }

  async consumeCode(grantId: string, digest: string): Promise<ConsumeCodeResult> {
    const keys = [this.k.code(grantId, digest), this.k.grant(grantId)];
    const [status, data, exp] = strings(await this.run('xoConsumeCode', keys, [CODE_TOMBSTONE_MS]));
    if (status === 'revoked') return { status: 'revoked' };
    const code = decodeCode(parseJson(data));
    if (!code || (status !== 'ok' && status !== 'replayed')) return { status: 'missing' };
    const expiresAt = toNum(exp);
    if (expiresAt !== undefined) code.expiresAt = expiresAt;
    return { status, code };
  }

  // refresh tokens: hash {data, rotatedAt?} per token, in the grant's slot

  async saveRefresh(digest: string, token: RefreshToken): Promise<void> {
    const ttl = ttlUntil(token.expiresAt);
    if (ttl <= 0) return;
    const { rotatedAt: _, ...data } = token;
    const g = token.grantId;
    await this.run('xoSaveRefresh', [this.k.grant(g), this.k.refresh(g, digest), this.k.grantRefreshSet(g)], [
      JSON.stringify(data),
      ttl,
      digest,
      token.expiresAt,
      this.k.refreshPrefix(g),
      Date.now(),
      MAX_REFRESH_PER_GRANT,
    ]);
  }

  /** grant id → its JID: a grant never changes hands, so this holds for good. */
  private readonly grantJids = new BoundedMap<string, string>(50_000);

  async getRefreshAndAccount(grantId: string, digest: string): Promise<{ refresh: RefreshToken | null; account: Account | null }> {
    const epoch = this.liveness?.epoch ?? 0;
    const jid = this.grantJids.get(grantId);
    if (jid !== undefined) {
      const [refresh, account] = await Promise.all([this.getRefresh(grantId, digest), this.getAccount(jid)]);
      if (!refresh || refresh.jid === jid) return { refresh, account: refresh ? this.keepAccount(account, epoch) : null };
    }
    const refresh = await this.getRefresh(grantId, digest);
    return { refresh, account: refresh ? this.keepAccount(await this.getAccount(refresh.jid), epoch) : null };
  }

  private keepAccount(account: Account | null, epoch: number): Account | null {
    if (account) this.liveness?.rememberAccount(account, epoch);
    return account;
  }

  knownAccountOfGrant(grantId: string): Account | null {
    const jid = this.grantJids.get(grantId);
    return (jid !== undefined && this.liveness?.account(jid)) || null;
  }

  async getRefresh(grantId: string, digest: string): Promise<RefreshToken | null> {
    const [data, rotatedAt] = await this.client.hmget(this.k.refresh(grantId, digest), 'data', 'rotatedAt');
    const t = refreshRecord(data, rotatedAt);
    if (!t || t.grantId !== grantId) return null;
    this.grantJids.set(grantId, t.jid);
    return t;
  }

  async rotateRefresh(grantId: string, oldDigest: string, newDigest: string, next: RefreshToken): Promise<RotateRefreshResult> {
    const { rotatedAt: _, ...data } = next;
    const r = strings(
      await this.run(
        'xoRotateRefresh',
        [this.k.grant(grantId), this.k.refresh(grantId, oldDigest), this.k.refresh(grantId, newDigest), this.k.grantRefreshSet(grantId)],
        [Date.now(), JSON.stringify({ ...data, grantId }), Math.max(1, ttlUntil(next.expiresAt)), newDigest, this.k.refreshPrefix(grantId), MAX_REFRESH_PER_GRANT],
      ),
    );
    if (r[0] === 'replayed') return this.replayed(grantId, r[1]);
    const previous = r[0] === 'ok' ? refreshRecord(r[1]) : null;
    return previous ? { status: 'ok', previous } : { status: 'missing' };
  }

  async rotateRefreshAs(
    grantId: string,
    oldDigest: string,
    newDigest: string,
    clientId: string,
    lifetime: { issuedAt: number; expiresAt: number },
  ): Promise<RotateRefreshAsResult> {
    const ttl = Math.max(1, ttlUntil(lifetime.expiresAt));
    const r = strings(
      await this.run(
        'xoRotateRefreshAs',
        [this.k.grant(grantId), this.k.refresh(grantId, oldDigest), this.k.refresh(grantId, newDigest), this.k.grantRefreshSet(grantId)],
        [Date.now(), clientId, lifetime.issuedAt, lifetime.expiresAt, ttl, newDigest, this.k.refreshPrefix(grantId), MAX_REFRESH_PER_GRANT],
      ),
    );
    if (r[0] === 'other-client') return { status: 'other-client' };
    if (r[0] === 'long-way') return { status: 'long-way' };
    if (r[0] === 'replayed') return this.replayed(grantId, r[1]);
    const previous = r[0] === 'ok' ? refreshRecord(r[1]) : null;
    return previous && previous.grantId === grantId ? { status: 'ok', previous } : { status: 'missing' };
  }

  /** The rotation script found a replay and revoked the grant: announce it like any other revocation. */
  private async replayed(grantId: string, data: string | undefined): Promise<RotateRefreshResult> {
    const grant = decodeGrant(parseJson(data));
    if (grant) await this.unindexGrants(grant.jid, [grantId]);
    if (grant) await this.publishRevocation({ grantId, jid: grant.jid, scope: grant.scope, at: Date.now() });
    return { status: 'replayed', grantId };
  }

  // device grants: hash in {d:id} (immutable JSON `data` + mutable fields); user code → id elsewhere

  async createDevice(device: DeviceGrant, deviceDigest: string): Promise<boolean> {
    const ttl = Math.max(1, ttlUntil(device.expiresAt));
    const claimed = await this.client.set(this.k.userCode(device.userCode), device.id, 'PX', ttl, 'NX');
    if (claimed !== 'OK') return false;
    const { id, userCode, clientId, scope, createdAt, expiresAt } = device;
    const fields: Arg[] = [
      'data', JSON.stringify({ id, userCode, clientId, scope, createdAt, expiresAt }),
      'digest', deviceDigest,
      'clientId', clientId,
      'userCode', userCode,
      'expiresAt', expiresAt,
      'status', device.status,
      'interval', device.interval,
      'lastPollAt', device.lastPollAt,
    ];
    if (device.jid !== undefined) fields.push('jid', device.jid);
    if (device.grantId !== undefined) fields.push('grantId', device.grantId);
    if (device.authTime !== undefined) fields.push('authTime', device.authTime);
    await this.run('xoSaveDevice', [this.k.device(device.id)], [ttl, ...fields]);
    return true;
  }

  private decodeDeviceHash(h: Record<string, string>): DeviceGrant | null {
    const o = parseJson(h.data);
    if (!o) return null;
    Object.assign(o, { status: h.status, interval: toNum(h.interval), lastPollAt: toNum(h.lastPollAt) });
    if (h.jid !== undefined) o.jid = h.jid;
    if (h.grantId !== undefined) o.grantId = h.grantId;
    if (h.authTime !== undefined) o.authTime = toNum(h.authTime);
    if (h.amr) o.amr = h.amr.split(' ');
    return decodeDevice(o);
  }

  async findDeviceByUserCode(userCode: string): Promise<DeviceGrant | null> {
    const id = await this.client.get(this.k.userCode(userCode));
    if (id === null) return null;
    const d = this.decodeDeviceHash(await this.client.hgetall(this.k.device(id)));
    return d && d.userCode === userCode && d.expiresAt > Date.now() ? d : null;
  }

  async decideDevice(
    userCode: string,
    decision: { status: 'approved'; jid: string; grantId: string; authTime: number; amr?: string[] } | { status: 'denied' },
  ): Promise<boolean> {
    const id = await this.client.get(this.k.userCode(userCode));
    if (id === null) return false;
    const args: Arg[] =
      decision.status === 'approved'
        ? [userCode, Date.now(), 'approved', decision.jid, decision.grantId, decision.authTime, (decision.amr ?? []).join(' ')]
        : [userCode, Date.now(), 'denied'];
    return (await this.run('xoDecideDevice', [this.k.device(id)], args)) === 1;
  }

  async pollDevice(id: string, deviceDigest: string, now: number, clientId: string): Promise<PollDeviceResult> {
    const r = strings(await this.run('xoPollDevice', [this.k.device(id)], [deviceDigest, now, clientId]));
    switch (r[0]) {
      case 'wrong_client':
        return { status: 'wrong_client' };
      case 'pending':
      case 'slow_down':
        return { status: r[0], interval: Number(r[1]) };
      case 'approved': {
        const h: Record<string, string> = {};
        for (let i = 1; i + 1 < r.length; i += 2) h[r[i]!] = r[i + 1]!;
        const device = this.decodeDeviceHash(h);
        await this.forgetUserCode(h.userCode, id);
        return device ? { status: 'approved', device } : { status: 'missing' };
      }
      case 'denied':
        await this.forgetUserCode(r[1], id);
        return { status: 'denied' };
      default:
        return { status: 'missing' };
    }
  }

  /** Second step after a decided grant was redeemed: its user code (another slot). */
  private async forgetUserCode(userCode: string | undefined, id: string): Promise<void> {
    if (userCode) await this.run('xoDelIfEquals', [this.k.userCode(userCode)], [id]);
  }

  // login sessions: JSON strings with a TTL

  async saveSession(session: LoginSession): Promise<void> {
    const ttl = ttlUntil(session.expiresAt);
    if (ttl <= 0) await this.client.del(this.k.session(session.id));
    else await this.client.set(this.k.session(session.id), JSON.stringify(session), 'PX', ttl);
  }

  async getSession(id: string): Promise<LoginSession | null> {
    const s = decodeSession(parseJson(await this.client.get(this.k.session(id))));
    if (!s || s.id !== id || s.expiresAt <= Date.now()) return null;
    // Another slot: a read after a password change or removal has completed sees it.
    const [owner, epoch, disabled] = await this.client.hmget(this.k.account(s.jid), 'jid', 'epoch', 'disabled');
    // A removed, re-created, re-keyed or disabled account's sessions end with it.
    if (owner !== s.jid || disabled === '1' || (epoch ?? '') !== (s.epoch ?? '')) {
      await this.client.del(this.k.session(id));
      return null;
    }
    return s;
  }

  async deleteSession(id: string): Promise<void> {
    await this.client.del(this.k.session(id));
  }

  // throttling

  rateLimiter(rule: RateLimitRule): RateLimiter {
    const opts = limiterOptions(rule);
    const cacheKey = `${rule.name}/${opts.points}/${opts.duration}/${opts.blockDuration}/${rule.localFlushMs ?? ''}/${rule.localPeek ? 'p' : ''}`;
    let limiter = this.limiters.get(cacheKey);
    if (!limiter) {
      const rl = new RateLimiterRedis({
        ...opts,
        storeClient: this.client,
        // ioredis, not node-redis: call style is client.cmd(...args) and MULTI results are [err, value] pairs.
        useRedisPackage: false,
        keyPrefix: this.k.rateLimitPrefix(rule.name),
      });
      // A guessing budget is batched only where blocks can be announced (the feed); otherwise it stays atomic in Redis.
      const batchable = rule.localFlushMs !== undefined && (!rule.localPeek || this.liveness !== undefined);
      const batched = batchable ? new BatchedLimiter(rl, rule.points, opts.duration * 1000, rule.localFlushMs!) : undefined;
      limiter = batched ?? adaptLimiter(rl, rule.points);
      if (rule.localPeek && this.liveness) limiter = this.blockAware(rule, limiter, opts, batched);
      this.limiters.set(cacheKey, limiter);
    }
    return limiter;
  }

  // throttle blocks, announced (see RateLimitRule.localPeek)

  /** rule name → key → blocked until (ms). */
  private readonly blocks = new Map<string, BoundedMap<string, number>>();

  private blocksOf(rule: string): BoundedMap<string, number> {
    let m = this.blocks.get(rule);
    if (!m) this.blocks.set(rule, (m = new BoundedMap<string, number>(50_000)));
    return m;
  }

  private onBlockNews(message: string): void {
    const o = parseJson(message);
    if (!o || typeof o.rule !== 'string' || typeof o.key !== 'string' || typeof o.until !== 'number') return;
    if (o.until > Date.now()) this.blocksOf(o.rule).set(o.key, o.until);
    else this.blocksOf(o.rule).delete(o.key);
  }

  /** Awaited: Redis has handed the news to every subscriber before the caller hears its 429. */
  private async announceBlock(rule: string, key: string, until: number): Promise<void> {
    this.onBlockNews(JSON.stringify({ rule, key, until }));
    await this.client.publish(this.k.blocksChannel(), JSON.stringify({ rule, key, until })).catch(() => undefined);
  }

  private blockAware(rule: RateLimitRule, inner: RateLimiter, opts: { duration: number; blockDuration: number }, batched?: BatchedLimiter): RateLimiter {
    const live = this.liveness!;
    const blocks = this.blocksOf(rule.name);
    // A block lasts at most this long after the consume that set it; heard that long, the copy is complete.
    const completeAfterMs = Math.max(opts.duration, opts.blockDuration) * 1000 + 1000;
    if (batched) {
      // Every instance's total, read back at a flush: a budget used up elsewhere is announced too.
      batched.onShared = (key, consumed, resetAt) => {
        if (consumed >= rule.points && Number.isFinite(resetAt) && (blocks.get(key) ?? 0) < resetAt - 1000) void this.announceBlock(rule.name, key, resetAt);
      };
    }
    return {
      consume: async (key) => {
        const res = await inner.consume(key);
        // Used up counts as blocked, as a peek in Redis would say; refused may block for longer (blockDuration).
        const left = res.allowed ? (res.remaining === 0 ? res.windowLeftMs ?? 0 : 0) : res.retryAfterMs;
        if (left > 0 && Number.isFinite(left) && left < Number.MAX_SAFE_INTEGER) {
          const until = Date.now() + left;
          if ((blocks.get(key) ?? 0) < until - 1000) await this.announceBlock(rule.name, key, until);
        }
        return res;
      },
      refund: (key) => inner.refund(key),
      peek: async (key) => {
        // Counted in process: this instance's own view (no round trip), then what others announced.
        // A key's total is read from Redis once per window and again after every feed outage, so a
        // restarted process hands out no fresh budget and a block announced while it was deaf counts.
        if (batched) {
          const heardFrom = live.heardFrom();
          const seeded = batched.seededAt(key);
          const current = heardFrom > 0 && seeded !== undefined && seeded >= heardFrom;
          const own = current ? await inner.peek(key) : await batched.peekShared(key);
          const until = own.allowed ? blocks.get(key) : undefined;
          const now = Date.now();
          return until !== undefined && until > now ? { allowed: false, remaining: 0, retryAfterMs: until - now } : own;
        }
        // Windows that never end (duration 0) or very long ones: always ask Redis.
        if (opts.duration === 0 || completeAfterMs > 3_600_000 || !live.heardFor(completeAfterMs)) return inner.peek(key);
        const until = blocks.get(key);
        const now = Date.now();
        if (until !== undefined && until > now) return { allowed: false, remaining: 0, retryAfterMs: until - now };
        return { allowed: true, remaining: rule.points, retryAfterMs: 0 };
      },
      reset: async (key) => {
        await inner.reset(key);
        await this.announceBlock(rule.name, key, 0);
      },
    };
  }

  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.client.ping();
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    this.liveness?.down();
    this.subscriber?.disconnect();
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      // Not connected (Redis down): QUIT can't be sent, just stop reconnecting.
      this.client.disconnect();
    }
  }
}
