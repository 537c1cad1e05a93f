// The contract against a real redis-server, plus what only Redis has: key
// layout, corrupt records, stale index entries, script cache loss, outages.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createStore } from '../../src/store/index.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Grant, Store } from '../../src/store/types.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { storeContract } from './contract.js';

let server: RedisInstance;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server?.stop();
});

const prefix = () => `t${randomBytes(4).toString('hex')}:`;

/** A store under its own key prefix, so suites don't see each other's data. */
async function makeStore(keyPrefix = prefix()): Promise<{ store: RedisStore; client: Redis; cleanup(): Promise<void> }> {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  const store = new RedisStore(client, keyPrefix);
  return { store, client, cleanup: () => store.close() };
}

storeContract('redis', makeStore);

function grant(jid: string): Grant {
  const now = Date.now();
  return { id: randomBytes(9).toString('base64url'), jid, clientId: 'client', scope: ['openid'], createdAt: now, lastUsedAt: now };
}

describe('RedisStore specifics', () => {
  let store: RedisStore;
  let client: Redis;
  let p: string;
  before(async () => {
    p = prefix();
    ({ store, client } = await makeStore(p));
  });
  after(async () => {
    await store.close();
  });

  it('keeps a grant and its refresh tokens in one hash slot', async () => {
    const g = grant('slot@example.org');
    await store.saveGrant(g);
    await store.saveRefresh('d1', { grantId: g.id, clientId: 'client', jid: g.jid, scope: [], issuedAt: 0, expiresAt: Date.now() + 60_000 });
    const keys = await client.keys(`${p}*`);
    const tagged = keys.filter((k) => k.includes(`{g:${g.id}}`));
    assert.deepEqual(tagged.sort(), [`${p}{g:${g.id}}`, `${p}{g:${g.id}}:rt:d1`, `${p}{g:${g.id}}:rts`]);
    assert.ok(keys.includes(`${p}{u:slot@example.org}:grants`));
    assert.ok(keys.every((k) => k.startsWith(p)), 'everything under the prefix');
  });

  it('stores refresh tokens and codes with a TTL', async () => {
    const g = grant('ttl@example.org');
    await store.saveGrant(g);
    await store.saveRefresh('d2', { grantId: g.id, clientId: 'client', jid: g.jid, scope: [], issuedAt: 0, expiresAt: Date.now() + 60_000 });
    const rt = await client.pttl(`${p}{g:${g.id}}:rt:d2`);
    assert.ok(rt > 55_000 && rt <= 60_000, `pttl ${rt}`);
    await store.saveCode('c1', { grantId: g.id, clientId: 'client', jid: g.jid, redirectUri: 'x', scope: [], authTime: 0 }, 30);
    assert.equal((await store.consumeCode(g.id, 'c1')).status, 'ok');
    const tomb = await client.pttl(`${p}{g:${g.id}}:code:c1`);
    assert.ok(tomb > 590_000, `a consumed code stays as a tombstone (pttl ${tomb})`);
  });

  it('reads corrupt records as absent', async () => {
    const g = grant('corrupt@example.org');
    await client.hset(`${p}{g:${g.id}}`, 'data', '{not json', 'lastUsedAt', '1');
    assert.equal(await store.getGrant(g.id), null);
    await client.hset(`${p}{g:${g.id}}`, 'data', JSON.stringify({ ...g, scope: 'openid' }));
    assert.equal(await store.getGrant(g.id), null);
    await client.set(`${p}sess:s1`, '[1,2]');
    assert.equal(await store.getSession('s1'), null);
    await client.hset(`${p}{g:${g.id}}:rt:x`, 'data', 'null');
    assert.equal(await store.getRefresh(g.id, 'x'), null);
    await client.hset(`${p}{acct}:a:bad@example.org`, 'jid', 'bad@example.org');
    assert.equal(await store.getAccount('bad@example.org'), null);
    await client.hset(`${p}{g:${g.id}}:code:bad`, 'data', '"str"');
    assert.deepEqual(await store.consumeCode(g.id, 'bad'), { status: 'missing' });
    await client.hset(`${p}keys`, 'junk', '{}');
    assert.deepEqual(await store.listSigningKeys(), []);
  });

  it('cleans stale index entries left by a half-done revocation', async () => {
    const jid = 'stale@example.org';
    const g = grant(jid);
    await store.saveGrant(g);
    await client.del(`${p}{g:${g.id}}`); // as if the second (index) step never ran
    assert.equal(await store.findGrant(jid, 'client'), null);
    assert.equal(await client.hget(`${p}{u:${jid}}:clients`, 'client'), null);
    const g2 = grant(jid);
    await store.saveGrant({ ...g2, clientId: 'other' });
    await client.del(`${p}{g:${g2.id}}`);
    assert.deepEqual(await store.listGrants(jid), []);
    assert.deepEqual(await client.smembers(`${p}{u:${jid}}:grants`), []);
    assert.deepEqual(await client.hgetall(`${p}{u:${jid}}:clients`), {});
  });

  it('rotation prunes expired digests from the grant set', async () => {
    const g = grant('prune@example.org');
    await store.saveGrant(g);
    const base = { grantId: g.id, clientId: 'client', jid: g.jid, scope: [], issuedAt: 0 };
    await store.saveRefresh('short', { ...base, expiresAt: Date.now() + 50 });
    await store.saveRefresh('live', { ...base, expiresAt: Date.now() + 60_000 });
    await new Promise((r) => setTimeout(r, 120));
    await store.rotateRefresh(g.id, 'live', 'next', { ...base, expiresAt: Date.now() + 60_000 });
    assert.deepEqual((await client.zrange(`${p}{g:${g.id}}:rts`, 0, -1)).sort(), ['live', 'next']);
  });

  it('upgrades a refresh-token index left as a plain SET by an older version, in place', async () => {
    const g = grant('legacy@example.org');
    await store.saveGrant(g);
    const base = { grantId: g.id, clientId: 'client', jid: g.jid, scope: [], issuedAt: 0 };
    await store.saveRefresh('l1', { ...base, expiresAt: Date.now() + 60_000 });
    await store.saveRefresh('l2', { ...base, expiresAt: Date.now() + 60_000 });
    const index = `${p}{g:${g.id}}:rts`;
    await client.del(index);
    await client.sadd(index, 'l1', 'l2', 'gone');
    const rotated = await store.rotateRefresh(g.id, 'l1', 'l3', { ...base, expiresAt: Date.now() + 60_000 });
    assert.equal(rotated.status, 'ok');
    assert.equal(await client.type(index), 'zset');
    assert.deepEqual((await client.zrange(index, 0, -1)).sort(), ['l1', 'l2', 'l3'], 'live tokens kept, a vanished one dropped');
    const score = Number(await client.zscore(index, 'l2'));
    assert.ok(score > Date.now() + 50_000 && score <= Date.now() + 60_000, 'scored by the token TTL');

    // Revocation over a legacy SET still deletes every token.
    const g2 = grant('legacy2@example.org');
    await store.saveGrant(g2);
    await store.saveRefresh('m1', { ...base, grantId: g2.id, jid: g2.jid, expiresAt: Date.now() + 60_000 });
    const index2 = `${p}{g:${g2.id}}:rts`;
    await client.del(index2);
    await client.sadd(index2, 'm1');
    assert.equal(await store.revokeGrant(g2.id), true);
    assert.equal(await client.exists(`${p}{g:${g2.id}}:rt:m1`, index2, `${p}{g:${g2.id}}`), 0);
  });

  it('survives a flushed script cache (NOSCRIPT → EVAL)', async () => {
    await client.script('FLUSH');
    const g = grant('flush@example.org');
    await store.saveGrant(g);
    assert.equal(await store.revokeGrant(g.id), true);
  });
});

