// upstream.providers[] and local_login (issue 18): defaults, and a bad
// provider entry stops start-up with a message naming the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validate } from '../../src/config/load.js';

const provider = (extra: Record<string, unknown> = {}) => ({
  id: 'corp', name: 'Corp SSO', issuer: 'https://sso.example.org/application/o/xmpp/', client_id: 'xmpp', client_secret: 's3cret', ...extra,
});
const load = (upstream: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  validate({ xmpp: { hosts: ['example.org', 'chat.example.org'] }, upstream, ...extra });

describe('config: upstream providers (issue 18)', () => {
  it('issue 18: fills the documented defaults', () => {
    const c = load({ providers: [provider()] });
    const p = c.upstream.providers[0]!;
    assert.equal(p.scope, 'openid profile');
    assert.equal(p.username_claim, 'preferred_username');
    assert.equal(p.host, 'example.org', 'the first of xmpp.hosts');
    assert.equal(p.link_existing, false);
    assert.equal(p.allow, undefined);
    assert.equal(c.upstream.revalidate_days, 30);
    assert.equal(c.local_login, true);
  });

  it('issue 18: host must be one of xmpp.hosts', () => {
    assert.equal(load({ providers: [provider({ host: 'Chat.example.org' })] }).upstream.providers[0]!.host, 'chat.example.org');
    assert.throws(() => load({ providers: [provider({ host: 'other.example' })] }), (e: Error) =>
      e instanceof ConfigError && /upstream\.providers\.0\.host: "other\.example" is not one of xmpp\.hosts/.test(e.message));
  });

  it('issue 18: refuses duplicate ids, odd ids, plain http off loopback, a scope without openid, unknown keys', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ providers: [provider(), provider()] }, /upstream\.providers\.1\.id: duplicate provider id "corp"/],
      [{ providers: [provider({ id: 'Corp SSO' })] }, /upstream\.providers\.0\.id: expected 1-32 lowercase letters/],
      [{ providers: [provider({ issuer: 'http://sso.example.org/' })] }, /upstream\.providers\.0\.issuer: must be https/],
      [{ providers: [provider({ scope: 'profile' })] }, /upstream\.providers\.0\.scope: must include openid/],
      [{ providers: [provider({ allow: { groups: [] } })] }, /upstream\.providers\.0\.allow/],
      [{ providers: [provider({ usernam_claim: 'x' })] }, /upstream\.providers\.0\.usernam_claim: unknown option/],
      [{ revalidate_days: 0 }, /upstream\.revalidate_days/],
    ];
    for (const [upstream, message] of cases) {
      assert.throws(() => load(upstream), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(upstream));
    }
    assert.equal(load({ providers: [provider({ issuer: 'http://127.0.0.1:9000' })] }).upstream.providers[0]!.issuer, 'http://127.0.0.1:9000');
  });

  it('issue 18: local_login: false needs a provider', () => {
    assert.throws(() => load({}, { local_login: false }), /local_login: false needs at least one upstream\.providers entry/);
    assert.equal(load({ providers: [provider()] }, { local_login: false }).local_login, false);
  });
});
