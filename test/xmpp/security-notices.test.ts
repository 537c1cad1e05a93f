// Issue 26 #4, scale-out: several instances share one Redis; a notice is
// recorded on whichever instance the event happened and sent once, by an
// instance whose component link is up. The links here are stand-ins that
// record what they would send (the real link is exercised end to end in
// test/browser/activity-notices.test.ts); the stores are real Redis stores.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { CoreDeps } from '../../src/oauth/context.js';
import { configureSecurityEvents, recordSecurityEvent } from '../../src/oauth/account-life/security-events.js';
import { createStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import type { LinkStatus } from '../../src/xmpp/link.js';
import { NS_SID, startSecurityNotices, type SecurityNotices } from '../../src/xmpp/security-notices.js';
import type { Element } from '../../src/xmpp/xml.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

class StandInLink {
  readonly domain = 'oauth.example.org';
  readonly sent: Element[] = [];
  private readonly listeners = new Set<(s: LinkStatus) => void>();
  constructor(public online: boolean) {}
  send(stanza: Element): boolean {
    if (!this.online) return false;
    this.sent.push(stanza);
    return true;
  }
  onStatus(listener: (s: LinkStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  up(): void {
    this.online = true;
    for (const l of this.listeners) l({ state: 'online', online: true, standby: false });
  }
}

describe('issue 26: notices from several instances sharing Redis', () => {
  let redis: RedisInstance;
  const stores: Store[] = [];
  const senders: SecurityNotices[] = [];
  const config = validate({ issuer: 'https://id.example.org', site_name: 'Example', xmpp: { hosts: ['example.org'] }, log: { level: 'silent' } });

  const instance = (link: StandInLink, keyPrefix = 'sn:') => {
    const store = createStore({ redisUrl: redis.url, keyPrefix });
    configureSecurityEvents(store, {});
    stores.push(store);
    const core = { config, store, log: silentLogger } as unknown as CoreDeps;
    senders.push(startSecurityNotices(link, { core, log: silentLogger }, { pollMs: 100 }));
    return store;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const s of senders) s.stop();
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  it('issue 26: 30 notices recorded on an instance without a link are each sent once, by the two instances that have one; an opt-out is honoured', async () => {
    const a = new StandInLink(true);
    const b = new StandInLink(true);
    const none = new StandInLink(false);
    instance(a);
    instance(b);
    const web = instance(none);
    await web.activity.setNoticePreference('quiet@example.org', false);
    const recorded = [];
    // Three accounts, ten each: an account queues at most 20 notices a day.
    const users = ['alice@example.org', 'bob@example.org', 'carol@example.org'];
    for (let i = 0; i < 30; i++) recorded.push(recordSecurityEvent({ store: web }, users[i % 3]!, { kind: 'app-approved', client: `App ${i}`, scope: ['xmpp'] }));
    recorded.push(recordSecurityEvent({ store: web }, 'quiet@example.org', { kind: 'password-changed', by: 'account page' }));
    await Promise.all(recorded);
    await waitFor('30 notices sent', () => (a.sent.length + b.sent.length >= 30 ? true : undefined), { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300)); // a few more polls: nothing is sent twice
    const all = [...a.sent, ...b.sent];
    assert.equal(all.length, 30);
    assert.equal(none.sent.length, 0);
    assert.equal(new Set(all.map((m) => m.getChild('origin-id', NS_SID)?.attrs.id)).size, 30, 'each notice once');
    assert.ok(all.every((m) => users.includes(String(m.attrs.to)) && m.attrs.from === 'oauth.example.org' && m.attrs.type === 'chat'));
    assert.deepEqual(await web.activity.takeNotices(10), [], 'the opted-out one was taken and dropped');
  });

  it('issue 26: with no link up, notices wait in the queue until a link comes up', async () => {
    // A deployment of its own (another key prefix): no instance of the first test hears it.
    const later = new StandInLink(false);
    const store = instance(later, 'sn2:');
    await recordSecurityEvent({ store }, 'alice@example.org', { kind: 'factor-added', factor: 'totp' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(later.sent.length, 0, 'nothing is sent while the link is down');
    later.up();
    await waitFor('the waiting notice', () => (later.sent.length === 1 ? true : undefined), { timeoutMs: 2_000 });
    assert.match(later.sent[0]!.getChildText('body') ?? '', /Added an authenticator app \(one-time codes\) as a second factor/);
  });
});
