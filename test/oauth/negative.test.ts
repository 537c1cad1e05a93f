import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FormBrowser, parseForm } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

const REDIRECT = 'https://app.example/cb';

describe('OAuth core: what must be refused', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ code_ttl: 1 });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  const request = (extra: Record<string, string> = {}) => {
    const { verifier, challenge } = pkcePair();
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: 'webapp',
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      state: 'st-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
    return { verifier, url: authUrl(server.url, params) };
  };

  async function code(extra: Record<string, string> = {}) {
    const { verifier, url } = request(extra);
    const cb = await authorizeInBrowser(new FormBrowser(), url);
    const c = cb.searchParams.get('code');
    assert.ok(c, `expected a code, got ${cb}`);
    return { code: c, verifier };
  }

  const exchange = (c: { code: string; verifier: string }) =>
    tokenCall(server.url, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT });

  it('shows an error page, and does not redirect, on a redirect URI mismatch', async () => {
    const res = await fetch(request({ redirect_uri: 'https://evil.example/cb' }).url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /redirect_uri does not match/);
  });

  it('shows an error page for an unknown client', async () => {
    const res = await fetch(request({ client_id: 'nobody' }).url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });

  it('rejects a request without PKCE when it is required', async () => {
    const u = new URL(request().url);
    u.searchParams.delete('code_challenge');
    u.searchParams.delete('code_challenge_method');
    const res = await fetch(u, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description')!, /code_challenge is required/);
    assert.equal(loc.searchParams.get('state'), 'st-1');
    assert.equal(loc.searchParams.get('iss'), server.url);
  });

  it('rejects the plain PKCE method by default', async () => {
    const verifier = 'a'.repeat(50);
    const res = await fetch(request({ code_challenge: verifier, code_challenge_method: 'plain' }).url, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description')!, /plain is not allowed/);
  });

  it('refuses duplicate parameters', async () => {
    const res = await fetch(`${request().url}&scope=openid`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'invalid_request');
    const dupClient = await fetch(`${request().url}&client_id=native`, { redirect: 'manual' });
    assert.equal(dupClient.status, 400, 'a duplicated client_id cannot be trusted for a redirect');
    const tok = await fetch(new URL('/oauth2/token', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&grant_type=refresh_token&client_id=webapp',
    });
    assert.equal(tok.status, 400);
    assert.equal(((await tok.json()) as { error: string }).error, 'invalid_request');
  });

  it('refuses a wrong code_verifier', async () => {
    const c = await code();
    const res = await exchange({ code: c.code, verifier: pkcePair().verifier });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    // Someone who saw the code but lacks the verifier cannot burn it (which would
    // make the rightful redemption look like a replay and revoke the grant).
    const rightful = await exchange(c);
    assert.equal(rightful.status, 200, JSON.stringify(rightful.body));
  });

  it('issue 15 #4: a token request that omits redirect_uri is refused when the authorization request carried it (RFC 6749 4.1.3)', async () => {
    const c = await code();
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_request');
    assert.match(String(res.body.error_description), /redirect_uri is required/);
    // The refusal does not use the code up.
    assert.equal((await exchange(c)).status, 200);
  });

  it('issue 15 #4: a token request with a different redirect_uri is refused', async () => {
    const c = await code();
    for (const other of ['https://app.example/cb/', 'https://app.example/cb?x=1', 'https://app.example/CB']) {
      const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: other });
      assert.equal(res.status, 400, other);
      assert.equal(res.body.error, 'invalid_grant', other);
    }
    assert.equal((await exchange(c)).status, 200);
  });

  it('issue 15 #4: when the authorization request relied on the one registered URI, the token request may omit it too', async () => {
    const { verifier, url } = request();
    const u = new URL(url);
    u.searchParams.delete('redirect_uri');
    const cb = await authorizeInBrowser(new FormBrowser(), u.toString());
    assert.equal(cb.origin + cb.pathname, REDIRECT);
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('revokes the first exchange\u2019s tokens when a code is replayed', async () => {
    const c = await code();
    const first = await exchange(c);
    assert.equal(first.status, 200);
    const replay = await exchange(c);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const intro = await introspect(first.body.access_token as string);
    assert.equal(intro.active, false, 'access token from the first exchange is dead');
    const refresh = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    assert.equal(refresh.body.error, 'invalid_grant', 'refresh token from the first exchange is dead');
  });

  it('revokes the grant when a rotated refresh token is replayed', async () => {
    const first = await exchange(await code());
    const rt1 = first.body.refresh_token as string;
    const second = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt1 });
    assert.equal(second.status, 200);
    const replay = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt1 });
    assert.equal(replay.body.error, 'invalid_grant');
    const next = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string });
    assert.equal(next.body.error, 'invalid_grant', 'the legitimate new token died with the grant');
    assert.equal((await introspect(second.body.access_token as string)).active, false);
  });

  it('narrows scope on refresh but never widens it', async () => {
    const first = await exchange(await code({ scope: 'openid offline_access' }));
    const narrowed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string, scope: 'openid' });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.body.scope, 'openid');
    const widened = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token as string, scope: 'openid xmpp' });
    assert.equal(widened.body.error, 'invalid_scope');
  });

  it('refuses an expired code', async () => {
    const c = await code();
    await sleep(1300);
    const res = await exchange(c);
    assert.equal(res.body.error, 'invalid_grant');
  });

  it('refuses a disabled grant type with unsupported_grant_type', async () => {
    const res = await tokenCall(server.url, { grant_type: 'password', username: 'alice@localhost', password: PASSWORD });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'unsupported_grant_type');
    const bogus = await tokenCall(server.url, { grant_type: 'urn:example:nonsense' });
    assert.equal(bogus.body.error, 'unsupported_grant_type');
  });

  it('answers invalid_client with 401 and WWW-Authenticate', async () => {
    const res = await fetch(new URL('/oauth2/token', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('webapp:wrong-secret').toString('base64')}`,
      },
      body: 'grant_type=refresh_token&refresh_token=x',
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
  });

  it('refuses the consent form without its CSRF token', async () => {
    const browser = new FormBrowser();
    const { url } = request({ prompt: 'consent' });
    const login = await browser.get(url);
    const consent = await browser.submit(url, await login.text(), { username: 'alice@localhost', password: PASSWORD });
    assert.equal(consent.status, 200);
    const form = parseForm(await consent.text());
    const { csrf: _csrf, ...withoutCsrf } = form.hidden;
    const res = await browser.post(new URL(form.action, server.url).toString(), { ...withoutCsrf, decision: 'approve' });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('location'), null);
    const forged = await browser.post(new URL(form.action, server.url).toString(), { ...withoutCsrf, csrf: 'forged', decision: 'approve' });
    assert.equal(forged.status, 403);
  });

  it('refuses a wrong password on the login page', async () => {
    const browser = new FormBrowser();
    const { url } = request();
    const login = await browser.get(url);
    const res = await browser.submit(url, await login.text(), { username: 'alice@localhost', password: 'not the password' });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /Wrong address or password/);
  });

  it('sends the security headers on the login page', async () => {
    const res = await fetch(request().url);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
  });

  it('answers prompt=none without a session with login_required', async () => {
    const res = await fetch(request({ prompt: 'none' }).url, { redirect: 'manual' });
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'login_required');
  });

  it('skips login and consent for a second authorization in the same browser, unless asked', async () => {
    const browser = new FormBrowser();
    await authorizeInBrowser(browser, request().url);
    const again = await browser.get(request().url);
    assert.equal(again.status, 303, 'straight back to the client');
    assert.ok(new URL(again.headers.get('location')!).searchParams.get('code'));
    const forceLogin = await browser.get(request({ prompt: 'login' }).url);
    assert.match(await forceLogin.text(), /name="password"/);
    const forceConsent = await browser.get(request({ prompt: 'consent' }).url);
    assert.match(await forceConsent.text(), /name="decision"/);
    const denied = await authorizeInBrowser(browser, request({ prompt: 'consent' }).url, { decision: 'deny' });
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'st-1');
  });

  async function introspect(token: string) {
    const res = await fetch(new URL('/oauth2/introspect', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('webapp:test-client-secret-0123456789abcdef').toString('base64')}`,
      },
      body: new URLSearchParams({ token }),
    });
    return (await res.json()) as { active: boolean };
  }
});

describe('discovery', () => {
  it('serves one document at both well-known names, reflecting what is enabled', async () => {
    const server = await startServer({ terms_url: 'https://example.org/tos', policy_url: 'https://example.org/privacy' });
    try {
      const a = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
      const b = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
      assert.deepEqual(a, b);
      assert.equal(a.jwks_uri, `${server.url}/oauth2/jwks`);
      assert.deepEqual(a.subject_types_supported, ['public']);
      assert.deepEqual(a.id_token_signing_alg_values_supported, ['ES256']);
      assert.equal(a.authorization_response_iss_parameter_supported, true);
      assert.deepEqual(a.grant_types_supported, ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']);
      assert.deepEqual(a.response_types_supported, ['code']);
      assert.equal(a.op_tos_uri, 'https://example.org/tos');
      assert.equal(a.op_policy_uri, 'https://example.org/privacy');
      assert.equal(a.registration_endpoint, undefined, 'registration is off without registration_key');
      const docs = await fetch(a.service_documentation as string);
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /oauth2\/token/);
    } finally {
      await server.stop();
    }
  });
});
