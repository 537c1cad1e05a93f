// Issue 26 (review): "is a second factor due" is one decision
// (src/oauth/account-life/sign-in-assurance.ts) that every browser flow asks.
// An old, perhaps stolen, one-factor session must not set up a factor of its
// own through the authorization endpoint's step-up (and so become a fresh
// two-factor session that makes app passwords); the device page asks what
// the authorization endpoint asks before its consent; and the device grant's
// ID token says how its approver really signed in.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { csrfOf, FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, pkcePair } from '../helpers/flow.js';
import { startServerOnLocalhost, type TestServer } from '../helpers/server.js';
import { totpCode } from '../../src/accounts/second-factor/totp.js';

const secretIn = (html: string) => /<p class="code-box totp-secret">([^<]+)<\/p>/.exec(html)?.[1]?.replace(/\s/g, '');
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

async function startDevice(base: string): Promise<{ device_code: string; user_code: string }> {
  const res = await fetch(`${base}/oauth2/device`, { method: 'POST', body: new URLSearchParams({ client_id: 'tv', scope: 'openid xmpp' }) });
  assert.equal(res.status, 200);
  return (await res.json()) as { device_code: string; user_code: string };
}

async function signIn(base: string, b: FormBrowser): Promise<void> {
  const page = await (await b.get(`${base}/account`)).text();
  assert.equal((await b.submit(base, page, { username: 'alice', password: PASSWORD })).status, 303);
}

/** The operator turns mfa.required on while sessions of one factor live. */
const requireMfa = (server: TestServer) => ((server.app.config.mfa as { required: string }).required = 'required');

describe('issue 26: an old one-factor session is asked for the full sign-in, never for a step of its own', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    ({ server, base } = await startServerOnLocalhost({ recent_sign_in: 1 }, { redis: false }));
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server?.stop());

  it('issue 26: under mfa.required: required a stolen old session gets the password page at /oauth2/authorize and the device page, cannot approve, and stays unable to make an app password', async () => {
    const victim = new FormBrowser();
    await signIn(base, victim);
    await sleep(2200);
    const thief = new FormBrowser();
    thief.copyCookiesFrom(victim);
    requireMfa(server);

    const { challenge } = pkcePair();
    const res = await thief.get(authUrl(base, { response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's' }));
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.equal(secretIn(html), undefined, 'no TOTP set-up for an old session');
    assert.match(html, /name="password"/, 'the full sign-in, password first');
    assert.match(html, /your sign-in is not recent/);
    // The login page's interaction, posted straight to the consent: still no code for the client.
    const consent = await thief.submit(base, html.replace(/action="[^"]*"/, 'action="/oauth2/authorize/consent"'), { decision: 'approve' });
    assert.equal(consent.status, 200);
    assert.match(await consent.text(), /name="password"/);

    const { user_code } = await startDevice(base);
    const entry = await (await thief.get(`${base}/oauth2/device`)).text();
    const verify = await (await thief.submit(base, entry, { user_code })).text();
    assert.doesNotMatch(verify, /name="decision"/, 'no consent for an old one-factor session');
    assert.equal(secretIn(verify), undefined);
    assert.match(verify, /name="password"/);

    const csrf = csrfOf(await (await thief.get(`${base}/account`)).text());
    assert.equal((await thief.post(`${base}/account/app-passwords`, { csrf, label: 'persist' })).status, 403, 'still not a recent sign-in');
  });
});

describe('issue 26: the device page asks what the authorization endpoint asks; its ID token says how the approver signed in', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    ({ server, base } = await startServerOnLocalhost({ device_poll_interval: 1 }, { redis: true }));
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server?.stop());

  it('issue 26: a recent one-factor session under mfa.required: required sets TOTP up before the device consent; the enrolment keeps its sign-in time; the ID token has amr pwd otp mfa and acr 2fa', async () => {
    const b = new FormBrowser();
    await signIn(base, b);
    const signedInAt = Math.floor(Date.now() / 1000);
    requireMfa(server);
    await sleep(1100);

    const { device_code, user_code } = await startDevice(base);
    const entry = await (await b.get(`${base}/oauth2/device`)).text();
    const enrol = await (await b.submit(base, entry, { user_code })).text();
    assert.doesNotMatch(enrol, /name="decision"/, 'the factor is due before the consent');
    const secret = secretIn(enrol);
    assert.ok(secret, 'the TOTP set-up page');
    const codes = await b.submit(base, enrol, { code: totpCode(secret) });
    assert.equal(codes.status, 200);
    const next = /href="([^"]*user_code[^"]*)"/.exec(await codes.text())?.[1]?.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
    assert.ok(next, 'the recovery codes lead back to the device page');


    const again = await (await b.get(new URL(next, base).href)).text();
    assert.match(again, new RegExp(`value="${user_code.replace('-', '')}"`), 'the entry page has the code again');
    const consent = await (await b.submit(base, again, { user_code })).text();
    assert.match(consent, /name="decision"/, consent.replace(/\s+/g, ' ').slice(0, 1500));
    assert.equal((await b.submit(base, consent, { decision: 'approve' })).status, 200);

    const token = await fetch(`${base}/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code, client_id: 'tv' }) });
    assert.equal(token.status, 200);
    const { id_token } = (await token.json()) as { id_token: string };
    const claims = JSON.parse(Buffer.from(id_token.split('.')[1]!, 'base64url').toString()) as { amr: string[]; acr: string; auth_time: number };
    assert.deepEqual([...claims.amr].sort(), ['mfa', 'otp', 'pwd']);
    assert.equal(claims.acr, 'urn:xmpp-oauth:acr:2fa');
    assert.ok(claims.auth_time <= signedInAt, `auth_time ${claims.auth_time} is the password's, not the enrolment's (${signedInAt})`);
  });
});
