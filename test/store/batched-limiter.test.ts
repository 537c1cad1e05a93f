// Issue 16: the per-client request budget is counted in process and flushed
// to Redis; on one instance it is exact, across instances each learns the
// others' counts at its next flush.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';

describe('issue 16: batched request budget (real Redis)', () => {
  let redis: RedisInstance;
  let ca: Redis;
  let cb: Redis;
  before(async () => {
    redis = await startRedis();
    ca = new Redis(redis.url);
    cb = new Redis(redis.url);
  });
  after(async () => {
    ca.disconnect();
    cb.disconnect();
    await redis.stop();
  });

  const rule = { name: 'budget16', points: 10, duration: 60, localFlushMs: 20 };
  const flushed = (ms = 120) => new Promise((r) => setTimeout(r, ms));

  it('issue 16: exact on one instance, no round trip per attempt', async () => {
    const a = new RedisStore(ca, 'b1:').rateLimiter(rule);
    const results = await Promise.all(Array.from({ length: 15 }, () => a.consume('k')));
    assert.equal(results.filter((r) => r.allowed).length, 10);
    const refused = results.find((r) => !r.allowed)!;
    assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 60_000);
    await flushed();
    const exact = new RedisStore(cb, 'b1:').rateLimiter({ name: rule.name, points: rule.points, duration: rule.duration });
    assert.equal((await exact.peek('k')).allowed, false, 'the flush put all ten points in the shared counter');
  });

  it('issue 16: two instances share the budget after a flush', async () => {
    const a = new RedisStore(ca, 'b2:').rateLimiter(rule);
    const b = new RedisStore(cb, 'b2:').rateLimiter(rule);
    for (let i = 0; i < 8; i++) assert.equal((await a.consume('k')).allowed, true);
    await flushed();
    // B's first attempt is counted locally and flushed; from then on it sees A's 8.
    assert.equal((await b.consume('k')).allowed, true);
    await flushed();
    assert.equal((await b.consume('k')).allowed, true, 'the 10th point');
    assert.equal((await b.consume('k')).allowed, false, 'A\'s eight and B\'s two use the budget up');
    // A still thinks 8 of 10 are used: it may admit one more (the stated tolerance), and its flush then reads back the total.
    await a.consume('k');
    await flushed();
    assert.equal((await a.consume('k')).allowed, false, 'A learns of B\'s points at its next flush');
  });
});

describe('issue 16: batched budget while a flush is on its way', () => {
  it('issue 16: points sent to Redis but not yet acknowledged still count', async () => {
    // A shared counter that answers only when told: the window in which the flush's answer is outstanding.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let total = 0;
    const slow = {
      penalty: async (_key: string, n: number) => {
        total += n;
        await gate;
        return { consumedPoints: total, msBeforeNext: 60_000 };
      },
    };
    const { BatchedLimiter } = await import('../../src/store/batched-limiter.js');
    const limiter = new BatchedLimiter(slow as never, 5, 60_000, 10);
    for (let i = 0; i < 5; i++) assert.equal((await limiter.consume('k')).allowed, true);
    await new Promise((r) => setTimeout(r, 50)); // the flush is sent, its answer held back
    assert.equal((await limiter.consume('k')).allowed, false, 'the five in flight are still counted');
    release();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await limiter.consume('k')).allowed, false);
  });
});
