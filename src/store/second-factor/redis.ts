import type { Cluster, Redis } from 'ioredis';
import type { RedisKeys } from '../redis-keys.js';
import { StoreUnavailableError, isConnectionError } from '../unavailable.js';
import type { PasswordLogins, SecondFactorRecord, SecondFactorStore, TotpFactor } from './types.js';

type Client = Redis | Cluster;

// The hash holds: created (the account's createdAt), totp (JSON), step (last
// TOTP time step used), pwl (password logins); recovery code digests are a set
// beside it, in the same slot. The scripts live here, with the only code that
// calls them.
const USE_STEP = `
if redis.call('hexists', KEYS[1], 'totp') == 0 then return 0 end
local last = tonumber(redis.call('hget', KEYS[1], 'step') or '-1')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('hset', KEYS[1], 'step', ARGV[1])
return 1`;

/** A write for another account than the stored one starts from nothing. */
const CLAIM = `
local created = redis.call('hget', KEYS[1], 'created')
if created and created ~= ARGV[1] then redis.call('del', KEYS[1], KEYS[2]) end
redis.call('hset', KEYS[1], 'created', ARGV[1])`;

const ENROL = `${CLAIM}
redis.call('hset', KEYS[1], 'totp', ARGV[2], 'step', '-1')
redis.call('del', KEYS[2])
for i = 3, #ARGV do redis.call('sadd', KEYS[2], ARGV[i]) end
return 1`;

/** New recovery codes; the TOTP factor and its last step stay as they are. */
const REPLACE_CODES = `
if redis.call('hget', KEYS[1], 'created') ~= ARGV[1] or redis.call('hexists', KEYS[1], 'totp') == 0 then return 0 end
redis.call('del', KEYS[2])
for i = 2, #ARGV do redis.call('sadd', KEYS[2], ARGV[i]) end
return 1`;

const SET_PWL = `${CLAIM}
redis.call('hset', KEYS[1], 'pwl', ARGV[2])
return 1`;

const REMOVE_TOTP = `
local had = redis.call('hdel', KEYS[1], 'totp')
redis.call('hdel', KEYS[1], 'step')
redis.call('del', KEYS[2])
return had`;

function guard<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    throw isConnectionError(err) ? new StoreUnavailableError(err) : err;
  });
}

function passwordLogins(v: string | null | undefined): PasswordLogins | undefined {
  return v === 'anywhere' || v === 'app_passwords_only' ? v : undefined;
}

export class RedisSecondFactorStore implements SecondFactorStore {
  constructor(
    private readonly client: Client,
    private readonly k: RedisKeys,
  ) {}

  private keys(jid: string): [string, string] {
    const key = this.k.secondFactors(jid);
    return [key, `${key}:rc`];
  }

  private script(lua: string, jid: string, args: (string | number)[]): Promise<unknown> {
    return guard(this.client.eval(lua, 2, ...this.keys(jid), ...args.map(String)));
  }

  async get(jid: string): Promise<SecondFactorRecord | null> {
    const [key, rc] = this.keys(jid);
    const [h, left] = await guard(Promise.all([this.client.hgetall(key), this.client.scard(rc)]));
    if (!h.created) return null;
    let totp: TotpFactor | undefined;
    try {
      totp = h.totp ? (JSON.parse(h.totp) as TotpFactor) : undefined;
    } catch {
      totp = undefined;
    }
    return { accountCreatedAt: Number(h.created), totp, recoveryCodesLeft: left, passwordLogins: passwordLogins(h.pwl) };
  }

  async passwordLogins(jid: string): Promise<Pick<SecondFactorRecord, 'accountCreatedAt' | 'passwordLogins'> | null> {
    const [created, pwl] = await guard(this.client.hmget(this.keys(jid)[0], 'created', 'pwl'));
    return created ? { accountCreatedAt: Number(created), passwordLogins: passwordLogins(pwl) } : null;
  }

  async enrolTotp(jid: string, accountCreatedAt: number, totp: TotpFactor, recoveryDigests: string[]): Promise<void> {
    await this.script(ENROL, jid, [accountCreatedAt, JSON.stringify(totp), ...recoveryDigests]);
  }

  async replaceRecoveryCodes(jid: string, accountCreatedAt: number, recoveryDigests: string[]): Promise<boolean> {
    return (await this.script(REPLACE_CODES, jid, [accountCreatedAt, ...recoveryDigests])) === 1;
  }

  async removeTotp(jid: string): Promise<boolean> {
    return (await this.script(REMOVE_TOTP, jid, [])) === 1;
  }

  async useTotpStep(jid: string, step: number): Promise<boolean> {
    return (await this.script(USE_STEP, jid, [step])) === 1;
  }

  async useRecoveryCode(jid: string, digest: string): Promise<boolean> {
    return (await guard(this.client.srem(this.keys(jid)[1], digest))) === 1;
  }

  async setPasswordLogins(jid: string, accountCreatedAt: number, value: PasswordLogins): Promise<void> {
    await this.script(SET_PWL, jid, [accountCreatedAt, value]);
  }

  async forget(jid: string): Promise<void> {
    await guard(this.client.del(...this.keys(jid)));
  }
}
