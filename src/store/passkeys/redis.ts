import type { Cluster, Redis } from 'ioredis';
import { parseJson } from '../codec.js';
import type { RedisKeys } from '../redis-keys.js';
import { StoreUnavailableError, isConnectionError } from '../unavailable.js';
import { sha256Hex } from '../../util/crypto.js';
import { decodeChallenge, decodePasskey, type AddPasskeyResult, type PasskeyChallenge, type PasskeyRecord, type PasskeyStore } from './types.js';

type Client = Redis | Cluster;

// An account's passkeys are one hash (its slot is the account's): `h` the user
// handle, `r:<id>` a record's JSON, and beside it what changes: `n:<id>` its
// name, `c:<id>` its counter, `u:<id>` its last use, `b:<id>` its backup flag
// (so no script rewrites JSON). Beside it, an index credential id → jid for discoverable sign-in, and
// the challenges. The scripts live here, with the only code that calls them.

const ADD = `
if redis.call('hexists', KEYS[1], 'r:' .. ARGV[1]) == 1 then return 'exists' end
local n = 0
for _, f in ipairs(redis.call('hkeys', KEYS[1])) do
  if string.sub(f, 1, 2) == 'r:' then n = n + 1 end
end
if n >= tonumber(ARGV[4]) then return 'limit' end
redis.call('hset', KEYS[1], 'r:' .. ARGV[1], ARGV[2], 'c:' .. ARGV[1], ARGV[3], 'n:' .. ARGV[1], ARGV[5])
return 'added'`;

/** Counter compare-and-set: of two uses racing with one counter value, one wins. */
const USE = `
local c = redis.call('hget', KEYS[1], 'c:' .. ARGV[1])
if not c or c ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[1], 'c:' .. ARGV[1], ARGV[3], 'u:' .. ARGV[1], ARGV[4])
if ARGV[5] ~= '' then redis.call('hset', KEYS[1], 'b:' .. ARGV[1], ARGV[5]) end
return 1`;

const RENAME = `
if redis.call('hexists', KEYS[1], 'r:' .. ARGV[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'n:' .. ARGV[1], ARGV[2])
return 1`;

const REMOVE = `
return redis.call('hdel', KEYS[1], 'r:' .. ARGV[1], 'n:' .. ARGV[1], 'c:' .. ARGV[1], 'u:' .. ARGV[1], 'b:' .. ARGV[1])`;

/** The owner index entry goes only if it still names this account. */
const UNINDEX = `
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

/** The user handle, made from ARGV[1] on first use: one round trip. */
const HANDLE = `
redis.call('hsetnx', KEYS[1], 'h', ARGV[1])
return redis.call('hget', KEYS[1], 'h')`;

const SCRIPTS = { xoPasskeyHandle: HANDLE, xoPasskeyAdd: ADD, xoPasskeyUse: USE, xoPasskeyRename: RENAME, xoPasskeyRemove: REMOVE, xoPasskeyUnindex: UNINDEX } as const;
type ScriptName = keyof typeof SCRIPTS;

function guard<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    throw isConnectionError(err) ? new StoreUnavailableError(err) : err;
  });
}

export class RedisPasskeyStore implements PasskeyStore {
  constructor(
    private readonly client: Client,
    private readonly k: RedisKeys,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua });
  }

  private run(name: ScriptName, key: string, args: Array<string | number>): Promise<unknown> {
    const fn = (this.client as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[name]!;
    return guard(fn.call(this.client, key, ...args));
  }

  private owner(id: string): string {
    return this.k.passkeyOwner(sha256Hex(id));
  }

  async userHandle(jid: string, fresh: string): Promise<string> {
    const handle = await this.run('xoPasskeyHandle', this.k.passkeys(jid), [fresh]);
    return typeof handle === 'string' ? handle : fresh;
  }

  async add(record: PasskeyRecord, max: number): Promise<AddPasskeyResult> {
    // The index first: a credential id already held by another account is refused.
    const owner = this.owner(record.id);
    const claimed = await guard(this.client.set(owner, record.jid, 'NX'));
    if (claimed !== 'OK' && (await guard(this.client.get(owner))) !== record.jid) return 'exists';
    const { counter, name, lastUsedAt: _u, ...fixed } = record;
    const result = String(await this.run('xoPasskeyAdd', this.k.passkeys(record.jid), [record.id, JSON.stringify(fixed), counter, max, name]));
    if (result !== 'added' && claimed === 'OK') await this.run('xoPasskeyUnindex', owner, [record.jid]);
    return result === 'added' || result === 'limit' ? result : 'exists';
  }

  async list(jid: string): Promise<PasskeyRecord[]> {
    const fields = await guard(this.client.hgetall(this.k.passkeys(jid)));
    const out: PasskeyRecord[] = [];
    for (const [f, v] of Object.entries(fields)) {
      if (!f.startsWith('r:')) continue;
      const id = f.slice(2);
      const record = this.assemble(id, [v, fields[`n:${id}`], fields[`c:${id}`], fields[`u:${id}`], fields[`b:${id}`]]);
      if (record) out.push(record);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async find(id: string): Promise<PasskeyRecord | null> {
    const jid = await guard(this.client.get(this.owner(id)));
    if (!jid) return null;
    const fields = await guard(this.client.hmget(this.k.passkeys(jid), `r:${id}`, `n:${id}`, `c:${id}`, `u:${id}`, `b:${id}`));
    // A stale index entry (removal stopped half-way) finds nothing.
    const record = this.assemble(id, fields);
    return record && record.jid === jid ? record : null;
  }

  /** A record from its fields: JSON, name, counter, last use, backup flag. */
  private assemble(id: string, [json, name, counter, used, backedUp]: Array<string | null | undefined>): PasskeyRecord | null {
    const o = parseJson(json);
    if (!o) return null;
    const record = decodePasskey({ ...o, name: name ?? '', counter: Number(counter ?? 'NaN'), lastUsedAt: used ? Number(used) : undefined });
    if (!record || record.id !== id) return null;
    if (backedUp) record.backedUp = backedUp === '1';
    return record;
  }

  async rename(jid: string, id: string, name: string): Promise<boolean> {
    return Number(await this.run('xoPasskeyRename', this.k.passkeys(jid), [id, name])) === 1;
  }

  async remove(jid: string, id: string): Promise<boolean> {
    const removed = Number(await this.run('xoPasskeyRemove', this.k.passkeys(jid), [id])) > 0;
    // Always: an index left by an interrupted add or remove goes too.
    await this.run('xoPasskeyUnindex', this.owner(id), [jid]);
    return removed;
  }

  async removeAll(jid: string): Promise<void> {
    for (const p of await this.list(jid)) await this.run('xoPasskeyUnindex', this.owner(p.id), [jid]);
    await guard(this.client.del(this.k.passkeys(jid)));
  }

  async recordUse(jid: string, id: string, expected: number, next: number, at: number, backedUp?: boolean): Promise<boolean> {
    const flag = backedUp === undefined ? '' : backedUp ? '1' : '0';
    return Number(await this.run('xoPasskeyUse', this.k.passkeys(jid), [id, String(expected), String(next), String(at), flag])) === 1;
  }

  async saveChallenge(id: string, challenge: PasskeyChallenge, ttlMs: number): Promise<void> {
    await guard(this.client.set(this.k.passkeyChallenge(id), JSON.stringify(challenge), 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async takeChallenge(id: string): Promise<PasskeyChallenge | null> {
    return decodeChallenge(parseJson(await guard(this.client.getdel(this.k.passkeyChallenge(id)))));
  }
}
