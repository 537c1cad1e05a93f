// What recording security events costs (issue 26 #5): run with
//   node --import tsx bench/activity-record.ts
// on a throwaway redis-server. XMPP logins are coalesced (one per account,
// client and way of logging in per hour), so a busy client's logins should
// cost the caller microseconds and Redis nothing; other events one MULTI each.
import { Redis } from 'ioredis';
import { configureSecurityEvents, recordSecurityEvent, recordXmppLogin } from '../src/oauth/account-life/security-events.js';
import { createStore } from '../src/store/index.js';
import { startRedis } from '../test/helpers/redis.js';

const redis = await startRedis();
const store = createStore({ redisUrl: redis.url });
configureSecurityEvents(store, {});
const probe = new Redis(redis.url);
const calls = async (pattern: RegExp) =>
  (await probe.info('commandstats'))
    .split('\n')
    .filter((l) => pattern.test(l))
    .map((l) => l.replace(/^cmdstat_(\w+):calls=(\d+).*/, '$1 $2'))
    .join(', ');

await probe.config('RESETSTAT');
const logins = 10_000;
let t = performance.now();
for (let i = 0; i < logins; i++) recordXmppLogin({ store }, `u${i % 100}@example.org`, { via: 'token', mechanism: 'OAUTHBEARER', client: 'Dino', address: '192.0.2.1' });
const loginUs = ((performance.now() - t) / logins) * 1000;
await new Promise((r) => setTimeout(r, 500));
console.log(`${logins} XMPP logins of 100 accounts: ${loginUs.toFixed(2)} µs each at the caller; Redis: ${await calls(/^cmdstat_(evalsha|eval):/)}`);

await probe.config('RESETSTAT');
const events = 1_000;
t = performance.now();
await Promise.all(Array.from({ length: events }, (_, i) => recordSecurityEvent({ store }, `u${i % 10}@example.org`, { kind: 'app-revoked', client: 'Notes', by: 'account page' })));
console.log(`${events} other events, awaited together: ${((performance.now() - t) / events).toFixed(3)} ms each; Redis: ${await calls(/^cmdstat_(multi|exec):/)}`);
console.log(`kept per account: ${await probe.llen('xo:{u:u1@example.org}:activity')}`);

probe.disconnect();
await store.close();
await redis.stop();
