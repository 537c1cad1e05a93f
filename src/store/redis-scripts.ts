// Lua for every Redis operation that reads then writes, or touches several
// keys: each runs atomically in one round trip. All keys a script touches share
// one hash tag (see redis-keys.ts); keys a script derives itself (refresh
// tokens listed in a grant's set) are built from a prefix in that same slot.
//
// Scripts never re-encode JSON (cjson would turn [] into {}): mutable fields
// live in hash fields next to an immutable JSON `data` field.
// In Lua, a missing value from HGET/HMGET/GET is `false`.

export interface ScriptDef {
  keys: number;
  lua: string;
}

// Lua shared by the scripts that touch a grant's refresh tokens. The index
// was a plain SET before it became a sorted set scored by expiry: zindex
// converts a SET left by an older version in place (scores from the tokens'
// own TTLs), so an upgrade, even a rolling one, needs no migration step
// (arguments: index key, token prefix, now). cap bounds the index; replayed
// is what presenting a used token does to its grant.
const ZINDEX = `
-- a used refresh token presented again: revoke the whole grant, every token issued under it included
local function replayed(grant, oldToken, index, prefix)
  local g = redis.call('hget', grant, 'data')
  for _, d in ipairs(redis.call('zrange', index, 0, -1)) do redis.call('del', prefix .. d) end
  redis.call('del', grant, oldToken, index)
  return {'replayed', g or ''}
end
-- keep at most \`cap\` tokens in a grant's index: forget those expiring first
local function cap(k, prefix, max)
  local over = redis.call('zcard', k) - tonumber(max)
  if over <= 0 then return end
  for _, d in ipairs(redis.call('zrange', k, 0, over - 1)) do redis.call('del', prefix .. d) end
  redis.call('zremrangebyrank', k, 0, over - 1)
end
local function zindex(k, prefix, now)
  if redis.call('type', k).ok ~= 'set' then return end
  local members = redis.call('smembers', k)
  redis.call('del', k)
  for _, d in ipairs(members) do
    local ttl = redis.call('pttl', prefix .. d)
    if ttl > 0 then redis.call('zadd', k, tonumber(now) + ttl, d)
    elseif ttl == -1 then redis.call('zadd', k, '+inf', d) end
  end
end
`;

export const scripts = {
  // KEYS: account, accountList  ARGV: jid, passwordHash, createdAt, epoch ('' for none), scram JSON ('' for none)
  xoCreateAccount: {
    keys: 2,
    lua: `
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'jid', ARGV[1], 'passwordHash', ARGV[2], 'createdAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('hset', KEYS[1], 'epoch', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('hset', KEYS[1], 'scram', ARGV[5]) end
redis.call('sadd', KEYS[2], ARGV[1])
return 1`,
  },

  // KEYS: account  ARGV: passwordHash, new epoch (ends the account's login sessions), scram JSON ('' for none)
  xoSetPassword: {
    keys: 1,
    lua: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'passwordHash', ARGV[1], 'epoch', ARGV[2])
if ARGV[3] ~= '' then redis.call('hset', KEYS[1], 'scram', ARGV[3]) else redis.call('hdel', KEYS[1], 'scram') end
return 1`,
  },

  // KEYS: account  ARGV: expected passwordHash, expected scram JSON, new passwordHash, new scram JSON
  // Compare-and-set: a password change between the check and this write wins.
  xoUpgradeCredentials: {
    keys: 1,
    lua: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
local h = redis.call('hmget', KEYS[1], 'passwordHash', 'scram')
if (h[1] or '') ~= ARGV[1] or (h[2] or '') ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[1], 'passwordHash', ARGV[3])
if ARGV[4] ~= '' then redis.call('hset', KEYS[1], 'scram', ARGV[4]) else redis.call('hdel', KEYS[1], 'scram') end
return 1`,
  },

  // KEYS: account  ARGV: new epoch
  xoRenewEpoch: {
    keys: 1,
    lua: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'epoch', ARGV[1])
return 1`,
  },

  // KEYS: account, accountList, subject index of its upstream identity  ARGV: jid
  xoRemoveAccount: {
    keys: 3,
    lua: `
