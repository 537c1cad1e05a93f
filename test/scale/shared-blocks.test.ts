// Issue 16: the failed-client-auth budget is consulted before the secret is
// checked without a Redis round trip: instances announce the blocks their
// (atomic) counting runs into. Issue 12 #6 must still hold across instances:
// once a caller is throttled on B, the right secret gets 429 on A too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

// Long enough that a block set on B cannot end before A is asked, even on a loaded machine.
const WINDOW = 8;

describe('issue 16: announced throttle blocks on two instances', { timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    redis = await startRedis();
    const overrides = async () => ({
      issuer: 'http://auth.blocks.test',
      http: { host: '127.0.0.1', port: await freePort(), trust_proxy: true },
      token_throttle: { per_client: 100_000, failed_auth: 3, window: WINDOW },
    });
    a = await startServer(await overrides(), { redis: redis.url });
    b = await startServer(await overrides(), { redis: redis.url });
  });
  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  const token = (base: string, from: string, secret: string) =>
    fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': from,
        authorization: `Basic ${Buffer.from(`webapp:${secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }),
    }).then((r) => r.status);

  const blockedOn = (s: TestServer, from: string) => {
    const blocks = (s.app.store as unknown as { blocks: Map<string, Map<string, number>> }).blocks.get('client-auth-failed');
    return [...(blocks?.entries() ?? [])].some(([key, until]) => key.endsWith(`@${from}`) && until > Date.now());
  };

  it('issue 16 + 12 #6: throttled on B, the right secret is refused on A as well (peek from announced blocks)', async () => {
    // A trusts its copy of the blocks once it has heard the feed for a whole window.
    const trusted = (s: TestServer) => (s.app.store as unknown as { liveness: { heardFor(ms: number): boolean } }).liveness.heardFor(WINDOW * 1000 + 1000);
    await waitFor('A trusts announced blocks', () => trusted(a), { timeoutMs: 20_000 });
    for (let round = 0; round < 5; round++) {
      const from = `198.51.100.${round + 10}`;
      for (let i = 0; i < 3; i++) assert.equal(await token(b.url, from, 'wrong'), 401);
      // The budget is used up: B announced the block with the third failure, as a peek in Redis would say.
      assert.equal(await token(b.url, from, CLIENT_SECRET), 429, 'B refuses the right secret once the budget is used up');
      assert.equal(await token(b.url, from, 'wrong'), 429, 'B throttles the fourth guess');
      // The stated tolerance: a block holds on A once its announcement has arrived (one pub/sub delivery: well under 250 ms on a quiet machine; the bound allows a busy one).
      await waitFor('A has heard the block', () => blockedOn(a, from), { timeoutMs: 2000, intervalMs: 5 });
      assert.equal(await token(a.url, from, CLIENT_SECRET), 429, `round ${round}: the right secret on A must not reveal itself`);
      assert.equal(await token(a.url, from, 'wrong'), 429);
      // Another caller is not affected (the right secret reaches the grant check: 400 invalid_grant).
      assert.equal(await token(a.url, `203.0.113.${round + 10}`, CLIENT_SECRET), 400);
    }
    // Blocks end with the window.
    await waitFor('the block ends with the window', async () => (await token(a.url, '198.51.100.10', CLIENT_SECRET)) === 400, { timeoutMs: 30_000, intervalMs: 500 });
  });

  it('issue 16: the stated tolerance: guesses split over two instances before a flush are all checked, then both refuse', async () => {
    for (let round = 0; round < 3; round++) {
      const from = `192.0.2.${round + 10}`;
      // Two on each side within one flush interval: each instance alone is under the budget of 3.
      const first = await Promise.all([token(a.url, from, 'wrong'), token(a.url, from, 'wrong'), token(b.url, from, 'wrong'), token(b.url, from, 'wrong')]);
      assert.ok(first.every((s) => s === 401 || s === 429), String(first));
      // After the flushes (100 ms each), whichever instance learns the total of 4 announces the block to the other.
      await waitFor('both instances refuse the right secret', async () => (await token(a.url, from, CLIENT_SECRET)) === 429 && (await token(b.url, from, CLIENT_SECRET)) === 429, { timeoutMs: 2_000, intervalMs: 50 });
    }
  });
  it('issue 16 (review): a new instance asks Redis until it has heard the feed for a window, so a restart hands out no fresh budget', async () => {
    const from = '192.0.2.200';
    for (let i = 0; i < 3; i++) assert.equal(await token(b.url, from, 'wrong'), 401);
    // B's counts reach Redis at its next flush (100 ms).
    await new Promise((r) => setTimeout(r, 400));
    const c = await startServer({
      issuer: 'http://auth.blocks.test',
      http: { host: '127.0.0.1', port: await freePort(), trust_proxy: true },
      token_throttle: { per_client: 100_000, failed_auth: 3, window: WINDOW },
    }, { redis: redis.url });
    try {
      assert.equal(await token(c.url, from, CLIENT_SECRET), 429, 'the new instance refuses the right secret too');
      assert.equal(await token(c.url, '192.0.2.201', CLIENT_SECRET), 400, 'another caller is not affected');
    } finally {
      await c.stop();
    }
  });
});