describe('createStore against an unavailable Redis', () => {
  let down: RedisInstance;
  let store: Store;
  before(async () => {
    down = await startRedis({ persist: true });
    store = createStore({ redisUrl: down.url, keyPrefix: prefix(), onError: () => {} });
  });
  after(async () => {
    await store?.close();
    await down?.stop();
  });

  it('works, fails fast while Redis is down, recovers by itself, data persisted', async () => {
    assert.equal(store.kind, 'redis');
    assert.equal(await store.createAccount({ jid: 'p@example.org', passwordHash: 'h', createdAt: 1 }), true);
    await down.restart();
    await new Promise((r) => setTimeout(r, 300));
    // After a restart (AOF on) the account is still there.
    assert.equal(await store.accountExists('p@example.org'), true);

    await down.kill();
    const t0 = Date.now();
    await assert.rejects(store.ping());
    assert.ok(Date.now() - t0 < 6000, `failed in ${Date.now() - t0} ms`);
    await assert.rejects(store.accountExists('p@example.org'));

    await down.restart();
    const deadline = Date.now() + 10_000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      ok = await store.ping().then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ok, 'reconnected in the background');
  });
});

describe('revocation news across a Redis outage (issue 14)', () => {
  let down: RedisInstance;
  let store: Store;
  let other: Store;
  before(async () => {
    down = await startRedis();
    const keyPrefix = prefix();
    store = createStore({ redisUrl: down.url, keyPrefix, onError: () => {} });
    other = createStore({ redisUrl: down.url, keyPrefix, onError: () => {} });
  });
  after(async () => {
    await store?.close();
    await other?.close();
    await down?.stop();
  });

  const waitFor = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 15_000;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('issue 14: another instance hears a revocation; after the feed reconnects the listener is told of the gap and hears news again', async () => {
    const heard: string[] = [];
    let gaps = 0;
    store.onRevocation((e) => heard.push(e.grantId), () => gaps++);
    await waitFor(() => gaps >= 1, 'the first subscription');

    await other.publishRevocation({ grantId: 'before', at: Date.now() });
    await waitFor(() => heard.includes('before'), 'news from the other instance');

    await down.restart();
    await waitFor(() => gaps >= 2, 'the gap after the outage');
    // The publisher reconnects on its own schedule: publishing is best effort, so repeat until heard.
    const deadline = Date.now() + 15_000;
    while (!heard.includes('after') && Date.now() < deadline) {
      await other.publishRevocation({ grantId: 'after', at: Date.now() });
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(heard.includes('after'), 'news after the outage');
  });
});

it('createStore without a URL gives the memory store', async () => {
  const s = createStore({});
  assert.equal(s.kind, 'memory');
  await s.close();
});
