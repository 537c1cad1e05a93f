// The storage contract: one suite, run against every Store implementation.
// Each describe block gets its own store from `make()`, so global state
// (signing keys, account list) starts empty there.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, beforeEach } from 'node:test';
import { MAX_REFRESH_PER_GRANT } from '../../src/store/types.js';
import type {
  Account, AccountNewsEvent, AuthorizationCode, DeviceGrant, Grant, GrantRevokedEvent, LoginSession, RefreshToken, SigningKey, Store, UpstreamOrigin, UpstreamState,
} from '../../src/store/types.js';

export type MakeStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const uid = (p = '') => p + randomBytes(9).toString('base64url');
const digest = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function account(jid = `${uid('u')}@example.org`): Account {
  return { jid, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', createdAt: Date.now() };
}

function signingKey(createdAt: number, kid = uid('k')): SigningKey {
  return {
    kid,
    alg: 'ES256',
    privateJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' },
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
    createdAt,
    activatesAt: createdAt,
  };
}

function grant(jid: string, clientId = uid('c'), extra: Partial<Grant> = {}): Grant {
  const now = Date.now();
  return { id: uid('g'), jid, clientId, scope: ['openid', 'xmpp'], createdAt: now, lastUsedAt: now, clientName: 'App', ...extra };
}

function code(g: Grant): AuthorizationCode {
  return {
    grantId: g.id,
    clientId: g.clientId,
    jid: g.jid,
    redirectUri: 'https://app.example/cb',
    scope: g.scope,
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    nonce: 'n-0S6_WzA2Mj',
    authTime: Math.floor(Date.now() / 1000),
    amr: ['pwd'],
  };
}

function refresh(g: Grant, ttlMs = 60_000): RefreshToken {
  const now = Date.now();
  return { grantId: g.id, clientId: g.clientId, jid: g.jid, scope: g.scope, issuedAt: now, expiresAt: now + ttlMs };
}

function device(ttlMs = 600_000, extra: Partial<DeviceGrant> = {}): DeviceGrant {
  const now = Date.now();
  const userCode = Array.from(randomBytes(8), (b) => 'BCDFGHJKLMNPQRSTVWXZ'[b % 20]).join('');
  return {
    id: uid('d'), userCode, clientId: uid('c'), scope: ['openid'], status: 'pending',
    interval: 5, lastPollAt: 0, createdAt: now, expiresAt: now + ttlMs, ...extra,
  };
}

function session(ttlMs = 60_000): LoginSession {
  const now = Date.now();
  return { id: uid('s'), jid: 'alice@example.org', authTime: Math.floor(now / 1000), amr: ['pwd'], createdAt: now, expiresAt: now + ttlMs };
}

/** Registers before/after hooks giving each describe block a fresh store. */
function useStore(make: MakeStore): () => Store {
  let store: Store | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  before(async () => {
    ({ store, cleanup } = await make());
  });
  after(async () => {
    await cleanup?.();
  });
  return () => {
    assert.ok(store, 'store not created');
    return store;
  };
}

export function storeContract(name: string, make: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    describe('accounts', () => {
      const s = useStore(make);

      it('creates once, refuses a duplicate, reads it back', async () => {
        const a = account();
        assert.equal(await s().createAccount(a), true);
        assert.equal(await s().createAccount({ ...a, passwordHash: 'other' }), false);
        assert.deepEqual(await s().getAccount(a.jid), a);
        assert.equal(await s().accountExists(a.jid), true);
        assert.equal(await s().accountExists(`nobody-${a.jid}`), false);
        assert.equal(await s().getAccount(`nobody-${a.jid}`), null);
      });

      it('sets a password hash only on an existing account', async () => {
        const a = account();
        await s().createAccount(a);
        assert.equal(await s().setPasswordCredentials(a.jid, { passwordHash: 'new-hash' }), true);
        const { epoch, ...rest } = (await s().getAccount(a.jid))!;
        assert.deepEqual(rest, { ...a, passwordHash: 'new-hash' });
        assert.ok(typeof epoch === 'string' && epoch.length > 0, 'a new epoch is drawn');
        assert.equal(await s().setPasswordCredentials(`nobody-${a.jid}`, { passwordHash: 'x' }), false);
        assert.equal(await s().accountExists(`nobody-${a.jid}`), false);
      });

      const verifier = (tag: string) => ({ salt: `c2FsdC${tag}`, iterations: 4096, storedKey: `c3Rvcm${tag}`, serverKey: `c2Vydm${tag}` });

      it('keeps SCRAM verifiers with the account, and a password change replaces them all', async () => {
        const a = { ...account(), passwordHash: '', scram: { 'SHA-1': verifier('1') } };
        assert.equal(await s().createAccount(a), true);
        assert.deepEqual((await s().getAccount(a.jid))!.scram, { 'SHA-1': verifier('1') });
        const scram = { 'SHA-1': verifier('2'), 'SHA-256': verifier('3') };
        assert.equal(await s().setPasswordCredentials(a.jid, { passwordHash: 'h', scram }), true);
        const after = (await s().getAccount(a.jid))!;
        assert.equal(after.passwordHash, 'h');
        assert.deepEqual(after.scram, scram);
        assert.equal(await s().setPasswordCredentials(a.jid, { passwordHash: 'h2' }), true);
        assert.equal((await s().getAccount(a.jid))!.scram, undefined, 'credentials without verifiers leave none behind');
      });

      it('keeps one deployment secret per name, the same on every call (and instance)', async () => {
        const a = await s().deploymentSecret('scram-decoy');
        assert.equal(Buffer.from(a, 'base64').length, 32);
        assert.equal(await s().deploymentSecret('scram-decoy'), a);
        assert.notEqual(await s().deploymentSecret('another'), a);
      });

      it('upgrades credentials only while they are still the ones that were checked, keeping the epoch', async () => {
        const imported = { passwordHash: '', scram: { 'SHA-1': verifier('1') } };
        const a = { ...account(), ...imported };
        await s().createAccount(a);
        const next = { passwordHash: 'argon', scram: { 'SHA-1': verifier('1'), 'SHA-256': verifier('4') } };
        // A password change happened in between: the upgrade must not undo it.
        assert.equal(await s().upgradeCredentials(a.jid, { passwordHash: 'other', scram: imported.scram }, next), false);
        assert.equal(await s().upgradeCredentials(a.jid, { passwordHash: '', scram: { 'SHA-1': verifier('9') } }, next), false);
        assert.equal(await s().upgradeCredentials(a.jid, imported, next), true);
        const after = (await s().getAccount(a.jid))!;
        assert.equal(after.passwordHash, 'argon');
        assert.deepEqual(after.scram, next.scram);
        assert.equal(after.epoch, a.epoch, 'sessions stay: the password did not change');
        assert.equal(await s().upgradeCredentials(a.jid, imported, next), false, 'a second upgrade from the old state is refused');
        assert.equal(await s().upgradeCredentials(`nobody-${a.jid}`, imported, next), false);
      });

      it('removes and lists', async () => {
        const a = account();
        const b = account();
        await s().createAccount(a);
        await s().createAccount(b);
        let list = await s().listAccounts();
        assert.ok(list.includes(a.jid) && list.includes(b.jid));
        assert.equal(await s().removeAccount(a.jid), true);
        assert.equal(await s().removeAccount(a.jid), false);
        assert.equal(await s().getAccount(a.jid), null);
        assert.equal(await s().accountExists(a.jid), false);
        list = await s().listAccounts();
        assert.ok(!list.includes(a.jid));
        assert.ok(list.includes(b.jid));
        assert.equal(new Set(list).size, list.length, 'no duplicates');
      });

      it('removing an account leaves its grants to the grant-management core', async () => {
        const a = account();
        await s().createAccount(a);
        const g = grant(a.jid);
        await s().saveGrant(g);
        assert.equal(await s().removeAccount(a.jid), true);
        // Revoked by the caller, so every revocation is announced (src/oauth/account-life/account-lifecycle.ts).
        assert.equal(await s().grantExists(g.id), true);
      });
    });

    describe('upstream identities and disabling (issue 18)', () => {
      const s = useStore(make);
      const origin = (extra: Partial<UpstreamOrigin> = {}): UpstreamOrigin => ({
        provider: 'idp', iss: 'https://idp.example/', sub: uid('sub'), lastLoginAt: Date.now(), ...extra,
      });
      const upstreamAccount = (o = origin()) => ({ jid: `${uid('u')}@example.org`, passwordHash: '', createdAt: Date.now(), upstream: o });

      it('issue 18: creates an upstream account bound to iss + sub, and finds it by subject', async () => {
        const a = upstreamAccount();
        assert.equal(await s().createUpstreamAccount(a), 'created');
        assert.deepEqual(await s().getAccount(a.jid), a);
        assert.equal(await s().findAccountBySubject(a.upstream.iss, a.upstream.sub), a.jid);
        assert.equal(await s().findAccountBySubject('https://other.example/', a.upstream.sub), null);
        assert.equal(await s().findAccountBySubject(a.upstream.iss, `${a.upstream.sub}x`), null);
      });

      it('issue 18: a taken subject or JID is refused and writes nothing', async () => {
        const a = upstreamAccount();
        await s().createUpstreamAccount(a);
        const sameSubject = { ...upstreamAccount(a.upstream), jid: `${uid('u')}@example.org` };
        assert.equal(await s().createUpstreamAccount(sameSubject), 'subject-taken');
        assert.equal(await s().accountExists(sameSubject.jid), false);
        const local = account();
        await s().createAccount(local);
        const sameJid = { ...upstreamAccount(), jid: local.jid };
        assert.equal(await s().createUpstreamAccount(sameJid), 'jid-taken');
        assert.equal(await s().findAccountBySubject(sameJid.upstream.iss, sameJid.upstream.sub), null);
        assert.deepEqual(await s().getAccount(local.jid), local);
      });

      it('issue 18: links a local account once; never a second subject or a taken one', async () => {
        const local = account();
        await s().createAccount(local);
        const o = origin();
        assert.equal(await s().linkUpstream(local.jid, o), true);
        assert.deepEqual((await s().getAccount(local.jid))?.upstream, o);
        assert.equal(await s().findAccountBySubject(o.iss, o.sub), local.jid);
        assert.equal(await s().linkUpstream(local.jid, origin()), false, 'already bound');
        const other = account();
        await s().createAccount(other);
        assert.equal(await s().linkUpstream(other.jid, o), false, 'subject bound to another account');
        assert.equal(await s().linkUpstream(`nobody-${other.jid}`, origin()), false);
      });

      it('issue 18: touching the upstream sign-in moves it forward only', async () => {
        const a = upstreamAccount(origin({ lastLoginAt: 1_000_000 }));
        await s().createUpstreamAccount(a);
        assert.equal(await s().touchUpstreamLogin(a.jid, 2_000_000), true);
        assert.equal((await s().getAccount(a.jid))?.upstream?.lastLoginAt, 2_000_000);
        await s().touchUpstreamLogin(a.jid, 1_500_000);
        assert.equal((await s().getAccount(a.jid))?.upstream?.lastLoginAt, 2_000_000);
        const local = account();
        await s().createAccount(local);
        assert.equal(await s().touchUpstreamLogin(local.jid, 3_000_000), false);
        assert.equal((await s().getAccount(local.jid))?.upstream, undefined);
      });

      it('issue 18: back-channel logout forgets the upstream sign-in; a logout token counts once', async () => {
        const a = upstreamAccount(origin({ lastLoginAt: 5_000_000 }));
        await s().createUpstreamAccount(a);
        assert.equal(await s().forgetUpstreamLogin(a.jid), true);
        assert.equal((await s().getAccount(a.jid))?.upstream?.lastLoginAt, 0);
        assert.equal(await s().touchUpstreamLogin(a.jid, 6_000_000), true);
        assert.equal((await s().getAccount(a.jid))?.upstream?.lastLoginAt, 6_000_000, 'the next sign-in restores it');
        const local = account();
        await s().createAccount(local);
        assert.equal(await s().forgetUpstreamLogin(local.jid), false);
        const d = digest();
        const [x, y] = await Promise.all([s().firstLogoutToken(d, 60), s().firstLogoutToken(d, 60)]);
        assert.deepEqual([x, y].sort(), [false, true]);
        assert.equal(await s().firstLogoutToken(digest(), 60), true);
      });

      it('issue 18: removing an upstream account frees its subject', async () => {
        const a = upstreamAccount();
        await s().createUpstreamAccount(a);
        assert.equal(await s().removeAccount(a.jid), true);
        assert.equal(await s().findAccountBySubject(a.upstream.iss, a.upstream.sub), null);
        assert.equal(await s().createUpstreamAccount(a), 'created');
      });

      it('issue 18: disables and enables an existing account only', async () => {
        const a = account();
        await s().createAccount(a);
        assert.equal(await s().setAccountDisabled(a.jid, true), true);
        assert.equal((await s().getAccount(a.jid))?.disabled, true);
        assert.equal(await s().setAccountDisabled(a.jid, false), true);
        assert.deepEqual(await s().getAccount(a.jid), a);
        assert.equal(await s().setAccountDisabled(`nobody-${a.jid}`, true), false);
        assert.equal(await s().accountExists(`nobody-${a.jid}`), false);
      });

      it('issue 18: upstream state is taken once and expires', async () => {
        const state: UpstreamState = { provider: 'idp', nonce: uid(), codeVerifier: uid(), returnTo: '/account', browser: digest(), createdAt: Date.now() };
        const id = uid('st');
        await s().saveUpstreamState(id, state, 60);
        const [first, second] = await Promise.all([s().takeUpstreamState(id), s().takeUpstreamState(id)]);
        assert.deepEqual([first, second].filter(Boolean), [state], 'exactly one taker gets it');
        const short = uid('st');
        await s().saveUpstreamState(short, state, 1);
        await sleep(1300);
        assert.equal(await s().takeUpstreamState(short), null);
      });

      it('issue 18: app-password fields of a grant survive the round trip', async () => {
        const a = account();
        const g = grant(a.jid, `app-password:${uid()}`, { kind: 'app_password', label: 'Dino on laptop', secretDigest: digest(), scope: ['xmpp:client:normal'] });
        await s().saveGrant(g);
        assert.deepEqual(await s().getGrant(g.id), g);
        assert.deepEqual(await s().listGrants(a.jid), [g]);
      });
    });

    describe('signing keys', () => {
      const s = useStore(make);
      let first: SigningKey;

      it('racing first starts keep exactly one key', async () => {
        const t = Date.now();
        const [ra, rb] = await Promise.all([s().initSigningKeys(signingKey(t)), s().initSigningKeys(signingKey(t))]);
        assert.equal(ra.length, 1);
        assert.deepEqual(ra, rb);
        first = ra[0]!;
        const later = await s().initSigningKeys(signingKey(t + 1));
        assert.deepEqual(later, [first]);
        assert.deepEqual(await s().listSigningKeys(), [first]);
      });

      it('adds, updates and removes keys', async () => {
        const k2 = signingKey(first.createdAt + 10);
        await s().addSigningKey(k2);
        assert.deepEqual(await s().listSigningKeys(), [first, k2], 'ordered by createdAt');

        const retired = { ...first, retiredAt: Date.now(), expiresAt: Date.now() + 86_400_000 };
        await s().updateSigningKey(retired);
        assert.deepEqual(await s().listSigningKeys(), [retired, k2]);

        await s().updateSigningKey(signingKey(Date.now(), 'never-added'));
        assert.equal((await s().listSigningKeys()).length, 2, 'update does not add');

        await s().removeSigningKey(first.kid);
        assert.deepEqual(await s().listSigningKeys(), [k2]);
      });
    });

    describe('grants', () => {
      const s = useStore(make);
      const alice = `${uid('alice')}@example.org`;
      const bob = `${uid('bob')}@example.org`;

      it('updates an existing grant, but never brings a revoked one back', async () => {
        const g = grant(alice, 'client-upd');
        await s().saveGrant(g);
        const wider = { ...g, scope: [...g.scope, 'profile'], lastUsedAt: g.lastUsedAt + 5 };
        assert.equal(await s().updateGrant(wider), true);
        assert.deepEqual((await s().getGrant(g.id))?.scope, wider.scope);
        await s().revokeGrant(g.id);
        assert.equal(await s().updateGrant(wider), false);
        assert.equal(await s().grantExists(g.id), false);
        assert.equal(await s().getGrant(g.id), null);
      });

      it('counts a user’s grants', async () => {
        const jid = `${uid('u')}@example.org`;
        assert.equal(await s().countGrants(jid), 0);
        const g1 = grant(jid);
        await s().saveGrant(g1);
        await s().saveGrant(grant(jid));
        assert.equal(await s().countGrants(jid), 2);
        await s().revokeGrant(g1.id);
        assert.equal(await s().countGrants(jid), 1);
      });

      it('saves, gets, finds and lists', async () => {
        const g1 = grant(alice, 'client-1');
        const g2 = grant(alice, 'client-2', { createdAt: g1.createdAt + 1, clientName: undefined });
        delete g2.clientName;
        const g3 = grant(bob, 'client-1');
        for (const g of [g1, g2, g3]) await s().saveGrant(g);

        assert.deepEqual(await s().getGrant(g1.id), g1);
        assert.deepEqual(await s().getGrant(g2.id), g2);
        assert.equal(await s().getGrant('nope'), null);
        assert.equal(await s().grantExists(g1.id), true);
        assert.equal(await s().grantExists('nope'), false);
        assert.deepEqual(await s().findGrant(alice, 'client-1'), g1);
        assert.deepEqual(await s().findGrant(bob, 'client-1'), g3);
        assert.equal(await s().findGrant(alice, 'client-3'), null);
        assert.deepEqual(
          (await s().listGrants(alice)).map((g) => g.id).sort(),
          [g1.id, g2.id].sort(),
        );
        assert.deepEqual(await s().listGrants(bob), [g3]);
        assert.deepEqual(await s().listGrants('nobody@example.org'), []);
      });

      it('finds the latest grant saved for a client', async () => {
        const jid = `${uid('carol')}@example.org`;
        const old = grant(jid, 'client-x');
        const newer = grant(jid, 'client-x');
        await s().saveGrant(old);
        await s().saveGrant(newer);
        assert.equal((await s().findGrant(jid, 'client-x'))?.id, newer.id);
        // Revoking the old one must not unlink the newer one.
        await s().revokeGrant(old.id);
        assert.equal((await s().findGrant(jid, 'client-x'))?.id, newer.id);
      });

      it('touch moves lastUsedAt forward only, never recreates', async () => {
        const g = grant(alice);
        await s().saveGrant(g);
        await s().touchGrant(g.id, g.lastUsedAt + 5000);
        assert.equal((await s().getGrant(g.id))?.lastUsedAt, g.lastUsedAt + 5000);
        await s().touchGrant(g.id, g.lastUsedAt + 1000);
        assert.equal((await s().getGrant(g.id))?.lastUsedAt, g.lastUsedAt + 5000);
        await s().touchGrant('ghost', Date.now());
        assert.equal(await s().grantExists('ghost'), false);
      });

      it('issue 24 #2: touch records a SASL2 user agent with lastUsedAt, in the same write; an older touch leaves it', async () => {
        const g = grant(alice);
        await s().saveGrant(g);
        await s().touchGrant(g.id, g.lastUsedAt + 5000, { id: 'ua-1', software: 'Dino', device: 'laptop' });
        assert.deepEqual((await s().getGrant(g.id))?.userAgent, { id: 'ua-1', software: 'Dino', device: 'laptop' });
        await s().touchGrant(g.id, g.lastUsedAt + 1000, { id: 'ua-2' });
        assert.deepEqual((await s().getGrant(g.id))?.userAgent, { id: 'ua-1', software: 'Dino', device: 'laptop' });
        await s().touchGrant(g.id, g.lastUsedAt + 9000);
        assert.equal((await s().getGrant(g.id))?.userAgent?.id, 'ua-1', 'a touch without one keeps the last');
        assert.equal((await s().listGrants(alice)).find((x) => x.id === g.id)?.userAgent?.software, 'Dino');
      });

      it('revokes a grant and every refresh token under it', async () => {
        const g = grant(alice, uid('c'));
        await s().saveGrant(g);
        const d1 = digest();
        const d2 = digest();
        await s().saveRefresh(d1, refresh(g));
        await s().saveRefresh(d2, refresh(g));
        assert.notEqual(await s().getRefresh(g.id, d1), null);

        assert.equal(await s().revokeGrant(g.id), true);
        assert.equal(await s().getGrant(g.id), null);
        assert.equal(await s().grantExists(g.id), false);
        assert.equal(await s().findGrant(alice, g.clientId), null);
        assert.ok(!(await s().listGrants(alice)).some((x) => x.id === g.id));
        assert.equal(await s().getRefresh(g.id, d1), null);
        assert.equal(await s().getRefresh(g.id, d2), null);
        assert.equal(await s().revokeGrant(g.id), false);
      });
    });

    describe('revocation news (issue 14)', () => {
      const s = useStore(make);
      /** Collects events for the given grant ids until `count` arrived (or 5 s passed). */
      const heard = (ids: string[], count: number) => {
        const got: GrantRevokedEvent[] = [];
        let off = () => {};
        const done = new Promise<GrantRevokedEvent[]>((resolve) => {
          const timer = setTimeout(() => (off(), resolve(got)), 5000);
          off = s().onRevocation((e) => {
            if (!ids.includes(e.grantId)) return;
            got.push(e);
            if (got.length >= count) {
              clearTimeout(timer);
              off();
              resolve(got);
            }
          });
        });
        return done;
      };
      // A fresh subscription hears nothing until Redis has answered its SUBSCRIBE: publish
      // probes on both feeds until one comes back (a fixed sleep lost events on a busy machine).
      const settle = async () => {
        const grantId = uid('probe');
        const jid = `${uid('probe')}@example.org`;
        let heardGrant = false;
        let heardAccount = false;
        const offs = [
          s().onRevocation((e) => void (e.grantId === grantId && (heardGrant = true))),
          s().onAccountNews((e) => void (e.jid === jid && (heardAccount = true))),
        ];
        try {
          for (let i = 0; i < 100 && !(heardGrant && heardAccount); i++) {
            if (!heardGrant) await s().publishRevocation({ grantId, at: 0 });
            if (!heardAccount) await s().announcePasswordChanged(jid);
            await sleep(50);
          }
          assert.ok(heardGrant && heardAccount, 'the news feeds answer within 5 s');
        } finally {
          for (const off of offs) off();
        }
      };

      it('issue 14: revokeGrant announces the grant and its account, once; an absent grant announces nothing', async () => {
        const g = grant(`${uid('u')}@example.org`);
        await s().saveGrant(g);
        const events = heard([g.id, 'absent'], 2);
        await settle();
        assert.equal(await s().revokeGrant(g.id), true);
        assert.equal(await s().revokeGrant(g.id), false);
        assert.equal(await s().revokeGrant('absent'), false);
        const got = await events;
        assert.equal(got.length, 1);
        assert.equal(got[0]!.grantId, g.id);
        assert.equal(got[0]!.jid, g.jid);
        assert.equal(typeof got[0]!.at, 'number');
      });

      it('issue 14: a refresh-token replay announces the grant it revoked', async () => {
        const g = grant(`${uid('u')}@example.org`);
        await s().saveGrant(g);
        const d = digest();
        await s().saveRefresh(d, refresh(g));
        assert.equal((await s().rotateRefresh(g.id, d, digest(), refresh(g))).status, 'ok');
        const events = heard([g.id], 1);
        await settle();
        assert.equal((await s().rotateRefresh(g.id, d, digest(), refresh(g))).status, 'replayed');
        const got = await events;
        assert.equal(got.length, 1);
        assert.equal(got[0]!.jid, g.jid);
      });

      it('issue 14: publishRevocation reaches every listener; an unsubscribed one hears nothing', async () => {
        const id = uid('g');
        const first = heard([id], 1);
        const gone: GrantRevokedEvent[] = [];
        const off = s().onRevocation((e) => e.grantId === id && gone.push(e));
        off();
        await settle();
        await s().publishRevocation({ grantId: id, at: 1 });
        assert.deepEqual((await first).map((e) => [e.grantId, e.at]), [[id, 1]]);
        assert.deepEqual(gone, []);
      });

      it('review #7: account news (disabled, enabled, linked, upstream-logout, removed) reaches listeners in order; an unsubscribed one hears nothing', async () => {
        const a = account();
        assert.equal(await s().createAccount(a), true);
        const got: AccountNewsEvent[] = [];
        const gone: AccountNewsEvent[] = [];
        const off = s().onAccountNews((e) => e.jid === a.jid && got.push(e));
        s().onAccountNews((e) => e.jid === a.jid && gone.push(e))();
        await settle();
        assert.equal(await s().setAccountDisabled(a.jid, true), true);
        assert.equal(await s().setAccountDisabled(a.jid, false), true);
        assert.equal(await s().linkUpstream(a.jid, { provider: 'p', iss: 'https://idp.example', sub: uid('s'), lastLoginAt: 1 }), true);
        assert.equal(await s().forgetUpstreamLogin(a.jid), true);
        assert.equal(await s().removeAccount(a.jid), true);
        assert.equal(await s().removeAccount(a.jid), false, 'an absent account announces nothing');
        for (let i = 0; i < 50 && got.length < 5; i++) await sleep(100);
        await settle();
        off();
        assert.deepEqual(got.map((e) => e.kind), ['disabled', 'enabled', 'linked', 'upstream-logout', 'removed']);
        assert.ok(got.every((e) => typeof e.at === 'number'));
        assert.deepEqual(gone, []);
      });

      it('review #12: slot news reaches every listener with its domain; an unsubscribed one hears nothing', async () => {
        const domain = `${uid('c')}.example.org`;
        const got: string[] = [];
        const gone: string[] = [];
        const off = s().onSlotFreed((d) => d === domain && got.push(d));
        s().onSlotFreed((d) => d === domain && gone.push(d))();
        await settle();
        await s().publishSlotFreed(domain);
        for (let i = 0; i < 50 && got.length < 1; i++) await sleep(100);
        off();
        assert.deepEqual(got, [domain]);
        assert.deepEqual(gone, []);
      });
    });

    describe('authorization codes', () => {
      const s = useStore(make);
      const g = grant('alice@example.org');
      beforeEach(async () => s().saveGrant(g));

      it('is consumed once; a second use is a replay carrying the record', async () => {
        const c = code(g);
        const d = digest();
        const before = Date.now();
        await s().saveCode(d, c, 60);
        const first = await s().consumeCode(g.id, d);
        assert.equal(first.status, 'ok');
        assert.ok(first.status === 'ok');
        const { expiresAt, ...rest } = first.code;
        assert.deepEqual(rest, c);
        assert.ok(typeof expiresAt === 'number' && expiresAt >= before + 59_000 && expiresAt <= Date.now() + 60_000);

        const second = await s().consumeCode(g.id, d);
        assert.equal(second.status, 'replayed');
        assert.ok(second.status === 'replayed');
        assert.equal(second.code.grantId, g.id);
        assert.deepEqual({ ...second.code, expiresAt: undefined }, { ...c, expiresAt: undefined });
      });

      it('an unknown code is missing', async () => {
        assert.deepEqual(await s().consumeCode(g.id, digest()), { status: 'missing' });
      });

      it('honours the TTL', async () => {
        const d = digest();
        await s().saveCode(d, code(g), 1);
        await sleep(1200);
        assert.deepEqual(await s().consumeCode(g.id, d), { status: 'missing' });
      });

      it('can be read without being used up', async () => {
        const d = digest();
        await s().saveCode(d, code(g), 60);
        const before = await s().peekCode(g.id, d);
        assert.equal(before?.used, false);
        assert.equal(before?.code.grantId, g.id);
        assert.equal((await s().consumeCode(g.id, d)).status, 'ok', 'peeking did not use it');
        assert.equal((await s().peekCode(g.id, d))?.used, true);
        assert.equal(await s().peekCode(g.id, digest()), null);
        assert.equal(await s().peekCode('someothergrant00', d), null);
      });

      it('is looked up under its own grant only', async () => {
        const d = digest();
        await s().saveCode(d, code(g), 60);
        assert.deepEqual(await s().consumeCode('someothergrant00', d), { status: 'missing' });
        assert.equal((await s().consumeCode(g.id, d)).status, 'ok');
      });

      it('a code whose grant was revoked is used up and reported revoked', async () => {
        const d = digest();
        await s().saveCode(d, code(g), 60);
        await s().revokeGrant(g.id);
        assert.deepEqual(await s().consumeCode(g.id, d), { status: 'revoked' });
        assert.equal((await s().consumeCode(g.id, d)).status, 'replayed');
      });

      it('concurrent redemptions: exactly one succeeds', async () => {
        const d = digest();
        await s().saveCode(d, code(g), 60);
        const results = await Promise.all(Array.from({ length: 10 }, () => s().consumeCode(g.id, d)));
        assert.equal(results.filter((r) => r.status === 'ok').length, 1);
        assert.equal(results.filter((r) => r.status === 'replayed').length, 9);
      });
    });

    describe('refresh tokens', () => {
      const s = useStore(make);

      async function withToken(ttlMs?: number) {
        const g = grant(`${uid('r')}@example.org`);
        await s().saveGrant(g);
        const d = digest();
        const t = refresh(g, ttlMs);
        await s().saveRefresh(d, t);
        return { g, d, t };
      }

      it('issue 16: reads a refresh token with its account (twice: the second read knows the JID already)', async () => {
        const { g, d, t } = await withToken();
        assert.deepEqual(await s().getRefreshAndAccount(g.id, d), { refresh: t, account: null }, 'no account under that JID yet');
        await s().createAccount({ jid: g.jid, passwordHash: 'x', createdAt: Date.now() });
        for (let i = 0; i < 2; i++) {
          const both = await s().getRefreshAndAccount(g.id, d);
          assert.deepEqual(both.refresh, t);
          assert.equal(both.account?.jid, g.jid);
        }
        assert.deepEqual(await s().getRefreshAndAccount(g.id, digest()), { refresh: null, account: null });
        await s().removeAccount(g.jid);
        assert.equal((await s().getRefreshAndAccount(g.id, d)).account, null, 'a removed account is not read from memory');
      });

      it('saves, reads and rotates', async () => {
        const { g, d, t } = await withToken();
        assert.deepEqual(await s().getRefresh(g.id, d), t);
        assert.equal(await s().getRefresh(g.id, digest()), null);
        assert.equal(await s().getRefresh('other-grant', d), null);

        const nd = digest();
        const next = { ...refresh(g), issuedAt: t.issuedAt + 1 };
        const usedBefore = (await s().getGrant(g.id))!.lastUsedAt;
        await sleep(5);
        const r = await s().rotateRefresh(g.id, d, nd, next);
        assert.deepEqual(r, { status: 'ok', previous: t });
        assert.ok((await s().getGrant(g.id))!.lastUsedAt > usedBefore, 'rotation marks the grant used');
        const old = await s().getRefresh(g.id, d);
        assert.ok(old && typeof old.rotatedAt === 'number', 'old token kept, marked rotated');
        assert.deepEqual({ ...old, rotatedAt: undefined }, { ...t, rotatedAt: undefined });
        assert.deepEqual(await s().getRefresh(g.id, nd), next);
      });

      it('issue 16: one-step rotation checks the client and expiry, keeps grant, client, JID and scope, and chains', async () => {
        const { g, d, t } = await withToken();
        assert.deepEqual(await s().rotateRefreshAs(g.id, d, digest(), 'another-client', { issuedAt: 1, expiresAt: Date.now() + 60_000 }), { status: 'other-client' });
        assert.equal((await s().getRefresh(g.id, d))?.rotatedAt, undefined, 'another client changes nothing');
        const usedBefore = (await s().getGrant(g.id))!.lastUsedAt;
        await sleep(5);
        const n1 = digest();
        const life1 = { issuedAt: Date.now(), expiresAt: Date.now() + 120_000 };
        assert.deepEqual(await s().rotateRefreshAs(g.id, d, n1, g.clientId, life1), { status: 'ok', previous: t });
        assert.ok((await s().getGrant(g.id))!.lastUsedAt > usedBefore, 'rotation marks the grant used');
        assert.equal(typeof (await s().getRefresh(g.id, d))?.rotatedAt, 'number', 'old token marked rotated');
        const successor = { grantId: g.id, clientId: g.clientId, jid: g.jid, scope: g.scope, ...life1 };
        assert.deepEqual(await s().getRefresh(g.id, n1), successor);
        // A successor rotates again, one step or the long way, and reads back the lifetime it was given.
        const n2 = digest();
        const life2 = { issuedAt: life1.issuedAt + 1, expiresAt: life1.expiresAt + 1 };
        assert.deepEqual(await s().rotateRefreshAs(g.id, n1, n2, g.clientId, life2), { status: 'ok', previous: successor });
        const n3 = digest();
        const r3 = await s().rotateRefresh(g.id, n2, n3, { ...successor, ...life2, issuedAt: life2.issuedAt + 1 });
        assert.deepEqual(r3, { status: 'ok', previous: { ...successor, ...life2 } });
        // Replaying any used token revokes the grant.
        assert.deepEqual(await s().rotateRefreshAs(g.id, n1, digest(), g.clientId, life2), { status: 'replayed', grantId: g.id });
        assert.equal(await s().grantExists(g.id), false);
        assert.equal(await s().getRefresh(g.id, n3), null, 'every token of the grant is gone');
      });

      it('issue 16: one-step rotation refuses an expired or unknown token, or one whose grant is gone', async () => {
        const { g, d } = await withToken(60);
        await sleep(120);
        const life = { issuedAt: Date.now(), expiresAt: Date.now() + 60_000 };
        assert.deepEqual(await s().rotateRefreshAs(g.id, d, digest(), g.clientId, life), { status: 'missing' });
        assert.deepEqual(await s().rotateRefreshAs(g.id, digest(), digest(), g.clientId, life), { status: 'missing' });
        const { g: g2, d: d2 } = await withToken();
        await s().revokeGrant(g2.id);
        assert.deepEqual(await s().rotateRefreshAs(g2.id, d2, digest(), g2.clientId, life), { status: 'missing' });
      });

      it('issue 16: the account of a grant is known without a round trip only while it stands', async () => {
        const { g, d } = await withToken();
        await s().createAccount({ jid: g.jid, passwordHash: 'x', createdAt: Date.now() - 1000 });
        await s().getRefreshAndAccount(g.id, d);
        const known = s().knownAccountOfGrant(g.id);
        // The memory store always knows; the Redis store only with its revocation feed on (the server's setting).
        assert.ok(known === null || known.jid === g.jid, JSON.stringify(known));
        await s().removeAccount(g.jid);
        assert.equal(s().knownAccountOfGrant(g.id), null, 'a removed account is not known any more');
      });

      it('rotating an already-rotated token revokes the grant', async () => {
        const { g, d } = await withToken();
        const nd = digest();
        assert.equal((await s().rotateRefresh(g.id, d, nd, refresh(g))).status, 'ok');
        const r = await s().rotateRefresh(g.id, d, digest(), refresh(g));
        assert.deepEqual(r, { status: 'replayed', grantId: g.id });
        assert.equal(await s().grantExists(g.id), false);
        assert.equal(await s().getRefresh(g.id, nd), null, 'the new token is gone too');
        assert.equal(await s().getRefresh(g.id, d), null);
        assert.deepEqual(await s().listGrants(g.jid), []);
        assert.equal(await s().findGrant(g.jid, g.clientId), null);
      });

      it('rotation needs the token and its grant', async () => {
        const { g } = await withToken();
        assert.deepEqual(await s().rotateRefresh(g.id, digest(), digest(), refresh(g)), { status: 'missing' });
        assert.deepEqual(await s().rotateRefresh('no-such-grant', digest(), digest(), refresh(g)), { status: 'missing' });
        const { g: g2, d: d2 } = await withToken();
        await s().revokeGrant(g2.id);
        assert.deepEqual(await s().rotateRefresh(g2.id, d2, digest(), refresh(g2)), { status: 'missing' });
      });

      it('issue 12 #11: a grant keeps at most MAX_REFRESH_PER_GRANT tokens, forgetting those that expire first', async () => {
        const g = grant(`${uid('u')}@example.org`);
        await s().saveGrant(g);
        const now = Date.now();
        const digests: string[] = [];
        for (let i = 0; i < MAX_REFRESH_PER_GRANT + 10; i++) {
          const d = digest();
          digests.push(d);
          // expiring later and later: the first ten expire first
          await s().saveRefresh(d, { ...refresh(g), expiresAt: now + 60_000 + i * 10 });
        }
        for (const d of digests.slice(0, 10)) assert.equal(await s().getRefresh(g.id, d), null);
        assert.notEqual(await s().getRefresh(g.id, digests[10]!), null);
        // rotation is capped too
        const next = digest();
        assert.equal((await s().rotateRefresh(g.id, digests[10]!, next, { ...refresh(g), expiresAt: now + 600_000 })).status, 'ok');
        assert.equal(await s().getRefresh(g.id, digests[10]!), null, 'the earliest-expiring (the rotated one) went');
        assert.notEqual(await s().getRefresh(g.id, next), null);
        assert.notEqual(await s().getRefresh(g.id, digests.at(-1)!), null);
      });

      it('is not stored for a grant that does not exist', async () => {
        const g = grant('ghost@example.org');
        const d = digest();
        await s().saveRefresh(d, refresh(g));
        assert.equal(await s().getRefresh(g.id, d), null);
      });

      it('honours expiresAt', async () => {
        const { g, d } = await withToken(1000);
        assert.notEqual(await s().getRefresh(g.id, d), null);
        await sleep(1150);
        assert.equal(await s().getRefresh(g.id, d), null);
        assert.deepEqual(await s().rotateRefresh(g.id, d, digest(), refresh(g)), { status: 'missing' });
        assert.equal(await s().grantExists(g.id), true, 'expiry is not a replay');
      });

      it('concurrent rotations of one token: exactly one succeeds', async () => {
        const { g, d } = await withToken();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => s().rotateRefresh(g.id, d, digest(), refresh(g))),
        );
        assert.equal(results.filter((r) => r.status === 'ok').length, 1);
        assert.ok(results.some((r) => r.status === 'replayed'));
        assert.ok(results.every((r) => r.status !== 'ok' || r.previous.grantId === g.id));
        assert.equal(await s().grantExists(g.id), false, 'the replay revoked the grant');
      });
    });

    describe('device grants', () => {
      const s = useStore(make);

      it('creates, refuses a taken user code, finds by user code', async () => {
        const dv = device();
        assert.equal(await s().createDevice(dv, digest()), true);
        assert.equal(await s().createDevice({ ...device(), userCode: dv.userCode }, digest()), false);
        assert.deepEqual(await s().findDeviceByUserCode(dv.userCode), dv);
        assert.equal(await s().findDeviceByUserCode('ZZZZZZZZ'), null);
      });

      it('polls: pending, slow_down (+5 s), pending again after the new interval', async () => {
        const dv = device();
        const dd = digest();
        await s().createDevice(dv, dd);
        const t = Date.now();
        assert.deepEqual(await s().pollDevice(dv.id, dd, t, dv.clientId), { status: 'pending', interval: 5 });
        assert.deepEqual(await s().pollDevice(dv.id, dd, t + 1000, dv.clientId), { status: 'slow_down', interval: 10 });
        assert.equal((await s().findDeviceByUserCode(dv.userCode))?.interval, 10);
        assert.deepEqual(await s().pollDevice(dv.id, dd, t + 5000, dv.clientId), { status: 'slow_down', interval: 15 });
        assert.deepEqual(await s().pollDevice(dv.id, dd, t + 15_000, dv.clientId), { status: 'pending', interval: 15 });
        assert.equal((await s().findDeviceByUserCode(dv.userCode))?.lastPollAt, t + 15_000);
      });

      it('approved: returned exactly once, then gone', async () => {
        const dv = device();
        const dd = digest();
        await s().createDevice(dv, dd);
        const t = Date.now();
        assert.equal((await s().pollDevice(dv.id, dd, t, dv.clientId)).status, 'pending');
        // amr: how the approving browser signed in, for the device's ID token (issue 26 review).
        const decision = { status: 'approved' as const, jid: 'alice@example.org', grantId: uid('g'), authTime: 1_700_000_000, amr: ['pwd', 'otp', 'mfa'] };
        assert.equal(await s().decideDevice(dv.userCode, decision), true);
        assert.equal(await s().decideDevice(dv.userCode, { status: 'denied' }), false, 'decided once');
        assert.equal((await s().findDeviceByUserCode(dv.userCode))?.status, 'approved');

        const r = await s().pollDevice(dv.id, dd, t + 6000, dv.clientId);
        assert.equal(r.status, 'approved');
        assert.ok(r.status === 'approved');
        assert.deepEqual(r.device, {
          ...dv, status: 'approved', jid: decision.jid, grantId: decision.grantId, authTime: decision.authTime, amr: decision.amr, lastPollAt: t,
        });
        assert.deepEqual(await s().pollDevice(dv.id, dd, t + 12_000, dv.clientId), { status: 'missing' });
        assert.equal(await s().findDeviceByUserCode(dv.userCode), null);
      });

      it('denied: reported once, then missing', async () => {
        const dv = device();
        const dd = digest();
        await s().createDevice(dv, dd);
        assert.equal(await s().decideDevice(dv.userCode, { status: 'denied' }), true);
        assert.deepEqual(await s().pollDevice(dv.id, dd, Date.now(), dv.clientId), { status: 'denied' });
        assert.deepEqual(await s().pollDevice(dv.id, dd, Date.now() + 6000, dv.clientId), { status: 'missing' });
        assert.equal(await s().decideDevice(dv.userCode, { status: 'denied' }), false);
      });

      it('a wrong device code digest reads as missing and changes nothing', async () => {
        const dv = device();
        const dd = digest();
        await s().createDevice(dv, dd);
        await s().decideDevice(dv.userCode, { status: 'approved', jid: 'a@example.org', grantId: 'g', authTime: 1 });
        assert.deepEqual(await s().pollDevice(dv.id, digest(), Date.now(), dv.clientId), { status: 'missing' });
        assert.deepEqual(await s().pollDevice('unknown', dd, Date.now(), dv.clientId), { status: 'missing' });
        assert.equal((await s().pollDevice(dv.id, dd, Date.now(), dv.clientId)).status, 'approved');
      });

      it('issue 12 #9: a poll by another client changes nothing: the approval waits for its own client', async () => {
        const dv = device();
        const dd = digest();
        await s().createDevice(dv, dd);
        await s().decideDevice(dv.userCode, { status: 'approved', jid: 'a@example.org', grantId: 'g', authTime: 1 });
        assert.deepEqual(await s().pollDevice(dv.id, dd, Date.now(), 'another-client'), { status: 'wrong_client' });
        assert.equal((await s().findDeviceByUserCode(dv.userCode))?.status, 'approved', 'still there');
        assert.equal((await s().pollDevice(dv.id, dd, Date.now(), dv.clientId)).status, 'approved');
      });

      it('expires', async () => {
        const dv = device(1000);
        const dd = digest();
        await s().createDevice(dv, dd);
        assert.notEqual(await s().findDeviceByUserCode(dv.userCode), null);
        await sleep(1150);
        assert.equal(await s().findDeviceByUserCode(dv.userCode), null);
        assert.equal(await s().decideDevice(dv.userCode, { status: 'denied' }), false);
        assert.deepEqual(await s().pollDevice(dv.id, dd, Date.now(), dv.clientId), { status: 'missing' });
        assert.equal(await s().createDevice({ ...device(), userCode: dv.userCode }, digest()), true, 'user code free again');
      });
    });

    describe('login sessions', () => {
      const s = useStore(make);

      before(async () => {
        await s().createAccount(account('alice@example.org'));
      });

      it('saves, reads, deletes', async () => {
        const x = session();
        await s().saveSession(x);
        assert.deepEqual(await s().getSession(x.id), x);
        assert.equal(await s().getSession('nope'), null);
        await s().deleteSession(x.id);
        assert.equal(await s().getSession(x.id), null);
      });

      it('issue 12 #1: a session is valid only while its account exists with the epoch it carries', async () => {
        const a = { ...account(), epoch: 'first' };
        await s().createAccount(a);
        const mk = (epoch?: string): LoginSession => ({ ...session(), jid: a.jid, epoch });
        const live = mk('first');
        const stale = mk('older');
        await s().saveSession(live);
        await s().saveSession(stale);
        assert.deepEqual(await s().getSession(live.id), live);
        assert.equal(await s().getSession(stale.id), null, 'another epoch');

        // "sign out everywhere": a new epoch ends every session; one re-bound to it survives
        const kept = mk('first');
        await s().saveSession(kept);
        const epoch = await s().renewAccountEpoch(a.jid);
        assert.ok(epoch && epoch !== 'first');
        assert.equal(await s().getSession(live.id), null);
        await s().saveSession({ ...kept, epoch: epoch! });
        assert.equal((await s().getSession(kept.id))?.epoch, epoch);
        assert.equal(await s().renewAccountEpoch(`nobody-${a.jid}`), null);

        // a password change ends them too
        await s().setPasswordCredentials(a.jid, { passwordHash: 'h2' });
        assert.equal(await s().getSession(kept.id), null);

        // removal, and a re-created account (another random epoch), end them for good
        const now = (await s().getAccount(a.jid))!.epoch;
        const before = mk(now);
        await s().saveSession(before);
        assert.notEqual(await s().getSession(before.id), null);
        await s().removeAccount(a.jid);
        assert.equal(await s().getSession(before.id), null, 'account removed');
        const again = mk(now);
        await s().saveSession(again);
        await s().createAccount({ ...a, epoch: 'reborn' });
        assert.equal(await s().getSession(again.id), null, 'a re-created JID does not inherit sessions');

        // accounts and sessions from before epochs existed ('' on both sides) still match
        const legacy = account();
        await s().createAccount(legacy);
        const old = { ...session(), jid: legacy.jid };
        await s().saveSession(old);
        assert.deepEqual(await s().getSession(old.id), old);
      });

      it('expires', async () => {
        const x = session(1000);
        await s().saveSession(x);
        assert.notEqual(await s().getSession(x.id), null);
        await sleep(1150);
        assert.equal(await s().getSession(x.id), null);
      });
    });

    describe('rate limiting', () => {
      const s = useStore(make);

      it('counts until blocked, peeks without counting, resets', async () => {
        const rl = s().rateLimiter({ name: uid('login'), points: 3, duration: 60 });
        assert.deepEqual(await rl.peek('k'), { allowed: true, remaining: 3, retryAfterMs: 0 });
        for (const remaining of [2, 1, 0]) {
          const { windowLeftMs, ...res } = await rl.consume('k');
          assert.deepEqual(res, { allowed: true, remaining, retryAfterMs: 0 });
          assert.ok(windowLeftMs! > 0 && windowLeftMs! <= 60_000, `windowLeftMs ${windowLeftMs}`);
        }
        const blocked = await rl.consume('k');
        assert.equal(blocked.allowed, false);
        assert.equal(blocked.remaining, 0);
        assert.ok(blocked.retryAfterMs > 0 && blocked.retryAfterMs <= 60_000, `retryAfterMs ${blocked.retryAfterMs}`);
        const peeked = await rl.peek('k');
        assert.equal(peeked.allowed, false);
        assert.ok(peeked.retryAfterMs > 0);
        assert.equal((await rl.consume('other')).allowed, true, 'keys are independent');

        await rl.reset('k');
        assert.deepEqual(await rl.peek('k'), { allowed: true, remaining: 3, retryAfterMs: 0 });
        assert.deepEqual({ ...(await rl.consume('k')), windowLeftMs: 0 }, { allowed: true, remaining: 2, retryAfterMs: 0, windowLeftMs: 0 });
      });

      it('issue 12 #2: concurrent consumes allow at most the limit; a refund gives one point back', async () => {
        const rl = s().rateLimiter({ name: uid('burst'), points: 5, duration: 60 });
        const results = await Promise.all(Array.from({ length: 40 }, () => rl.consume('k')));
        assert.equal(results.filter((r) => r.allowed).length, 5);
        await rl.reset('k');
        for (let i = 0; i < 5; i++) await rl.consume('k');
        assert.equal((await rl.peek('k')).allowed, false);
        await rl.refund('k');
        assert.equal((await rl.peek('k')).allowed, true);
        assert.equal((await rl.consume('k')).allowed, true);
        assert.equal((await rl.consume('k')).allowed, false);
      });

      it('blockDuration extends the refusal past the window', async () => {
        const rl = s().rateLimiter({ name: uid('block'), points: 1, duration: 1, blockDuration: 120 });
        assert.equal((await rl.consume('k')).allowed, true);
        const r = await rl.consume('k');
        assert.equal(r.allowed, false);
        assert.ok(r.retryAfterMs > 60_000, `retryAfterMs ${r.retryAfterMs}`);
      });

      it('rules with different names count separately', async () => {
        const a = s().rateLimiter({ name: uid('a'), points: 1, duration: 60 });
        const b = s().rateLimiter({ name: uid('b'), points: 1, duration: 60 });
        assert.equal((await a.consume('k')).allowed, true);
        assert.equal((await a.consume('k')).allowed, false);
        assert.equal((await b.consume('k')).allowed, true);
      });
    });

    describe('server info', () => {
      const s = useStore(make);
      it('issue 12 #17: keeps the last published issuer and hosts for the extauth bridge', async () => {
        assert.equal(await s().serverInfo(), null);
        await s().publishServerInfo({ issuer: 'https://a.example', hosts: ['a.example'], publishedAt: 1 });
        const second = { issuer: 'https://b.example', hosts: ['b.example', 'c.example'], publishedAt: 2 };
        await s().publishServerInfo(second);
        assert.deepEqual(await s().serverInfo(), second);
      });
    });

    describe('health', () => {
      const s = useStore(make);
      it('ping returns a latency', async () => {
        const ms = await s().ping();
        assert.ok(typeof ms === 'number' && ms >= 0 && ms < 5000);
      });
    });
  });
}
