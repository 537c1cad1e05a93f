// The activity log in Redis. Per account, in the account's slot ({u:<jid>}):
//   …{u:<jid>}:activity           list of JSON entries, newest first, LTRIMmed, with a TTL
//   …{u:<jid>}:activity:seen:<h>  coalescing marker (SET NX EX) of one kind of XMPP login
//   …{u:<jid>}:notices            the user's own notice choice ('1' / '0')
//   …{u:<jid>}:notices:queued     notices queued for the account this window (its bound in the shared queue)
// and one queue for the whole deployment:
//   …notices:queue                list of JSON notices, oldest first; LPOP hands each to one instance
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { isConnectionError, StoreUnavailableError } from '../unavailable.js';
import { parseEntry, parseNotice } from './codec.js';
import type { ActivityEntry, ActivityLimits, ActivityLog, NoticeLimits, QueuedNotice } from './types.js';

type Client = Redis | Cluster;

/** Key names, after redis-keys.ts's conventions (prefix, hash tags). */
export class ActivityKeys {
  constructor(private readonly prefix: string) {}
  log(jid: string): string {
    return `${this.prefix}{u:${jid}}:activity`;
  }
  seen(jid: string, key: string): string {
    return `${this.log(jid)}:seen:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
  }
  preference(jid: string): string {
    return `${this.prefix}{u:${jid}}:notices`;
  }
  noticesQueued(jid: string): string {
    return `${this.prefix}{u:${jid}}:notices:queued`;
  }
  noticeQueue(): string {
    return `${this.prefix}notices:queue`;
  }
}

// One round trip: the marker and the entry together, or neither.
const APPEND_ONCE = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

/** One more notice for the account, unless it has its bound this window: 1 when counted. */
const COUNT_NOTICE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1`;

function translate(err: unknown): never {
  throw isConnectionError(err) ? new StoreUnavailableError(err) : err;
}

/** MULTI's reply: throws the first command error, if any. */
function checked(replies: [Error | null, unknown][] | null): void {
  for (const [err] of replies ?? []) if (err) throw err;
}

export class RedisActivityLog implements ActivityLog {
  private readonly k: ActivityKeys;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly client: Client,
    prefix: string,
  ) {
    this.k = new ActivityKeys(prefix);
    client.defineCommand('xoActivityAppendOnce', { numberOfKeys: 2, lua: APPEND_ONCE });
    client.defineCommand('xoActivityCountNotice', { numberOfKeys: 1, lua: COUNT_NOTICE });
  }

  async append(jid: string, entry: ActivityEntry, limits: ActivityLimits): Promise<void> {
    const key = this.k.log(jid);
    const replies = await this.client
      .multi()
      .lpush(key, JSON.stringify(entry))
      .ltrim(key, 0, limits.max - 1)
      .expire(key, limits.ttlSeconds)
      .exec()
      .catch(translate);
    checked(replies);
  }

  async appendCoalesced(jid: string, entry: ActivityEntry, limits: ActivityLimits, coalesce: { key: string; windowSeconds: number }): Promise<boolean> {
    const run = (this.client as unknown as { xoActivityAppendOnce(...a: (string | number)[]): Promise<number> }).xoActivityAppendOnce;
    const r = await run
      .call(this.client, this.k.log(jid), this.k.seen(jid, coalesce.key), JSON.stringify(entry), limits.max, limits.ttlSeconds, coalesce.windowSeconds)
      .catch(translate);
    return r === 1;
  }

  async list(jid: string, limit: number): Promise<ActivityEntry[]> {
    if (limit <= 0) return [];
    const raw = await this.client.lrange(this.k.log(jid), 0, limit - 1).catch(translate);
    return raw.map(parseEntry).filter((e): e is ActivityEntry => e !== null);
  }

  async forget(jid: string): Promise<void> {
    // Same slot: one command.
    await this.client.del(this.k.log(jid), this.k.preference(jid), this.k.noticesQueued(jid)).catch(translate);
  }

  async noticePreference(jid: string): Promise<boolean | null> {
    const v = await this.client.get(this.k.preference(jid)).catch(translate);
    return v === '1' ? true : v === '0' ? false : null;
  }

  async setNoticePreference(jid: string, on: boolean | null): Promise<void> {
    const key = this.k.preference(jid);
    await (on === null ? this.client.del(key) : this.client.set(key, on ? '1' : '0')).catch(translate);
  }

  async queueNotice(notice: QueuedNotice, limits: NoticeLimits): Promise<boolean> {
    // The account's bound first (its own slot), then the shared queue (another slot: a second step).
    const count = (this.client as unknown as { xoActivityCountNotice(...a: (string | number)[]): Promise<number> }).xoActivityCountNotice;
    if ((await count.call(this.client, this.k.noticesQueued(notice.jid), limits.perAccount, limits.ttlSeconds).catch(translate)) !== 1) return false;
    const key = this.k.noticeQueue();
    const replies = await this.client
      .multi()
      .rpush(key, JSON.stringify(notice))
      .ltrim(key, -limits.max, -1)
      .expire(key, limits.ttlSeconds)
      .exec()
      .catch(translate);
    checked(replies);
    for (const l of this.listeners) l();
    return true;
  }

  async takeNotices(max: number): Promise<QueuedNotice[]> {
    // LPOP with a count (Redis 6.2+): each element goes to exactly one caller.
    const raw = (await this.client.lpop(this.k.noticeQueue(), max).catch(translate)) ?? [];
    return raw.map(parseNotice).filter((n): n is QueuedNotice => n !== null);
  }

  async returnNotices(notices: QueuedNotice[]): Promise<void> {
    if (!notices.length) return;
    await this.client.lpush(this.k.noticeQueue(), ...notices.reverse().map((n) => JSON.stringify(n))).catch(translate);
  }

  onNoticeQueued(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
