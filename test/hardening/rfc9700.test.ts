// RFC 9700 (OAuth 2.0 Security Best Current Practice): one test per
// countermeasure that applies to this server, asserted against the running
// server on real Redis. test/oauth/negative.test.ts covers the basic refusals;
// these go after the attack each countermeasure exists for.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { FormBrowser, parseForm } from '../helpers/browser.js';
import { authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { secretHash } from '../helpers/server.js';
import { ClientRegistry, StaticClients } from '../../src/oauth/clients/clients.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { CLIENT_SECRET, PASSWORD, REDIRECT, startHardenedServer, type HardenedServer } from './harness.js';

const OTHER_SECRET = 'other-client-secret-0123456789abcdef';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('RFC 9700 countermeasures, against the running server', () => {
  let server: HardenedServer;
  let issuer: string;

  before(async () => {
    server = await startHardenedServer(
      {
        // The shipped defaults for what matters here (the harness opens throttles and the password grant).
        allowed_grant_types: ['authorization_code', 'refresh_token', 'device_code'],
        token_throttle: { per_client: 6000, failed_auth: 1000, window: 60 },
      },
      [
        // A second confidential client, registered for the very same redirect URI: the attacker's own client.
        { id: 'other', name: 'Other App', secret_hash: secretHash(OTHER_SECRET), redirect_uris: [REDIRECT, 'https://app.example/cb2'] },
      ],
    );
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { issuer: string };
    issuer = discovery.issuer;
  });
  after(async () => {
    const errors = server.errorLogs();
    await server.stop();
    assert.deepEqual(errors, [], 'error-level log lines');
  });

  const params = (extra: Record<string, string> = {}) => {
    const { verifier, challenge } = pkcePair();
    const p: Record<string, string> = {
      response_type: 'code', client_id: 'webapp', redirect_uri: REDIRECT, scope: 'openid offline_access',
      state: 'st-9700', code_challenge: challenge, code_challenge_method: 'S256', ...extra,
    };
    return { verifier, params: p, url: authUrl(server.url, p) };
  };
  const getCode = async (extra: Record<string, string> = {}, browser = new FormBrowser()) => {
    const req = params(extra);
    const cb = await authorizeInBrowser(browser, req.url);
    const code = cb.searchParams.get('code');
    assert.ok(code, `no code: ${cb}`);
    return { code, verifier: req.verifier, cb, params: req.params };
  };
  /** `redirectUri` null: the parameter is left out. */
  const redeem = (code: string, verifier: string | undefined, redirectUri: string | null = REDIRECT, client: [string, string] = ['webapp', CLIENT_SECRET]) => {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code });
    if (verifier !== undefined) body.set('code_verifier', verifier);
    if (redirectUri !== null) body.set('redirect_uri', redirectUri);
    return tokenRaw(body, basic(...client));
  };
  const tokenRaw = async (body: URLSearchParams, authorization?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (authorization) headers.authorization = authorization;
    const res = await fetch(`${server.url}/oauth2/token`, { method: 'POST', headers, body });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const introspect = async (token: string) => {
    const res = await fetch(`${server.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('webapp', CLIENT_SECRET) },
      body: new URLSearchParams({ token }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { active: boolean }).active;
  };
  /** An error page: 400 HTML, no Location, no link or form pointing at the attacker. */
  const assertErrorPage = async (res: Response, what: string) => {
    const html = await res.text();
    assert.equal(res.status, 400, `${what}: expected an error page, got ${res.status} ${res.headers.get('location') ?? ''}`);
    assert.equal(res.headers.get('location'), null, `${what}: redirected`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
    assert.doesNotMatch(html, /(href|action|src)="https?:\/\/(?!127\.0\.0\.1)/i, `${what}: the page links away`);
    assert.doesNotMatch(html, /http-equiv="refresh"/i, `${what}: meta refresh`);
  };

  it('2.1 redirect URI exact match: prefix, suffix, case, path, query, userinfo, port, scheme and fragment variants all get an error page', async () => {
    const variants = [
      'https://app.example/c', // prefix
      'https://app.example/cbx', // suffix
      'https://app.example/cb/', // trailing slash
      'https://app.example/CB', // path case
      'https://APP.example/cb', // host case (exact string match: RFC 9700 2.1)
      'https://app.example/cb/extra', // extra path
      'https://app.example/cb/../cb', // dot segments
      'https://app.example/cb%2F..%2Fevil', // encoded traversal
      'https://app.example/cb?next=https://evil.example/', // extra query
      'https://app.example/cb#frag', // fragment
      'https://user@app.example/cb', // userinfo
      'https://app.example@evil.example/cb', // userinfo pointing elsewhere
      'https://app.example:443/cb', // explicit default port
      'https://app.example:8443/cb', // other port
      'http://app.example/cb', // scheme downgrade
      'https://app.example.evil.example/cb', // host suffix
      'https://evil.example/cb', // elsewhere
      ' https://app.example/cb', // leading space
      'https://app.example/cb ', // trailing space
      '//app.example/cb', // scheme-relative
    ];
    for (const redirect_uri of variants) {
      const { url, params: p } = params({ redirect_uri });
      await assertErrorPage(await fetch(url, { redirect: 'manual' }), `GET ${redirect_uri}`);
      const post = await fetch(`${server.url}/oauth2/authorize`, {
        method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(p),
      });
      await assertErrorPage(post, `POST ${redirect_uri}`);
    }
    // A native client's loopback redirect: the port may vary (RFC 8252 7.3), nothing else.
    for (const redirect_uri of ['http://127.0.0.1/callbackx', 'http://localhost/callback', 'http://127.0.0.1/callback/../x', 'http://127.0.0.2/callback', 'org.example.app:/cb/x', 'org.example.app://cb']) {
      await assertErrorPage(await fetch(params({ client_id: 'native', redirect_uri }).url, { redirect: 'manual' }), `native ${redirect_uri}`);
    }
  });

  it('2.1.1 PKCE is required and cannot be downgraded: no verifier, verifier = challenge (plain), and public clients without PKCE are all refused', async () => {
    const noVerifier = await getCode();
    const r1 = await redeem(noVerifier.code, undefined);
    assert.equal(r1.status, 400);
    assert.equal(r1.body.error, 'invalid_grant', 'a code issued for a challenge needs the verifier');

    // The downgrade: an attacker who saw the challenge presents it as a "plain" verifier.
    const req = params();
    const cb = await authorizeInBrowser(new FormBrowser(), req.url);
    const r2 = await redeem(cb.searchParams.get('code')!, req.params.code_challenge);
    assert.equal(r2.body.error, 'invalid_grant', 'the challenge itself is not a valid verifier');

    // Asking for plain, or for an unknown method, is refused at the authorization endpoint (with iss).
    for (const method of ['plain', 'PLAIN', 's256', 'S512']) {
      const v = 'v'.repeat(50);
      const res = await fetch(params({ code_challenge: v, code_challenge_method: method }).url, { redirect: 'manual' });
      assert.equal(res.status, 303, method);
      const loc = new URL(res.headers.get('location')!);
      assert.equal(loc.origin + loc.pathname, REDIRECT);
      assert.equal(loc.searchParams.get('error'), 'invalid_request', method);
      assert.equal(loc.searchParams.get('iss'), issuer);
    }
    // A public client cannot skip PKCE either.
    const pub = new URL(params({ client_id: 'native', redirect_uri: 'http://127.0.0.1/callback' }).url);
    pub.searchParams.delete('code_challenge');
    pub.searchParams.delete('code_challenge_method');
    const res = await fetch(pub, { redirect: 'manual' });
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'invalid_request');
  });

  it('4.5 authorization code injection: a code is bound to its client, its redirect_uri and its verifier', async () => {
    // Another client (same redirect URI registered) cannot redeem it, even with the right verifier.
    const stolen = await getCode();
    const asOther = await redeem(stolen.code, stolen.verifier, REDIRECT, ['other', OTHER_SECRET]);
    assert.equal(asOther.status, 400);
    assert.equal(asOther.body.error, 'invalid_grant');
    // A public client naming the victim's client_id without its secret is stopped at authentication.
    const asPublic = await tokenRaw(new URLSearchParams({ grant_type: 'authorization_code', code: stolen.code, code_verifier: stolen.verifier, client_id: 'webapp', redirect_uri: REDIRECT }));
    assert.equal(asPublic.status, 401);
    assert.equal(asPublic.body.error, 'invalid_client');

    // A different (even registered) redirect_uri, or none, is refused.
    const forOther = await getCode({ client_id: 'other' });
    const wrongUri = await redeem(forOther.code, forOther.verifier, 'https://app.example/cb2', ['other', OTHER_SECRET]);
    assert.equal(wrongUri.body.error, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const missing = await getCode();
    const noUri = await redeem(missing.code, missing.verifier, null);
    assert.equal(noUri.body.error, 'invalid_request', 'redirect_uri was in the request, so it is required (RFC 6749 4.1.3)');

    // Injecting a code into another session: the attacker's code with the victim's verifier fails.
    const attackers = await getCode();
    const victim = params();
    const injected = await redeem(attackers.code, victim.verifier);
    assert.equal(injected.body.error, 'invalid_grant');

    // None of the failures above was a way in: the legitimate redemption of a fresh code still works.
    const fresh = await getCode();
    assert.equal((await redeem(fresh.code, fresh.verifier)).status, 200);
  });

  it('4.4 mix-up defence: iss equals the discovery issuer in success and error authorization responses', async () => {
    assert.equal(issuer, server.url);
    const ok = await getCode();
    assert.equal(ok.cb.searchParams.get('iss'), issuer, 'success response');
    assert.equal(ok.cb.searchParams.get('state'), 'st-9700');

    const denied = await authorizeInBrowser(new FormBrowser(), params({ prompt: 'consent' }).url, { decision: 'deny' });
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('iss'), issuer, 'access_denied');

    const errors: Array<[Record<string, string>, string]> = [
      [{ prompt: 'none' }, 'login_required'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'nonsense' }, 'invalid_scope'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ request: 'eyJ.x.y' }, 'request_not_supported'],
    ];
    for (const [extra, error] of errors) {
      const res = await fetch(params(extra).url, { redirect: 'manual' });
      assert.equal(res.status, 303, error);
      const loc = new URL(res.headers.get('location')!);
      assert.equal(loc.searchParams.get('error'), error);
      assert.equal(loc.searchParams.get('iss'), issuer, `${error} carries iss`);
    }
  });

  it('4.11 no open redirect on error paths: unknown client, bad redirect_uri, duplicates, tampered interaction', async () => {
    const evil = 'https://evil.example/cb';
    const cases: Array<[string, string]> = [
      ['unknown client', params({ client_id: 'nobody', redirect_uri: evil }).url],
      ['known client, evil redirect, and another error too', params({ redirect_uri: evil, response_type: 'token', scope: 'x' }).url],
      ['no client_id', params({ client_id: '', redirect_uri: evil }).url],
      ['duplicated redirect_uri', `${params().url}&redirect_uri=${encodeURIComponent(evil)}`],
      ['duplicated client_id', `${params().url}&client_id=other`],
      ['public client without redirect registered for it', params({ client_id: 'tv', redirect_uri: evil }).url],
    ];
    for (const [what, url] of cases) await assertErrorPage(await fetch(url, { redirect: 'manual' }), what);

    // A forged interaction blob on the login form: an error page, not a redirect to whatever it names.
    const browser = new FormBrowser();
    const page = await browser.get(params().url);
    const form = parseForm(await page.text());
    const forged = Buffer.from(JSON.stringify({ ...params().params, redirect_uri: evil })).toString('base64url');
    const res = await browser.post(`${server.url}${form.action}`, { ...form.hidden, interaction: `${forged}.9999999999.AAAA`, username: 'alice@localhost', password: PASSWORD });
    await assertErrorPage(res, 'forged interaction');
  });

  it('4.7 CSRF: login and consent posts without, with a wrong, or with another browser\u2019s CSRF token grant nothing', async () => {
    const grantsBefore = (await server.app.store.listGrants('alice@localhost')).length;
    const victim = new FormBrowser();
    const attacker = new FormBrowser();
    const url = params({ prompt: 'consent' }).url;
    const login = parseForm(await (await victim.get(url)).text());
    const attackerLogin = parseForm(await (await attacker.get(url)).text());
    const loginAction = `${server.url}${login.action}`;
    const creds = { username: 'alice@localhost', password: PASSWORD };
    for (const [what, csrf] of [['none', undefined], ['wrong', 'forged'], ['another browser\u2019s', attackerLogin.hidden.csrf]] as const) {
      const { csrf: _c, ...rest } = login.hidden;
      const res = await victim.post(loginAction, csrf === undefined ? { ...rest, ...creds } : { ...rest, csrf, ...creds });
      assert.equal(res.status, 403, `login with ${what} CSRF token`);
      assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('xo_session=')), 'no session started');
    }
    // Not signed in: the next request still shows the login form.
    assert.match(await (await victim.get(url)).text(), /name="password"/);

    // Consent: sign in properly, then post the decision without / with bad tokens.
    const consentRes = await victim.submit(url, await (await victim.get(url)).text(), creds);
    assert.equal(consentRes.status, 200);
    const consent = parseForm(await consentRes.text());
    const consentAction = `${server.url}${consent.action}`;
    for (const csrf of [undefined, 'forged', attackerLogin.hidden.csrf]) {
      const { csrf: _c, ...rest } = consent.hidden;
      const res = await victim.post(consentAction, csrf === undefined ? { ...rest, decision: 'approve' } : { ...rest, csrf, decision: 'approve' });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('location'), null, 'no code was sent anywhere');
    }
    assert.equal((await server.app.store.listGrants('alice@localhost')).length, grantsBefore, 'no grant recorded');

    // The account page's revoke button is protected the same way.
    const { cb } = await getCode({}, victim);
    assert.ok(cb.searchParams.get('code'));
    const grants = await server.app.store.listGrants('alice@localhost');
    const target = grants[0]!;
    const revoke = await victim.post(`${server.url}/account/revoke`, { grant: target.id, csrf: attackerLogin.hidden.csrf! });
    assert.equal(revoke.status, 403);
    assert.ok(await server.app.store.getGrant(target.id), 'the grant survived the forged revoke');
  });

  it('4.16 clickjacking: X-Frame-Options DENY and CSP frame-ancestors \u2018none\u2019 on every HTML page', async () => {
    const browser = new FormBrowser();
    const pages: Array<[string, Response]> = [];
    const url = params({ prompt: 'consent' }).url;
    const loginPage = await browser.get(url);
    const loginHtml = await loginPage.text();
    pages.push(['login', new Response(loginHtml, { headers: loginPage.headers, status: loginPage.status })]);
    const consentPage = await browser.submit(url, loginHtml, { username: 'alice@localhost', password: PASSWORD });
    pages.push(['consent', consentPage]);
    pages.push(['account', await browser.get(`${server.url}/account`)]);
    pages.push(['account (signed out)', await fetch(`${server.url}/account`)]);
    pages.push(['error page', await fetch(params({ redirect_uri: 'https://evil.example/' }).url, { redirect: 'manual' })]);
    pages.push(['csrf refusal', await new FormBrowser().post(`${server.url}/oauth2/authorize/login`, { interaction: 'x' })]);
    pages.push(['device entry', await fetch(`${server.url}/oauth2/device`)]);
    pages.push(['device entry with code', await fetch(`${server.url}/oauth2/device?user_code=BCDF-GHJK`)]);
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { service_documentation?: string };
    if (discovery.service_documentation) pages.push(['developer docs', await fetch(discovery.service_documentation)]);
    for (const [what, res] of pages) {
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${what} is HTML`);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
      await res.arrayBuffer().catch(() => undefined);
    }
  });

  it('4.2 refresh token replay: reusing a rotated refresh token revokes the whole grant, including the newest tokens', async () => {
    const c = await getCode();
    const first = await redeem(c.code, c.verifier);
    assert.equal(first.status, 200);
    const rt1 = first.body.refresh_token as string;
    const second = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt1 });
    const third = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string });
    assert.equal(third.status, 200);
    assert.equal(await introspect(third.body.access_token as string), true);
    assert.equal(await introspect(third.body.refresh_token as string), true);

    // The attacker replays the oldest one.
    const replay = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt1 });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    for (const [what, token] of [
      ['newest access token', third.body.access_token],
      ['newest refresh token', third.body.refresh_token],
      ['earlier access token', second.body.access_token],
      ['first access token', first.body.access_token],
    ] as const) {
      assert.equal(await introspect(token as string), false, `${what} is dead`);
    }
    const ui = await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${third.body.access_token as string}` } });
    assert.equal(ui.status, 401, 'userinfo refuses the newest access token');
  });

  it('4.2.4 leakage via Referer: no-referrer on authorize, login and consent pages; no code or token in any link to a third party', async () => {
    const browser = new FormBrowser();
    const url = params({ prompt: 'consent' }).url;
    const login = await browser.get(url);
    const loginHtml = await login.text();
    const consent = await browser.submit(url, loginHtml, { username: 'alice@localhost', password: PASSWORD });
    const consentHtml = await consent.text();
    const approve = await browser.submit(url, consentHtml, { decision: 'approve' });
    assert.equal(approve.status, 303);
    const code = new URL(approve.headers.get('location')!).searchParams.get('code')!;
    for (const [what, res] of [['login', login], ['consent', consent], ['redirect back', approve]] as const) {
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', what);
    }
    for (const [what, html] of [['login', loginHtml], ['consent', consentHtml]] as const) {
      assert.ok(!html.includes(code), `${what} page holds no code`);
      for (const m of html.matchAll(/(?:href|src|action)="([^"]+)"/g)) {
        const target = new URL(m[1]!.replace(/&amp;/g, '&'), server.url);
        if (target.origin === server.url) continue;
        assert.doesNotMatch(target.search + target.hash, /code|token|state|st-9700/i, `${what} page links to ${target.origin} with request data`);
      }
    }
    // The external links the consent page does show (client_uri) are rel=noreferrer as well.
    for (const m of consentHtml.matchAll(/<a [^>]*href="https?:\/\/[^"]*"[^>]*>/g)) assert.match(m[0], /rel="[^"]*noreferrer/, m[0]);
  });

  it('Cache-Control: no-store on token responses, success and error, and on every credential-bearing JSON response', async () => {
    const c = await getCode();
    const ok = await redeem(c.code, c.verifier);
    assert.equal(ok.status, 200);
    const bad = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: 'nope' });
    const refreshed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token as string });
    for (const [what, headers] of [['authorization_code success', ok.headers], ['error', bad.headers], ['refresh success', refreshed.headers]] as const) {
      assert.equal(headers.get('cache-control'), 'no-store', what);
      assert.equal(headers.get('pragma'), 'no-cache', what);
    }
    const access = refreshed.body.access_token as string;
    const more = [
      await fetch(`${server.url}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('webapp', CLIENT_SECRET) }, body: new URLSearchParams({ token: access }) }),
      await fetch(`${server.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${access}` } }),
      await fetch(`${server.url}/oauth2/device`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }) }),
    ];
    for (const res of more) {
      assert.equal(res.status, 200, res.url);
      assert.equal(res.headers.get('cache-control'), 'no-store', res.url);
    }
  });

  it('4.5 code single use: a replay revokes the grant, including tokens refreshed since the first redemption', async () => {
    const c = await getCode();
    const first = await redeem(c.code, c.verifier);
    assert.equal(first.status, 200);
    const refreshed = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    assert.equal(refreshed.status, 200);
    const grantId = (await server.app.store.listGrants('alice@localhost')).find((g) => g.clientId === 'webapp')?.id;
    assert.ok(grantId);

    const replay = await redeem(c.code, c.verifier);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal(await introspect(refreshed.body.access_token as string), false, 'refreshed access token dead');
    assert.equal(await introspect(refreshed.body.refresh_token as string), false, 'refreshed refresh token dead');
    assert.equal(await server.app.store.grantExists(grantId), false, 'grant deleted');
    // A third attempt is still refused and does not resurrect anything.
    assert.equal((await redeem(c.code, c.verifier)).body.error, 'invalid_grant');
  });

  it('timing-safe secret comparison: the client secret check goes through crypto.timingSafeEqual on equal-length digests, and any length is refused cleanly', async () => {
    // Spy on node:crypto's timingSafeEqual (live ESM binding of the builtin).
    const original = crypto.timingSafeEqual;
    const calls: Array<[number, number]> = [];
    crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return original(a, b);
    }) as typeof crypto.timingSafeEqual;
    syncBuiltinESMExports();
    try {
      const clients = new StaticClients([
        { id: 'c', name: 'C', secret_hash: secretHash(CLIENT_SECRET), public: false, redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid', application_type: 'web' },
      ]);
      const client = clients.find('c')!;
      const secrets = ['', 'x', CLIENT_SECRET.slice(0, -1), `${CLIENT_SECRET}x`, CLIENT_SECRET.toUpperCase(), 'é'.repeat(40), '\u0000', 'a'.repeat(100_000)];
      for (const s of secrets) {
        calls.length = 0;
        assert.equal(client.checkSecret!(s), false, `secret of length ${s.length}`);
        assert.equal(calls.length, 1, 'compared with timingSafeEqual exactly once');
        assert.equal(calls[0]![0], calls[0]![1], 'on buffers of equal length (digests), whatever the secret length');
      }
      calls.length = 0;
      assert.equal(client.checkSecret!(CLIENT_SECRET), true);
      assert.equal(calls.length, 1);

      // Through the registry: every wrong length is invalid_client, never an exception of another kind.
      const registry = new ClientRegistry([clients]);
      for (const s of secrets) {
        await assert.rejects(registry.authenticate({ basic: { id: 'c', secret: s } }), (err: unknown) => err instanceof OAuthError && err.error === 'invalid_client');
      }

      // And over HTTP, for the static client and the resource-server path alike.
      for (const s of ['x', CLIENT_SECRET.slice(0, 20), `${CLIENT_SECRET}${'y'.repeat(5000)}`]) {
        const res = await tokenRaw(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }), basic('webapp', s));
        assert.equal(res.status, 401);
        assert.equal(res.body.error, 'invalid_client');
      }
      calls.length = 0;
      const res = await tokenRaw(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }), basic('webapp', 'short'));
      assert.equal(res.status, 401);
      assert.ok(calls.length >= 1 && calls.every(([a, b]) => a === b), 'the server compared the presented secret with timingSafeEqual');
    } finally {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
    }
  });
});