local n = redis.call('del', KEYS[1])
redis.call('srem', KEYS[2], ARGV[1])
if redis.call('get', KEYS[3]) == ARGV[1] then redis.call('del', KEYS[3]) end
return n`,
  },

  // KEYS: account  ARGV: '1' to disable, '0' to enable
  xoSetDisabled: {
    keys: 1,
    lua: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' then redis.call('hset', KEYS[1], 'disabled', '1') else redis.call('hdel', KEYS[1], 'disabled') end
return 1`,
  },

  // KEYS: account, accountList, subject  ARGV: jid, createdAt, upstream JSON, lastLoginAt
  // The subject is claimed with the account, so two first sign-ins of one
  // person (two tabs) cannot create two accounts.
  xoCreateUpstreamAccount: {
    keys: 3,
    lua: `
if redis.call('exists', KEYS[3]) == 1 then return 'subject-taken' end
if redis.call('exists', KEYS[1]) == 1 then return 'jid-taken' end
redis.call('hset', KEYS[1], 'jid', ARGV[1], 'passwordHash', '', 'createdAt', ARGV[2], 'upstream', ARGV[3], 'upstreamLoginAt', ARGV[4])
redis.call('sadd', KEYS[2], ARGV[1])
redis.call('set', KEYS[3], ARGV[1])
return 'created'`,
  },

  // KEYS: account, subject  ARGV: jid, upstream JSON, lastLoginAt
  xoLinkUpstream: {
    keys: 2,
    lua: `
if redis.call('exists', KEYS[1]) == 0 or redis.call('hexists', KEYS[1], 'upstream') == 1 then return 0 end
if redis.call('exists', KEYS[2]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'upstream', ARGV[2], 'upstreamLoginAt', ARGV[3])
redis.call('set', KEYS[2], ARGV[1])
return 1`,
  },

  // KEYS: account — a bound account's upstream sign-in is forgotten (back-channel logout)
  xoForgetUpstream: {
    keys: 1,
    lua: `
if redis.call('hexists', KEYS[1], 'upstream') == 0 then return 0 end
redis.call('hset', KEYS[1], 'upstreamLoginAt', '0')
return 1`,
  },

  // KEYS: account  ARGV: at — only forwards, and only for a bound account
  xoTouchUpstream: {
    keys: 1,
    lua: `
if redis.call('hexists', KEYS[1], 'upstream') == 0 then return 0 end
local cur = tonumber(redis.call('hget', KEYS[1], 'upstreamLoginAt') or '0')
if tonumber(ARGV[1]) > cur then redis.call('hset', KEYS[1], 'upstreamLoginAt', ARGV[1]) end
return 1`,
  },

  // KEYS: keys hash  ARGV: kid, json — racing first starts: only the first key stays
  xoInitKeys: {
    keys: 1,
    lua: `
if redis.call('hlen', KEYS[1]) == 0 then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end
return redis.call('hvals', KEYS[1])`,
  },

  // KEYS: keys hash  ARGV: kid, json — never resurrects a removed key
  xoUpdateKey: {
    keys: 1,
    lua: `
if redis.call('hexists', KEYS[1], ARGV[1]) == 1 then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end
return 1`,
  },

  // KEYS: userGrants, userClients  ARGV: grantId, clientId
  xoIndexGrant: {
    keys: 2,
    lua: `
redis.call('sadd', KEYS[1], ARGV[1])
redis.call('hset', KEYS[2], ARGV[2], ARGV[1])
return 1`,
  },

  // KEYS: userGrants, userClients  ARGV: grantIds...
  // Drops the ids from the set and any clientId entry still pointing at them
  // (an entry replaced by a newer grant for the same client is kept).
  xoUnindexGrants: {
    keys: 2,
    lua: `
local gone = {}
for i = 1, #ARGV do
  gone[ARGV[i]] = true
  redis.call('srem', KEYS[1], ARGV[i])
end
local h = redis.call('hgetall', KEYS[2])
for i = 1, #h, 2 do
  if gone[h[i + 1]] then redis.call('hdel', KEYS[2], h[i]) end
end
return 1`,
  },

  // KEYS: grant  ARGV: data, lastUsedAt — only while the grant exists (no resurrection)
  xoUpdateGrant: {
    keys: 1,
    lua: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'data', ARGV[1], 'lastUsedAt', ARGV[2])
return 1`,
  },

  // KEYS: grant  ARGV: at, userAgent JSON or '' — only moves forward, never recreates a revoked grant
  xoTouchGrant: {
    keys: 1,
    lua: `
local cur = redis.call('hget', KEYS[1], 'lastUsedAt')
if not cur then return 0 end
if (tonumber(cur) or 0) < tonumber(ARGV[1]) then
  redis.call('hset', KEYS[1], 'lastUsedAt', ARGV[1])
  if ARGV[2] and ARGV[2] ~= '' then redis.call('hset', KEYS[1], 'userAgent', ARGV[2]) end
end
return 1`,
  },

  // KEYS: grant, refreshSet  ARGV: refreshPrefix
  // Returns {existed, grant data or ''} so the caller can unindex it.
  xoRevokeGrant: {
    keys: 2,
    lua: `
