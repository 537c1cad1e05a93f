// Issue 24 #3 (and what it needs of #2): on Prosody 13 with mod_sasl2,
// mod_sasl2_bind2 and mod_sasl2_fast, a FAST token (XEP-0484) minted after a
// login through our module lives only as long as that login's grant, app
// password, password or account (fast.lib.lua). A raw SASL2 client logs in,
// asks for a FAST token, logs in again with it; then the credential behind the
// first login is revoked / changed / disabled, and both the FAST login and the
// original login fail, and the live session ends within 5 s. Also: our PLAIN,
// OAUTHBEARER, X-OAUTH2 and SCRAM work inside SASL2. Real Prosody 13, real
// xmpp-oauth, real Redis.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createAppPassword } from '../../src/oauth/account-life/app-passwords.js';
import { liveSessionsOver } from '../../src/xmpp/cam-protocol.js';
import { revokeAppPassword } from '../helpers/app-passwords.js';
import { changePasswordOnAccount, revokeGrantOnAccount, signInToAccount } from '../helpers/account-page.js';
import { FormBrowser } from '../helpers/browser.js';
import { grantFor, REGISTRATION_KEY } from '../helpers/cam.js';
import { runCli } from '../helpers/cli.js';
import { startProsodyStack, type ProsodyStack } from '../helpers/prosody-stack.js';
import { fastResponse, sasl2Stream, scramClient, type Sasl2Stream, type UserAgent } from '../helpers/sasl2-client.js';
import { revoke, tokensFor } from '../helpers/tokens.js';
import { oauthbearerMessage } from '../helpers/xmpp-client.js';

const PW = {
  alice: 'alice password 1234', bob: 'bob password 1234', carol: 'carol password 1234', dave: 'dave password 1234', erin: 'erin password 1234', frank: 'frank password 1234',
  gina: 'gina password 1234', hank: 'hank password 1234', ivan: 'ivan password 1234', judy: 'judy password 1234',
};
const FAST_MECH = 'HT-SHA-256-NONE';
const CLOSED = { condition: 'policy-violation', text: 'access revoked' };

