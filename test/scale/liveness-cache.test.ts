// Issue 16 acceptance: grant liveness is held in process and invalidated by
// the revocation feed (Redis pub/sub). Two servers on one real Redis; a grant
// revoked on B must be inactive on A at the very next request, and a killed
// feed connection on A must never let a stale "active" through.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { revokeAllGrantsOf } from '../../src/oauth/grants/grant-management.js';
import { rotateKeys } from '../../src/oauth/tokens/keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const ROUNDS = 30;
const PASSWORD = 'liveness test password, long enough';
const basic = `Basic ${Buffer.from(`webapp:${CLIENT_SECRET}`).toString('base64')}`;

async function post(base: string, path: string, body: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    body: new URLSearchParams(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

const active = async (base: string, token: string) => {
  const r = await post(base, '/oauth2/introspect', { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.active === true;
};

describe('issue 16: grant liveness cache on two instances', { timeout: 180_000 }, () => {
  let redis: RedisInstance;
  let a: TestServer;
  let b: TestServer;
  let admin: Redis;

  before(async () => {
    redis = await startRedis();
    const overrides = {
      // One issuer for both, as behind a load balancer: each verifies the other's tokens.
      issuer: 'http://auth.liveness.test',
      allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
      login_throttle: { per_account: 1_000_000, per_address: 1_000_000, window: 60 },
      clients: [
        {
          id: 'webapp',
          name: 'Test Web App',
          secret_hash: `sha256:${createHash('sha256').update(CLIENT_SECRET).digest('hex')}`,
          redirect_uris: ['https://app.example/cb'],
          grant_types: ['authorization_code', 'refresh_token', 'password'],
        },
      ],
    };
    a = await startServer(overrides, { redis: redis.url });
    b = await startServer(overrides, { redis: redis.url });
    await a.app.accounts.create('alice@localhost', PASSWORD);
    admin = new Redis(redis.url);
  });
  after(async () => {
    admin?.disconnect();
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  const newTokens = async () => {
    const r = await post(b.url, '/oauth2/token', { grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid offline_access xmpp' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { access_token: string; refresh_token: string };
  };
  const cacheOf = (s: TestServer) => (s.app.store as unknown as { liveness?: { size: number } }).liveness;

  it(`issue 16: a grant revoked on B is inactive on A at the very next introspection (${ROUNDS} rounds)`, async () => {
    await waitFor('A caches liveness once its feed is up', async () => (await active(a.url, (await newTokens()).access_token)) && cacheOf(a)!.size > 0);
    for (let round = 0; round < ROUNDS; round++) {
      const tokens = await newTokens();
      // Twice on A: the second answer comes from A's cache.
      assert.equal(await active(a.url, tokens.access_token), true, `round ${round}: live before`);
      assert.equal(await active(a.url, tokens.access_token), true, `round ${round}: live before (cached)`);
      const r = await post(b.url, '/oauth2/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' });
      assert.equal(r.status, 200);
      assert.equal(await active(a.url, tokens.access_token), false, `round ${round}: A still said active after B revoked`);
      assert.equal(await active(b.url, tokens.access_token), false, `round ${round}: B itself`);
    }
  });

  it('issue 16: with its feed connection killed, A gives no stale "active" answer, and caches again once it is back', async () => {
    for (let round = 0; round < 10; round++) {
      // Both feeds back from the previous round's kill, and A's cache in use.
      const tokens = await newTokens();
      await waitFor('both feeds subscribed', async () => String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).trim().split('\n').length >= 2);
      await waitFor('A caches', async () => (await active(a.url, tokens.access_token)) && cacheOf(a)!.size > 0);
      assert.equal(await active(a.url, tokens.access_token), true);
      // Every pub/sub connection on this Redis: A's feed with it.
      const killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      assert.ok(Number(killed) >= 1, 'a subscriber was killed');
      const r = await post(b.url, '/oauth2/revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token' });
      assert.equal(r.status, 200);
      assert.equal(await active(a.url, tokens.access_token), false, `round ${round}: stale active on A after its feed was killed`);
    }
    // The feed reconnects (ioredis) and A trusts it again.
    const tokens = await newTokens();
    await waitFor('A caches again after the feed is back', async () => (await active(a.url, tokens.access_token)) && cacheOf(a)!.size > 0);
  });

  it('issue 16 + 12 #1: an account removed on B (its grants not yet revoked) makes its cached tokens inactive on A at once', async () => {
    for (let round = 0; round < 10; round++) {
      const tokens = await newTokens();
      await waitFor('A caches the account check', async () => (await active(a.url, tokens.access_token)) && cacheOf(a)!.size > 0);
      assert.equal(await active(a.url, tokens.access_token), true);
      // The store step alone, as when a removal is interrupted before its grants are revoked.
      assert.equal(await b.app.store.removeAccount('alice@localhost'), true);
      // Account news empties A's copy when it arrives (one pub/sub delivery; a real removal also revokes every grant, tested above).
      await waitFor('A hears the account news', () => cacheOf(a)!.size === 0, { timeoutMs: 1000, intervalMs: 5 });
      assert.equal(await active(a.url, tokens.access_token), false, `round ${round}: A still said active after B removed the account`);
      // The JID's next owner does not inherit the grant either.
      await b.app.accounts.create('alice@localhost', PASSWORD);
      assert.equal(await active(a.url, tokens.access_token), false, `round ${round}: the re-created account inherited a grant`);
      // What the core's account creation does first; the next round starts with a new grant.
      await revokeAllGrantsOf(b.app.core, 'alice@localhost', 'test');
    }
  });

  it('issue 16: the one-step refresh: an account disabled on B takes A back to the long way, which refuses without using the token up', async () => {
    const tokens = await newTokens();
    const grantId = tokens.refresh_token.slice(0, tokens.refresh_token.indexOf('.'));
    const refresh = (base: string, token: string) => post(base, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: token });
    let current = tokens.refresh_token;
    await waitFor('A knows the account of the grant', async () => {
      const r = await refresh(a.url, current);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      current = r.body.refresh_token as string;
      return a.app.store.knownAccountOfGrant(grantId) !== null;
    });
    const fast = await refresh(a.url, current);
    assert.equal(fast.status, 200, 'the one-step refresh');
    current = fast.body.refresh_token as string;
    assert.equal(await active(a.url, fast.body.access_token as string), true);
    // The store step alone, as if the revocation of its grants that disabling makes were interrupted.
    assert.equal(await b.app.store.setAccountDisabled('alice@localhost', true), true);
    await waitFor('A hears the account news', () => a.app.store.knownAccountOfGrant(grantId) === null, { timeoutMs: 1000, intervalMs: 5 });
    const refused = await refresh(a.url, current);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    await b.app.store.setAccountDisabled('alice@localhost', false);
    const again = await refresh(a.url, current);
    assert.equal(again.status, 200, 'the refused refresh did not use the token up');
  });

  it('issue 16: after a key rotation on B, tokens signed with the new key are active on A at the first introspection', async () => {
    const before = (await newTokens()).access_token;
    const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    await rotateKeys(b.app.store, 'ES256', 0, 3600);
    await b.app.keys.reload();
    const after = (await newTokens()).access_token;
    assert.notEqual(kidOf(after), kidOf(before), 'B signs with the new key');
    assert.equal(await active(a.url, after), true, 'A knows the new key at once');
    assert.equal(await active(a.url, before), true, 'the retired key still verifies what it signed');
  });

  it('issue 16: an ended grant is known for good: revoking or checking it again needs no Redis (unit, real Redis)', async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const store = new RedisStore(client, 'unit16e:', { grantLivenessCache: true });
    try {
      await waitFor('connected', () => client.status === 'ready');
      const now = Date.now();
      await store.createAccount({ jid: 'y@localhost', passwordHash: 'x', createdAt: now - 1000 });
      await store.saveGrant({ id: 'g2', jid: 'y@localhost', clientId: 'c', scope: ['xmpp'], createdAt: now, lastUsedAt: now });
      assert.ok(await store.tokenGrant('g2', 'y@localhost'));
      assert.equal(await store.revokeGrant('g2'), true);
      // Redis out of reach from here on: any command would fail at once.
      client.disconnect();
      assert.equal(await store.revokeGrant('g2'), false, 'a second revocation is answered from memory');
      assert.equal(await store.grantExists('g2'), false);
      assert.equal(await store.grantExists('g2', { fresh: true }), false);
      assert.equal(await store.tokenGrant('g2', 'y@localhost'), null);
      await assert.rejects(store.grantExists('never-seen'), 'a grant not known to be gone still needs Redis');
    } finally {
      await store.close();
    }
  });

  it('issue 16: a feed that stops answering its pings is not trusted (unit, real Redis)', async () => {
    const client = new Redis(redis.url);
    const store = new RedisStore(client, 'unit16:', { grantLivenessCache: true });
    const live = (store as unknown as { liveness: { size: number; pong(at: number): void; has(id: string): boolean } }).liveness;
    try {
      await store.saveGrant({ id: 'g1', jid: 'x@localhost', clientId: 'c', scope: ['xmpp'], createdAt: Date.now(), lastUsedAt: Date.now() });
      await waitFor('cached once subscribed', async () => (await store.grantExists('g1')) && live.size === 1);
      // Pretend the last PONG is old: the next lookup empties the cache and asks Redis.
      (live as unknown as { lastPong: number }).lastPong = Date.now() - 10_000;
      assert.equal(live.has('g1'), false);
      assert.equal(live.size, 0);
      await client.del('unit16:{g:g1}');
      assert.equal(await store.grantExists('g1'), false, 'answered by Redis, not a stale copy');
    } finally {
      await store.close();
    }
  });
});