${ZINDEX}
zindex(KEYS[2], ARGV[1], 0)
local existed = redis.call('exists', KEYS[1])
local data = redis.call('hget', KEYS[1], 'data')
for _, d in ipairs(redis.call('zrange', KEYS[2], 0, -1)) do redis.call('del', ARGV[1] .. d) end
redis.call('del', KEYS[1], KEYS[2])
return {existed, data or ''}`,
  },

  // KEYS: code  ARGV: data, expiresAt, ttlMs
  xoSaveCode: {
    keys: 1,
    lua: `
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], 'data', ARGV[1], 'exp', ARGV[2], 'ttl', ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[3])
return 1`,
  },

  // KEYS: code, grant  ARGV: minimum tombstone ms
  // The first call marks the code used and keeps it as a tombstone (at least
  // its original TTL) so that a replay is recognised and its grant revoked.
  // The grant is checked here, atomically: a winner must not depend on a
  // later read that a concurrent replay (revoking the grant) can beat.
  xoConsumeCode: {
    keys: 2,
    lua: `
local r = redis.call('hmget', KEYS[1], 'data', 'exp', 'ttl', 'used')
if not r[1] then return {'missing'} end
if r[4] then return {'replayed', r[1], r[2] or ''} end
redis.call('hset', KEYS[1], 'used', '1')
local keep = math.max(tonumber(r[3]) or 0, tonumber(ARGV[1]))
redis.call('pexpire', KEYS[1], string.format('%d', keep))
if redis.call('exists', KEYS[2]) == 0 then return {'revoked', r[1], r[2] or ''} end
return {'ok', r[1], r[2] or ''}`,
  },

  // KEYS: grant, token, refreshSet  ARGV: data, ttlMs, digest, expiresAt, refreshPrefix, now, max tokens
  // A token for a grant revoked meanwhile is not stored (it would be an orphan).
  // The grant's index is a sorted set scored by expiry, so pruning is one
  // range removal instead of a walk over every digest.
  xoSaveRefresh: {
    keys: 3,
    lua: `
${ZINDEX}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
zindex(KEYS[3], ARGV[5], ARGV[6])
redis.call('del', KEYS[2])
redis.call('hset', KEYS[2], 'data', ARGV[1])
redis.call('pexpire', KEYS[2], ARGV[2])
redis.call('zremrangebyscore', KEYS[3], '-inf', ARGV[6])
redis.call('zadd', KEYS[3], ARGV[4], ARGV[3])
cap(KEYS[3], ARGV[5], ARGV[7])
return 1`,
  },

  // KEYS: grant, oldToken, newToken, refreshSet
  // ARGV: now, newData, newTtlMs, newDigest, refreshPrefix, max tokens
  xoRotateRefresh: {
    keys: 4,
    lua: `