describe('issue 24 #3 on Prosody 13 (mod_sasl2 + bind2 + fast + sm): FAST tokens bound to the login they came from', { timeout: 240_000 }, () => {
  let stack: ProsodyStack;
  const open: Sasl2Stream[] = [];
  const stream = async (user: string) => {
    const s = await sasl2Stream(stack.target, user);
    open.push(s);
    return s;
  };
  const agent = (software: string): UserAgent => ({ id: randomUUID(), software, device: 'test bench' });
  const cli = (...args: string[]) => runCli(args, { env: { XMPP_OAUTH_REDIS__URL: stack.server.redisUrl! } });

  /** A SASL2 login asking for a FAST token; returns the live (bound) session and the token. */
  async function loginForToken(user: string, mechanism: string, initial: string | Buffer, ua: UserAgent) {
    const s = await stream(user);
    assert.ok(s.mechanisms.includes(mechanism), `${mechanism} offered in SASL2: ${s.mechanisms.join(' ')}`);
    assert.ok(s.fast.includes(FAST_MECH), `FAST offered: ${s.fast.join(' ')}`);
    const o = await s.authenticate(mechanism, initial, { agent: ua, requestToken: FAST_MECH });
    assert.equal(o.name, 'success', o.raw);
    assert.ok(o.token, `a FAST token was minted: ${o.raw}`);
    await s.bind(`r-${ua.software}`);
    return { session: s, token: o.token };
  }

  /** A FAST login with `token`; the outcome, and the stream (bound on success). */
  async function fastLogin(user: string, token: string, ua: UserAgent) {
    const s = await stream(user);
    const o = await s.authenticate(FAST_MECH, fastResponse(user, token), { agent: ua, useFast: true });
    if (o.name === 'success') await s.bind(`fast-${ua.software}`);
    return { outcome: o, session: s };
  }

  async function sasl2Login(user: string, mechanism: string, initial: string | Buffer) {
    const s = await stream(user);
    const o = await s.authenticate(mechanism, initial, { agent: agent('check') });
    s.close();
    return o;
  }

  async function closedWithin(s: Sasl2Stream, ms: number) {
    const t0 = Date.now();
    const ended = await Promise.race([s.ended, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`still open after ${ms} ms`)), ms))]);
    assert.ok(Date.now() - t0 <= ms);
    return ended;
  }

  before(async () => {
    stack = await startProsodyStack({
      version: '13',
      accounts: Object.fromEntries(Object.entries(PW).map(([u, pw]) => [`${u}@localhost`, pw])),
      // SCRAM offered too (docs/migration.md): the raw client picks its mechanism itself.
      // As an operator on Debian 13 enables them (mod_sasl2_sm resumes XEP-0198 sessions inside SASL2).
      prosody: { modules: ['smacks', 'sasl2', 'sasl2_bind2', 'sasl2_fast', 'sasl2_sm'], extraConfig: 'xmpp_oauth_scram = { "SCRAM-SHA-1", "SCRAM-SHA-256" }' },
      moduleOptions: { xmpp_oauth_timeout: 5 },
      // Dynamic registration, for a client that may ask for xmpp:account:read (grantFor).
      server: { registration_key: REGISTRATION_KEY },
    });
  });
  after(async () => {
    if (process.env.DEBUG_PROSODY_LOG) (await import('node:fs')).writeFileSync(process.env.DEBUG_PROSODY_LOG, stack.prosody.log());
    for (const s of open) s.close();
    await stack?.stop();
  });

  /** OAUTHBEARER in SASL2 → FAST token → FAST login; `revokeGrant` ends the grant; both sessions close, FAST and OAUTHBEARER fail. */
  async function oauthbearerFastSequence(user: string, revokeGrant: (refreshToken: string) => Promise<void>) {
    const tokens = await tokensFor(stack.server.url, user, PW[user as keyof typeof PW], 'openid xmpp offline_access');
    const ua = agent(`oauthbearer-${user}`);
    const { session, token } = await loginForToken(user, 'OAUTHBEARER', oauthbearerMessage(tokens.access_token), ua);
    const fast = await fastLogin(user, token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);
    await fast.session.ping();

    await revokeGrant(tokens.refresh_token);
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    assert.deepEqual(await closedWithin(fast.session, 5000), CLOSED, 'the session that logged in with FAST belongs to the grant too');

    const again = await fastLogin(user, token, ua);
    assert.equal(again.outcome.name, 'failure', again.outcome.raw);
    assert.equal(again.outcome.condition, 'credentials-expired');
    // RFC 7628: the refusal comes as an error challenge, then <failure/> once the client acknowledges it.
    const s = await stream(user);
    const bearer = await s.authenticate('OAUTHBEARER', oauthbearerMessage(tokens.access_token), { agent: agent('check') });
    assert.equal(bearer.name, 'challenge', bearer.raw);
    assert.equal((JSON.parse(bearer.data) as { status: string }).status, 'invalid_token');
    assert.equal((await s.respond('\x01')).name, 'failure');
  }

  it('issue 24 #3 (Prosody 13, with mod_sasl2_sm): OAUTHBEARER in SASL2 → FAST token → FAST login; after the grant is revoked on /account both sessions end within 5 s, FAST and OAUTHBEARER fail', async () => {
    const browser = new FormBrowser();
    await signInToAccount(browser, stack.server.url, 'alice', PW.alice);
    await oauthbearerFastSequence('alice', () => revokeGrantOnAccount(browser, stack.server.url, 'Test Web App'));
  });

  it('issue 24 #3 (Prosody 13): the same sequence when the grant is revoked by the app (RFC 7009)', async () => {
    await oauthbearerFastSequence('alice', (refresh) => revoke(stack.server.url, refresh));
  });

  it('issue 24 #3 (Prosody 13): an app password (PLAIN in SASL2) → FAST; revoking it on /account ends the session within 5 s, FAST and PLAIN fail', async () => {
    const { password } = await createAppPassword(stack.server.app.core, 'bob@localhost', { label: 'Monal on phone' });
    const ua = agent('apppassword');
    const { session, token } = await loginForToken('bob', 'PLAIN', `\0bob\0${password}`, ua);
    const fast = await fastLogin('bob', token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);

    const browser = new FormBrowser();
    await signInToAccount(browser, stack.server.url, 'bob', PW.bob);
    await revokeAppPassword(browser, stack.server.url, 'Monal on phone');
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    assert.deepEqual(await closedWithin(fast.session, 5000), CLOSED);

    const again = await fastLogin('bob', token, ua);
    assert.equal(again.outcome.condition, 'credentials-expired', again.outcome.raw);
    assert.equal((await sasl2Login('bob', 'PLAIN', `\0bob\0${password}`)).name, 'failure');
    // The account's password is untouched.
    assert.equal((await sasl2Login('bob', 'PLAIN', `\0bob\0${PW.bob}`)).name, 'success');
  });

  it('issue 24 #3 (Prosody 13): a password login (PLAIN in SASL2) → FAST; after a password change on /account both sessions end within 5 s, FAST and the old password fail, the new one works', async () => {
    const ua = agent('password');
    const { session, token } = await loginForToken('carol', 'PLAIN', `\0carol\0${PW.carol}`, ua);
    const fast = await fastLogin('carol', token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);

    const browser = new FormBrowser();
    await signInToAccount(browser, stack.server.url, 'carol', PW.carol);
    await changePasswordOnAccount(browser, stack.server.url, PW.carol, 'carol new password 5678');
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    assert.deepEqual(await closedWithin(fast.session, 5000), CLOSED, 'the FAST session logged in with the old password too');
    const again = await fastLogin('carol', token, ua);
    assert.equal(again.outcome.condition, 'credentials-expired', again.outcome.raw);
    assert.equal((await sasl2Login('carol', 'PLAIN', `\0carol\0${PW.carol}`)).name, 'failure');

    // A new login with the new password gets a new token, which works.
    const fresh = await loginForToken('carol', 'PLAIN', `\0carol\0carol new password 5678`, ua);
    assert.equal((await fastLogin('carol', fresh.token, ua)).outcome.name, 'success');
  });

  it('issue 26: switching to app passwords only on /account ends the password session and its FAST session within 5 s; the FAST token and PLAIN fail', async () => {
    const ua = agent('password-judy');
    const { session, token } = await loginForToken('judy', 'PLAIN', `\0judy\0${PW.judy}`, ua);
    const fast = await fastLogin('judy', token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);

    const browser = new FormBrowser();
    await signInToAccount(browser, stack.server.url, 'judy', PW.judy);
    const html = await (await browser.get(`${stack.server.url}/account`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const set = await browser.post(`${stack.server.url}/account/password-logins`, { csrf, password_logins: 'app_passwords_only' });
    assert.equal(set.headers.get('location'), '/account?notice=account.notice.password_logins');
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    assert.deepEqual(await closedWithin(fast.session, 5000), CLOSED, 'the FAST session came from the password login');
    const again = await fastLogin('judy', token, ua);
    assert.equal(again.outcome.name, 'failure', again.outcome.raw);
    assert.equal((await sasl2Login('judy', 'PLAIN', `\0judy\0${PW.judy}`)).name, 'failure');
  });

  it('issue 24 #3 (Prosody 13): `xmpp-oauth user disable` ends the session within 5 s, and FAST and PLAIN fail', async () => {
    const ua = agent('disable');
    const { session, token } = await loginForToken('dave', 'PLAIN', `\0dave\0${PW.dave}`, ua);
    const fast = await fastLogin('dave', token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);

    const res = await cli('user', 'disable', 'dave@localhost');
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    assert.deepEqual(await closedWithin(fast.session, 5000), CLOSED);
    const again = await fastLogin('dave', token, ua);
    assert.equal(again.outcome.condition, 'credentials-expired', again.outcome.raw);
    assert.equal((await sasl2Login('dave', 'PLAIN', `\0dave\0${PW.dave}`)).name, 'failure');
  });

  it('issue 24 #3 (Prosody 13): `xmpp-oauth user remove` makes a FAST token fail, even once the JID is created again', async () => {
    const ua = agent('remove');
    const { session, token } = await loginForToken('gina', 'PLAIN', `\0gina\0${PW.gina}`, ua);
    const res = await cli('user', 'remove', 'gina@localhost');
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await closedWithin(session, 5000), CLOSED);
    await stack.server.app.accounts.create('gina@localhost', 'new owner password 1234');
    const again = await fastLogin('gina', token, ua);
    assert.equal(again.outcome.name, 'failure', again.outcome.raw);
    // The removal purged Prosody's data of the account, FAST tokens included (not-authorized: no such
    // token); had the purge not run, the binding check refuses it (credentials-expired).
    assert.ok(['not-authorized', 'credentials-expired'].includes(String(again.outcome.condition)), again.outcome.raw);
  });

  it('issue 24 #3 (Prosody 13): a FAST session keeps the scope of the login it came from (xmpp:account:read stays restricted) and its grant', async () => {
    const g = await grantFor(stack.server.url, stack.server, 'hank@localhost', PW.hank, 'openid xmpp:account:read');
    const ua = agent('restricted');
    const first = await loginForToken('hank', 'OAUTHBEARER', oauthbearerMessage(g.access_token), ua);
    const token = first.token;
    first.session.close();
    await first.session.ended;
    const fast = await fastLogin('hank', token, ua);
    assert.equal(fast.outcome.name, 'success', fast.outcome.raw);
    // An IQ its server answers for a full session (software version) is refused: the session stays restricted.
    const [refused] = await fast.session.exchange(
      `<iq type='get' to='localhost' id='v1'><query xmlns='jabber:iq:version'/></iq>`,
      /<iq\b[^>]*\bid=['"]v1['"][\s\S]*?<\/iq>/,
    );
    assert.match(refused, /type=['"]error['"]/);
    assert.match(refused, /policy-violation/);
    // The component sees the FAST session under the grant (XEP-0494 / account page "connected").
    const live = await liveSessionsOver(stack.server.app.link!, ['localhost'], silentLogger)('hank@localhost');
    assert.deepEqual(live?.map((l) => l.grantId), [g.grantId]);
  });

  it('issue 24 #2 (Prosody 13): X-OAUTH2 inside SASL2 logs in, and a bogus token does not', async () => {
    const tokens = await tokensFor(stack.server.url, 'erin', PW.erin, 'openid xmpp offline_access');
    const ok = await sasl2Login('erin', 'X-OAUTH2', `\0erin\0${tokens.access_token}`);
    assert.equal(ok.name, 'success', ok.raw);
    assert.equal(ok.authzid?.split('/')[0], 'erin@localhost');
    assert.equal((await sasl2Login('erin', 'X-OAUTH2', `\0erin\0not-a-token`)).name, 'failure');
  });

  it('issue 24 #2 (Prosody 13): PLAIN with a password and with an access token inside SASL2', async () => {
    assert.equal((await sasl2Login('erin', 'PLAIN', `\0erin\0${PW.erin}`)).name, 'success');
    const tokens = await tokensFor(stack.server.url, 'erin', PW.erin, 'openid xmpp offline_access');
    assert.equal((await sasl2Login('erin', 'PLAIN', `\0erin\0${tokens.access_token}`)).name, 'success');
    assert.equal((await sasl2Login('erin', 'PLAIN', `\0erin\0wrong password`)).name, 'failure');
  });

  for (const [mech, hash] of [['SCRAM-SHA-256', 'sha256'], ['SCRAM-SHA-1', 'sha1']] as const) {
    it(`issue 24 #2 (Prosody 13): ${mech} inside SASL2 logs in (server signature checked), and a FAST token from it works until the password changes`, async () => {
      const ua: UserAgent = { id: randomUUID(), software: mech };
      const s = await stream('frank');
      assert.ok(s.mechanisms.includes(mech), s.mechanisms.join(' '));
      const scram = scramClient(hash, 'frank', PW.frank);
      const challenge = await s.authenticate(mech, scram.first, { agent: ua, requestToken: FAST_MECH });
      assert.equal(challenge.name, 'challenge', challenge.raw);
      const done = await s.respond(scram.final(challenge.data));
      assert.equal(done.name, 'success', done.raw);
      assert.ok(scram.verified(done.data), `server signature: ${done.data}`);
      assert.ok(done.token, 'a FAST token was minted after SCRAM');
      s.close();

      const f = await stream('frank');
      assert.equal((await f.authenticate(FAST_MECH, fastResponse('frank', done.token), { agent: ua, useFast: true })).name, 'success');
      f.close();
      if (mech === 'SCRAM-SHA-1') {
        await stack.server.app.accounts.setPassword('frank@localhost', 'frank password 5678');
        const g = await stream('frank');
        assert.equal((await g.authenticate(FAST_MECH, fastResponse('frank', done.token), { agent: ua, useFast: true })).condition, 'credentials-expired');
      }
    });
  }

  // Last: it takes the component away from the stack.
  it('issue 24 #3 (Prosody 13): with xmpp-oauth away a FAST login fails as temporary-auth-failure, never falls through', async () => {
    const ua = agent('outage');
    const { token } = await loginForToken('ivan', 'PLAIN', `\0ivan\0${PW.ivan}`, ua);
    await stack.server.app.link!.stop();
    const away = await fastLogin('ivan', token, ua);
    assert.equal(away.outcome.name, 'failure', away.outcome.raw);
    assert.equal(away.outcome.condition, 'temporary-auth-failure');
  });
});
