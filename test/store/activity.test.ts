// The activity log (issue 26 #5) and the notice queue (#4): the same checks
// on the memory store and a real redis-server, and the core's recorder on
// the memory store (bounded, newest first, coalesced XMPP logins, nothing secret).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryActivityLog } from '../../src/store/activity/memory.js';
import { RedisActivityLog } from '../../src/store/activity/redis.js';
import type { ActivityEntry, ActivityLog } from '../../src/store/activity/types.js';
import { MemoryStore } from '../../src/store/memory.js';
import {
  configureSecurityEvents,
  recordSecurityEvent,
  recordXmppLogin,
  securityEventsOf,
  wantsNotices,
  withEventContext,
} from '../../src/oauth/account-life/security-events.js';
import { describeEvent, noticeBody } from '../../src/oauth/account-life/security-event-text.js';
import { useRedisClient } from '../helpers/redis.js';

const entry = (n: number): ActivityEntry => ({ kind: 'app-approved', at: 1_700_000_000_000 + n, client: `App ${n}`, scope: ['openid'] });
const limits = { max: 100, ttlSeconds: 3600 };

function contract(name: string, make: () => ActivityLog, ttlOf?: (jid: string) => Promise<number>) {
  describe(`issue 26: activity log (${name})`, () => {
    it('issue 26: keeps the newest 100 of 130, newest first, and renews the TTL', async () => {
      const log = make();
      const jid = `bounded-${name}@example.org`;
      for (let i = 0; i < 130; i++) await log.append(jid, entry(i), limits);
      const all = await log.list(jid, 1000);
      assert.equal(all.length, 100);
      assert.equal(all[0]!.client, 'App 129');
      assert.equal(all[99]!.client, 'App 30');
      assert.deepEqual(await log.list(jid, 10), all.slice(0, 10));
      assert.deepEqual(await log.list('nobody@example.org', 10), []);
      if (ttlOf) {
        const ttl = await ttlOf(jid);
        assert.ok(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`);
      }
      await log.forget(jid);
      assert.deepEqual(await log.list(jid, 10), []);
    });

    it('issue 26: a coalesced entry is written once per window and key', async () => {
      const log = make();
      const jid = `coalesce-${name}@example.org`;
      const login: ActivityEntry = { kind: 'xmpp-login', at: Date.now(), method: 'PLAIN' };
      const once = { key: 'password PLAIN', windowSeconds: 60 };
      assert.equal(await log.appendCoalesced(jid, login, limits, once), true);
      assert.equal(await log.appendCoalesced(jid, login, limits, once), false);
      assert.equal(await log.appendCoalesced(jid, login, limits, { ...once, key: 'app-password Dino' }), true);
      assert.equal((await log.list(jid, 10)).length, 2);
    });

    it('issue 26: each queued notice is taken once, in order; returned ones come first again', async () => {
      const log = make();
      const heard: number[] = [];
      const off = log.onNoticeQueued(() => heard.push(1));
      for (let i = 0; i < 5; i++) await log.queueNotice({ id: `n${i}`, jid: 'q@example.org', entry: entry(i) }, { perAccount: 20, max: 1000, ttlSeconds: 60 });
      off();
      assert.equal(heard.length, 5);
      const [a, b] = await Promise.all([log.takeNotices(3), log.takeNotices(3)]);
      const ids = [...a, ...b].map((n) => n.id).sort();
      assert.deepEqual(ids, ['n0', 'n1', 'n2', 'n3', 'n4'], 'every notice taken exactly once');
      await log.returnNotices([a[0]!, a[1]!]);
      assert.deepEqual((await log.takeNotices(10)).map((n) => n.id), [a[0]!.id, a[1]!.id]);
      assert.deepEqual(await log.takeNotices(10), []);
    });

    it('issue 26: one account\'s flood of notices stops at its own bound; another account\'s notice still goes in the shared queue', async () => {
      const log = make();
      const limits = { perAccount: 3, max: 5, ttlSeconds: 60 };
      const queued: boolean[] = [];
      for (let i = 0; i < 10; i++) queued.push(await log.queueNotice({ id: `f${i}`, jid: 'flood@example.org', entry: entry(i) }, limits));
      assert.deepEqual(queued, [true, true, true, false, false, false, false, false, false, false]);
      assert.equal(await log.queueNotice({ id: 'other', jid: 'other@example.org', entry: entry(0) }, limits), true);
      assert.deepEqual((await log.takeNotices(20)).map((n) => n.id), ['f0', 'f1', 'f2', 'other']);
    });

    it('issue 26: the notice preference is on, off, or the default (null)', async () => {
      const log = make();
      assert.equal(await log.noticePreference('p@example.org'), null);
      await log.setNoticePreference('p@example.org', false);
      assert.equal(await log.noticePreference('p@example.org'), false);
      await log.setNoticePreference('p@example.org', true);
      assert.equal(await log.noticePreference('p@example.org'), true);
      await log.setNoticePreference('p@example.org', null);
      assert.equal(await log.noticePreference('p@example.org'), null);
    });
  });
}

contract('memory', () => new MemoryActivityLog());

describe('issue 26: activity log on Redis', () => {
  const redis = useRedisClient();
  contract('redis', () => new RedisActivityLog(redis.client, `t${Math.random().toString(36).slice(2, 8)}:`), (jid) =>
    redis.client.keys(`*{u:${jid}}:activity`).then((keys) => redis.client.ttl(keys[0]!)),
  );
});

describe('issue 26: recording security events (memory store)', () => {
  it('issue 26: events carry the ambient address and user agent, newest first, nothing secret; XMPP logins coalesce', async () => {
    const store = new MemoryStore();
    configureSecurityEvents(store, { ttlSeconds: 600, noticesByDefault: false });
    const jid = 'rec@example.org';
    await withEventContext({ address: '198.51.100.7', userAgent: 'TestBrowser/1.0' }, () =>
      recordSecurityEvent({ store }, jid, { kind: 'app-approved', client: 'Notes', scope: ['openid', 'xmpp'] }),
    );
    await recordSecurityEvent({ store }, jid, { kind: 'password-changed', by: 'account page' }, { address: '2001:db8::1' });
    for (let i = 0; i < 3; i++) recordXmppLogin({ store }, jid, { via: 'app-password', mechanism: 'PLAIN', client: 'Dino', address: '192.0.2.1', userAgent: { software: 'Dino 0.4' } });
    await new Promise((r) => setImmediate(r));
    const events = await securityEventsOf({ store }, jid);
    assert.deepEqual(events.map((e) => e.kind), ['xmpp-login', 'password-changed', 'app-approved'], 'three logins in the window are one event');
    assert.equal(events[2]!.address, '198.51.100.7');
    assert.equal(events[2]!.userAgent, 'TestBrowser/1.0');
    assert.equal(events[0]!.userAgent, 'Dino 0.4');
    assert.match(describeEvent(events[0]!), /app password “Dino” \(PLAIN\)/);
    assert.match(describeEvent(events[2]!), /Gave “Notes” access: chat as you, know who you are/);
    // Notice kinds queued a notice each; the default here is off, a choice turns it on.
    assert.deepEqual((await store.activity.takeNotices(10)).map((n) => n.entry.kind), ['app-approved', 'password-changed']);
    assert.equal(await wantsNotices({ store }, jid), false);
    await store.activity.setNoticePreference(jid, true);
    assert.equal(await wantsNotices({ store }, jid), true);
    const body = noticeBody(events[2]!, { siteName: 'Example', accountUrl: 'https://id.example/account', component: 'oauth.example' });
    assert.match(body, /Gave “Notes” access/);
    assert.match(body, /TestBrowser\/1\.0, at 198\.51\.100\.7/);
    assert.match(body, /https:\/\/id\.example\/account/);
    await store.close();
  });

  it('issue 26: a failing store never reaches the caller (logged at info)', async () => {
    const store = new MemoryStore();
    const lines: string[] = [];
    configureSecurityEvents(store, { log: { info: (_o: unknown, msg?: string) => void lines.push(String(msg)) } as never });
    store.activity.append = () => Promise.reject(new Error('boom'));
    await recordSecurityEvent({ store }, 'x@example.org', { kind: 'account-disabled', by: 'cli' });
    assert.deepEqual(lines, ['security event not recorded']);
    await store.close();
  });
});
