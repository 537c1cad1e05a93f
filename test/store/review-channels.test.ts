// Issue 22, item 12 (what operators tripped over): two deployments on one
// Redis, apart by database number but with the same key_prefix. Redis pub/sub
// ignores the database, so the channel names carry it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createStore, type Store } from '../../src/store/index.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('review #12: pub/sub news stays within its database', { timeout: 60_000 }, () => {
  let redis: RedisInstance;
  const stores: Store[] = [];
  const open = (db: number) => {
    const s = createStore({ redisUrl: `${redis.url}/${db}`, grantLivenessCache: true });
    stores.push(s);
    return s;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const s of stores) await s.close();
    await redis?.stop();
  });

  it("review #12: a revocation published in database 1 reaches the other instance on database 1, never one on database 2 (same key_prefix)", async () => {
    const [a1, b1, c2, d0, e0] = [open(1), open(1), open(2), open(0), open(0)];
    const heard = new Map<Store, string[]>();
    for (const s of [b1, c2, d0, e0]) {
      heard.set(s, []);
      s.onRevocation((e) => heard.get(s)!.push(e.grantId));
    }
    for (const s of stores) await s.ping();
    // Let every subscriber finish subscribing.
    await new Promise((r) => setTimeout(r, 300));
    await a1.publishRevocation({ grantId: 'in-db-1', at: Date.now() });
    await d0.publishRevocation({ grantId: 'in-db-0', at: Date.now() });
    await waitFor('database 1 news at its sibling', () => heard.get(b1)!.includes('in-db-1') || undefined);
    await waitFor('database 0 news at its sibling', () => heard.get(e0)!.includes('in-db-0') || undefined);
    // One more round through Redis, so late deliveries would have arrived.
    await c2.publishRevocation({ grantId: 'in-db-2', at: Date.now() });
    await waitFor('its own echo', () => heard.get(c2)!.includes('in-db-2') || undefined);
    assert.deepEqual(heard.get(c2), ['in-db-2'], 'database 2 heard only its own news');
    assert.ok(!heard.get(b1)!.includes('in-db-0') && !heard.get(e0)!.includes('in-db-1'), 'databases 0 and 1 apart');
  });
});
