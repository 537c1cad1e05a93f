// From a verified upstream identity to an account (issue 18), on the memory
// store: the (iss, sub) binding, JIT creation, link_existing, allow, disabled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/store/memory.js';
import { allowed, jidFromClaims } from '../../src/upstream/claims.js';
import { UpstreamError } from '../../src/upstream/errors.js';
import { accountFor } from '../../src/upstream/provision.js';

const ISS = 'https://sso.example.org/';
const providerOf = (extra: Record<string, unknown> = {}) =>
  validate({ xmpp: { hosts: ['example.org'] }, upstream: { providers: [{ id: 'corp', name: 'Corp', issuer: ISS, client_id: 'x', ...extra }] } }).upstream.providers[0]!;
const CONFIG = validate({ xmpp: { hosts: ['example.org'] } });
const refusal = (code: string) => (e: unknown) => e instanceof UpstreamError && e.code === code;

describe('upstream provisioning (issue 18)', () => {
  it('issue 18: first sign-in creates the account; later ones find it by (iss, sub) even under a new user name', async () => {
    const deps = { store: new MemoryStore(), log: silentLogger, config: CONFIG };
    const p = providerOf();
    assert.deepEqual(await accountFor(deps, p, { iss: ISS, sub: 's1', preferred_username: 'Erin' }, 1000), { jid: 'erin@example.org', outcome: 'created' });
    assert.deepEqual(await accountFor(deps, p, { iss: ISS, sub: 's1', preferred_username: 'erin2' }, 2000), { jid: 'erin@example.org', outcome: 'existing' });
    assert.equal((await deps.store.getAccount('erin@example.org'))?.upstream?.lastLoginAt, 2000);
    // Another person whose claim now reads "erin" cannot take the account over.
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 's2', preferred_username: 'erin' }, 3000), refusal('collision'));
    // The same subject at another issuer is another person.
    await assert.rejects(accountFor(deps, p, { iss: 'https://evil.example/', sub: 's1', preferred_username: 'erin' }, 3000), refusal('collision'));
  });

  it('issue 18: link_existing binds a local account once; false refuses it', async () => {
    const deps = { store: new MemoryStore(), log: silentLogger, config: CONFIG };
    await deps.store.createAccount({ jid: 'alice@example.org', passwordHash: 'h', createdAt: 1 });
    await assert.rejects(accountFor(deps, providerOf(), { iss: ISS, sub: 'a', preferred_username: 'alice' }, 10), refusal('collision'));
    assert.equal((await deps.store.getAccount('alice@example.org'))?.upstream, undefined);
    const linking = providerOf({ link_existing: true });
    assert.deepEqual(await accountFor(deps, linking, { iss: ISS, sub: 'a', preferred_username: 'alice' }, 10), { jid: 'alice@example.org', outcome: 'linked' });
    assert.equal((await deps.store.getAccount('alice@example.org'))?.passwordHash, 'h', 'a linked account keeps its password');
    await assert.rejects(accountFor(deps, linking, { iss: ISS, sub: 'other', preferred_username: 'alice' }, 20), refusal('collision'), 'bound once');
  });

  it('issue 18: allow is checked at every sign-in; a disabled account is refused', async () => {
    const deps = { store: new MemoryStore(), log: silentLogger, config: CONFIG };
    const p = providerOf({ allow: { groups: ['xmpp', 'staff'] } });
    await accountFor(deps, p, { iss: ISS, sub: 'g', preferred_username: 'gina', groups: ['staff'] }, 1);
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 'g', preferred_username: 'gina', groups: [] }, 2), refusal('not-allowed'));
    await deps.store.setAccountDisabled('gina@example.org', true);
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 'g', preferred_username: 'gina', groups: ['xmpp'] }, 3), refusal('disabled'));
  });

  it('review #9: never creates or links an account named in admins or upstream.reserved_names; a bound one is unaffected', async () => {
    const config = validate({ xmpp: { hosts: ['example.org'] }, admins: ['chief@example.org'], upstream: { reserved_names: ['HelpDesk'] } });
    const deps = { store: new MemoryStore(), log: silentLogger, config };
    const p = providerOf({ link_existing: true });
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 'c', preferred_username: 'Chief' }, 1), refusal('reserved'));
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 'h', preferred_username: 'helpdesk' }, 1), refusal('reserved'));
    // link_existing would otherwise bind a local admin account to whoever renames themselves so.
    await deps.store.createAccount({ jid: 'chief@example.org', passwordHash: 'h', createdAt: 1 });
    await assert.rejects(accountFor(deps, p, { iss: ISS, sub: 'c', preferred_username: 'chief' }, 2), refusal('reserved'));
    assert.equal((await deps.store.getAccount('chief@example.org'))?.upstream, undefined, 'not linked');
    // The configured list replaces the default one.
    assert.deepEqual(await accountFor(deps, p, { iss: ISS, sub: 'r', preferred_username: 'root' }, 3), { jid: 'root@example.org', outcome: 'created' });
    // The default list, and an account bound before a name became reserved still signs in.
    const defaults = { ...deps, config: CONFIG };
    assert.deepEqual(await accountFor(defaults, p, { iss: ISS, sub: 'r', preferred_username: 'root' }, 4), { jid: 'root@example.org', outcome: 'existing' });
    await assert.rejects(accountFor(defaults, p, { iss: ISS, sub: 'x', preferred_username: 'Abuse' }, 4), refusal('reserved'));
    assert.throws(() => validate({ upstream: { reserved_names: ['a b'] } }), /not an XMPP user name/);
  });

  it('issue 18: allow conditions and claim normalisation', () => {
    assert.equal(allowed(undefined, {}), true);
    assert.equal(allowed({ groups: 'xmpp-users' }, { groups: ['a', 'xmpp-users'] }), true);
    assert.equal(allowed({ groups: 'xmpp-users' }, { groups: 'xmpp-users' }), true);
    assert.equal(allowed({ groups: 'xmpp-users' }, { groups: ['xmpp-users-old'] }), false);
    assert.equal(allowed({ groups: 'xmpp-users' }, {}), false);
    assert.equal(allowed({ groups: 'x', email_verified: 'true' }, { groups: ['x'], email_verified: true }), true);
    assert.equal(allowed({ groups: 'x', email_verified: 'true' }, { groups: ['x'], email_verified: false }), false);
    const p = providerOf();
    assert.equal(jidFromClaims(p, { preferred_username: 'Ünïcode' }), 'ünïcode@example.org');
    for (const bad of [undefined, '', 42, 'two words', 'a@b', 'x/y', 'a'.repeat(65)]) {
      assert.throws(() => jidFromClaims(p, { preferred_username: bad }), refusal('bad-claim'), String(bad));
    }
  });
});

describe('upstream sign-in: where it returns to (issue 18)', () => {
  it('issue 18: only our own browser pages, never another site', async () => {
    const { safeReturnTo } = await import('../../src/http/return-to.js');
    assert.equal(safeReturnTo('/oauth2/authorize?client_id=x&state=1'), '/oauth2/authorize?client_id=x&state=1');
    assert.equal(safeReturnTo('/oauth2/device?user_code=ABCDEFGH'), '/oauth2/device?user_code=ABCDEFGH');
    assert.equal(safeReturnTo('/account'), '/account');
    for (const bad of ['//evil.example/', 'https://evil.example/account', '/\\evil.example', '/accountx', '/metrics', '', undefined, 42, `/account?${'x'.repeat(9000)}`]) {
      assert.equal(safeReturnTo(bad), '/account', String(bad).slice(0, 40));
    }
  });
});