${ZINDEX}
zindex(KEYS[4], ARGV[5], ARGV[1])
local old = redis.call('hmget', KEYS[2], 'data', 'rotatedAt')
if not old[1] then return {'missing'} end
if redis.call('exists', KEYS[1]) == 0 then return {'missing'} end
if old[2] then return replayed(KEYS[1], KEYS[2], KEYS[4], ARGV[5]) end
-- mark used; the key keeps its TTL, so it is remembered until it would have expired
redis.call('hset', KEYS[2], 'rotatedAt', ARGV[1])
-- forget digests whose tokens have expired (their keys are gone by TTL)
redis.call('zremrangebyscore', KEYS[4], '-inf', ARGV[1])
redis.call('del', KEYS[3])
redis.call('hset', KEYS[3], 'data', ARGV[2])
redis.call('pexpire', KEYS[3], ARGV[3])
redis.call('zadd', KEYS[4], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[4])
cap(KEYS[4], ARGV[5], ARGV[6])
-- the grant was used now (the account page's "last used"), in the same round trip
local last = redis.call('hget', KEYS[1], 'lastUsedAt')
if (tonumber(last) or 0) < tonumber(ARGV[1]) then redis.call('hset', KEYS[1], 'lastUsedAt', ARGV[1]) end
return {'ok', old[1]}`,
  },

  // The refresh of the common case in one round trip (issue 16): the checks a
  // refresh makes of the token itself (its client, its expiry) happen here, so
  // nothing needs to be read first. The successor is the old token's record
  // with the new lifetime, written as ordinary JSON (any reader, older
  // versions included, reads it as it reads every other token). A record
  // cjson cannot write back faithfully (an empty scope would become an
  // object) is left to the long way.
  // KEYS: grant, old token, new token, grant's index
  // ARGV: now, clientId, issuedAt, expiresAt, ttlMs, newDigest, token prefix, max tokens
  xoRotateRefreshAs: {
    keys: 4,
    lua: `
${ZINDEX}
zindex(KEYS[4], ARGV[7], ARGV[1])
local old = redis.call('hmget', KEYS[2], 'data', 'rotatedAt')
if not old[1] then return {'missing'} end
if redis.call('exists', KEYS[1]) == 0 then return {'missing'} end
local ok, t = pcall(cjson.decode, old[1])
if not ok or type(t) ~= 'table' then return {'missing'} end
if t.clientId ~= ARGV[2] then return {'other-client'} end
if (tonumber(t.expiresAt) or 0) <= tonumber(ARGV[1]) then return {'missing'} end
if type(t.scope) ~= 'table' or #t.scope == 0 then return {'long-way'} end
if old[2] then return replayed(KEYS[1], KEYS[2], KEYS[4], ARGV[7]) end
redis.call('hset', KEYS[2], 'rotatedAt', ARGV[1])
redis.call('zremrangebyscore', KEYS[4], '-inf', ARGV[1])
redis.call('del', KEYS[3])
t.rotatedAt = nil
t.issuedAt = tonumber(ARGV[3])
t.expiresAt = tonumber(ARGV[4])
redis.call('hset', KEYS[3], 'data', cjson.encode(t))
redis.call('pexpire', KEYS[3], ARGV[5])
redis.call('zadd', KEYS[4], tonumber(ARGV[1]) + tonumber(ARGV[5]), ARGV[6])
cap(KEYS[4], ARGV[7], ARGV[8])
local last = redis.call('hget', KEYS[1], 'lastUsedAt')
if (tonumber(last) or 0) < tonumber(ARGV[1]) then redis.call('hset', KEYS[1], 'lastUsedAt', ARGV[1]) end
return {'ok', old[1]}`,
  },

  // KEYS: device  ARGV: ttlMs, field, value, field, value...
  xoSaveDevice: {
    keys: 1,
    lua: `
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], unpack(ARGV, 2))
redis.call('pexpire', KEYS[1], ARGV[1])
return 1`,
  },

  // KEYS: device  ARGV: userCode, now, status, jid, grantId, authTime
  xoDecideDevice: {
    keys: 1,
    lua: `
local r = redis.call('hmget', KEYS[1], 'status', 'userCode', 'expiresAt')
if r[1] ~= 'pending' or r[2] ~= ARGV[1] then return 0 end
if (tonumber(r[3]) or 0) <= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == 'approved' then
  redis.call('hset', KEYS[1], 'status', 'approved', 'jid', ARGV[4], 'grantId', ARGV[5], 'authTime', ARGV[6])
  if ARGV[7] and ARGV[7] ~= '' then redis.call('hset', KEYS[1], 'amr', ARGV[7]) end
else
  redis.call('hset', KEYS[1], 'status', 'denied')
end
return 1`,
  },

  // KEYS: device  ARGV: digest, now, clientId
  // Decided grants are answered once and deleted; the caller then deletes the
  // user-code key (another slot). slow_down only applies while pending.
  // A poll by another client changes nothing (records written before the
  // clientId field existed are checked by the caller, as before).
  xoPollDevice: {
    keys: 1,
    lua: `
local r = redis.call('hmget', KEYS[1], 'digest', 'status', 'interval', 'lastPollAt', 'expiresAt', 'userCode', 'clientId')
if not r[1] or r[1] ~= ARGV[1] then return {'missing'} end
if r[7] and r[7] ~= ARGV[3] then return {'wrong_client'} end
local now = tonumber(ARGV[2])
if (tonumber(r[5]) or 0) <= now then return {'missing'} end
if r[2] == 'approved' then
  local out = redis.call('hgetall', KEYS[1])
  redis.call('del', KEYS[1])
  table.insert(out, 1, 'approved')
  return out
end
if r[2] == 'denied' then
  redis.call('del', KEYS[1])
  return {'denied', r[6] or ''}
end
if r[2] ~= 'pending' then return {'missing'} end
local interval = tonumber(r[3]) or 5
local last = tonumber(r[4]) or 0
if last > 0 and now - last < interval * 1000 then
  interval = interval + 5
  redis.call('hset', KEYS[1], 'interval', tostring(interval))
  return {'slow_down', tostring(interval)}
end
redis.call('hset', KEYS[1], 'lastPollAt', ARGV[2])
return {'pending', tostring(interval)}`,
  },

  // KEYS: key  ARGV: value — delete only if it still holds our value
  xoDelIfEquals: {
    keys: 1,
    lua: `
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`,
  },
} satisfies Record<string, ScriptDef>;

export type ScriptName = keyof typeof scripts;
