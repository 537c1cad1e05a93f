// Property-based fuzzing (fast-check) of every HTTP endpoint and of the core
// XMPP login call, against a real server on real Redis. The properties:
// never a 5xx, the process keeps answering, JSON endpoints answer well-formed
// OAuth errors, redirects only ever go to a registered redirect URI (with
// `iss`), no unhandled rejection, and no `error` log line caused by input.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { FormBrowser, parseForm } from '../helpers/browser.js';
import { authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { tamperSignature } from '../helpers/tokens.js';
import { authenticate } from '../../src/oauth/xmpp-login/xmpp-login.js';
import {
  CLIENT_SECRET, OAUTH_ERROR_CODES, PASSWORD, REDIRECT, startHardenedServer, type HardenedServer,
} from './harness.js';

// ---------------------------------------------------------------------------
// Crash detectors: registered before anything runs.

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));
const uncaught: unknown[] = [];
process.on('uncaughtExceptionMonitor', (err) => uncaught.push(err));

// Moderate budgets: the whole file stays well under 40 s on 2 cores.
const RUNS = { http: 100, login: 40, register: 120, core: 120 } as const;

// ---------------------------------------------------------------------------
// Generators

/** Characters that break parsers: separators, bad escapes, controls, bidi, surrogates, prototype names. */
const NASTY = [
  '\u0000', '\u0001', '\u001f', '\u007f', '\r\n', '\n', '\t', '\u2028', '\u202e', '\ufeff', '\ud800', '\udfff',
  '%', '%zz', '%ff%fe', '%00', '%C0%AF', '&', '=', '+', ';', ':', '@', '#', '?', '/', '\\', '.', '..', '../',
  '[]', '[0]', '[__proto__]', '__proto__', 'constructor', 'prototype', 'toString',
  '"', "'", '<', '>', '<script>', '{', '}', '$', '*', ' ', '😀', '\u0301', 'ß', 'İ', 'ǅ', '\uffff', '\u{10ffff}',
  'null', 'undefined', 'true', '-1', '0', '1e309', 'NaN', '0x10', '9'.repeat(30), 'eyJ',
];
const nastyString = fc.string({ unit: fc.constantFrom(...NASTY), maxLength: 12 });
const longString = fc
  .tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 4 }), fc.integer({ min: 500, max: 12_000 }))
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n));
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: longString },
  { weight: 1, arbitrary: fc.constant('') },
);

const b64u = (s: string) => Buffer.from(s).toString('base64url');
/** Things shaped like a JWT, so the signature/claims code runs rather than a prefix check. */
const jwtish = fc
  .tuple(
    fc.oneof(
      fc.record({
        alg: fc.oneof(fc.constantFrom('ES256', 'EdDSA', 'HS256', 'RS256', 'none', 'NONE', ''), text),
        typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt'), text),
        kid: fc.oneof(text, fc.jsonValue()),
        crit: fc.option(fc.array(text, { maxLength: 2 }), { nil: undefined }),
        jwk: fc.option(fc.jsonValue(), { nil: undefined }),
      }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      text,
    ),
    fc.oneof(
      fc.record({
        iss: fc.oneof(text, fc.jsonValue()),
        sub: fc.oneof(text, fc.constant('xmpp:alice@localhost')),
        jid: fc.oneof(text, fc.constant('alice@localhost')),
        gid: fc.oneof(text, fc.jsonValue()),
        scope: fc.oneof(text, fc.jsonValue(), fc.constant('openid xmpp')),
        client_id: fc.oneof(text, fc.constant('webapp')),
        exp: fc.oneof(fc.double(), fc.integer(), fc.jsonValue()),
        iat: fc.oneof(fc.double(), fc.integer(), fc.jsonValue()),
      }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      text,
    ),
    fc.oneof(text, fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a).toString('latin1'))),
  )
  .map(([h, p, s]) => `${b64u(h)}.${b64u(p)}.${b64u(s)}`);

/** A value for a parameter: garbage, or something plausible so deeper code runs. */
const PLAUSIBLE = [
  'code', 'token', 'id_token', 'code id_token', 'S256', 'plain', 'webapp', 'native', 'tv', REDIRECT,
  'https://app.example/cb/', 'https://APP.example/cb', 'http://127.0.0.1/callback', 'http://127.0.0.1:9/callback',
  'org.example.app:/cb', 'urn:ietf:wg:oauth:2.0:oob', 'openid', 'openid offline_access xmpp profile', 'offline_access',
  'none', 'login', 'consent', 'select_account', 'none login', 'query', 'fragment', 'form_post', 'approve', 'deny',
  'authorization_code', 'refresh_token', 'password', 'urn:ietf:params:oauth:grant-type:device_code',
  'access_token', 'refresh_token', 'alice@localhost', 'alice', 'ALICE@LOCALHOST', 'alice@example.org', PASSWORD,
  CLIENT_SECRET, '0', '-1', '99999999999', 'BCDF-GHJK', 'bcdfghjk',
];
const value = fc.oneof({ weight: 4, arbitrary: text }, { weight: 2, arbitrary: fc.constantFrom(...PLAUSIBLE) }, { weight: 1, arbitrary: jwtish });

type Pairs = Array<[string, string]>;

/**
 * Start from a valid request and damage it: each parameter kept, dropped,
 * replaced, or duplicated (with a different or the same value); plus extras.
 */
function mutated(base: () => Record<string, string>, names: readonly string[]): fc.Arbitrary<Pairs> {
  const keys = Object.keys(base());
  const perKey = keys.map((k) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant('keep' as const).map(() => [[k, base()[k]!]] as Pairs) },
      { weight: 1, arbitrary: fc.constant([] as Pairs) },
      { weight: 2, arbitrary: value.map((v) => [[k, v]] as Pairs) },
      { weight: 1, arbitrary: value.map((v) => [[k, base()[k]!], [k, v]] as Pairs) },
      { weight: 1, arbitrary: fc.constant(null).map(() => [[k, base()[k]!], [k, base()[k]!]] as Pairs) },
    ),
  );
  const extra = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...names), text), value), { maxLength: 4 });
  return fc.tuple(fc.tuple(...perKey), extra).map(([groups, more]) => [...groups.flat(), ...more]);
}

/** How the pairs go on the wire: proper form, raw bytes, or the wrong media type / encoding. */
interface Wire {
  contentType?: string;
  contentEncoding?: string;
  body: string;
}
const RAW_UNIT = fc.constantFrom('a', 'Z', '0', '&', '=', '+', '%', '%2', '%zz', '%ff', '%e2%82', '%00', '[', ']', '.', ';', ' ', '\u00e9', '\u{1f600}', '\n');
const wire = (pairs: fc.Arbitrary<Pairs>): fc.Arbitrary<Wire> =>
  fc.oneof(
    { weight: 6, arbitrary: pairs.map((p) => ({ contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(p).toString() })) },
    { weight: 2, arbitrary: fc.string({ unit: RAW_UNIT, maxLength: 200 }).map((body) => ({ contentType: 'application/x-www-form-urlencoded', body })) },
    {
      weight: 2,
      arbitrary: fc.tuple(
        pairs,
        fc.constantFrom(
          undefined, 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml',
          'application/x-www-form-urlencoded; charset=utf-16', 'application/x-www-form-urlencoded; charset=bogus',
          'application/x-www-form-urlencoded; charset=iso-8859-1', 'application/x-www-form-urlencoded;;;', '*/*', 'garbage',
        ),
        fc.constantFrom(undefined, undefined, 'gzip', 'deflate', 'br', 'identity', 'bogus'),
        fc.boolean(),
      ).map(([p, contentType, contentEncoding, asJson]) => ({
        contentType,
        contentEncoding,
        body: asJson ? JSON.stringify(Object.fromEntries(p)) : new URLSearchParams(p).toString(),
      })),
    },
  );

/** Header values fetch can send (Latin-1, no CR/LF/NUL). */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)),
  maxLength: 120,
});
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
/** Client authentication for the back-channel endpoints. */
const clientAuth = fc.oneof(
  { weight: 3, arbitrary: fc.constant(basic('webapp', CLIENT_SECRET)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.tuple(fc.oneof(value, fc.constantFrom('webapp', 'native', 'tv')), value).map(([i, s]) => basic(i, s)) },
  { weight: 1, arbitrary: fc.tuple(text, text).map(([i, s]) => basic(encodeURIComponentSafe(i), s)) },
  { weight: 1, arbitrary: headerText.map((h) => `Basic ${h}`) },
  { weight: 1, arbitrary: headerText },
  { weight: 1, arbitrary: fc.constantFrom('Basic', 'Basic ', 'Basic Og==', 'Basic ====', 'Bearer x', basic('webapp', ''), basic('', CLIENT_SECRET), basic('%zz', 'x'), basic('webapp', '%')) },
);

function encodeURIComponentSafe(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s; // lone surrogate: send it raw
  }
}

// ---------------------------------------------------------------------------
// Response checks

type Kind = 'json' | 'page';
/** error_description values outside RFC 6749's character set → where seen. */
const descriptionViolations = new Map<string, string>();
const REGISTERED_REDIRECTS = [REDIRECT, 'http://127.0.0.1/callback', 'org.example.app:/cb'];

async function checkResponse(server: HardenedServer, res: Response, kind: Kind, what: string): Promise<void> {
  const text = await res.text();
  const ctx = `${what}: ${res.status} ${text.slice(0, 300)}`;
  assert.ok(res.status < 500, `5xx from ${ctx}`);
  // Node's own HTTP parser refuses headers over 16 KiB before the app sees them.
  if (res.status === 431) return;
  const type = res.headers.get('content-type') ?? '';
  if (res.status >= 400 && type.startsWith('application/json')) {
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.equal(typeof body.error, 'string', `error member missing: ${ctx}`);
    assert.ok(OAUTH_ERROR_CODES.has(body.error as string), `not an RFC error code: ${ctx}`);
    if (body.error_description !== undefined) {
      assert.equal(typeof body.error_description, 'string', ctx);
      // RFC 6749 5.2: error_description is printable ASCII without " and \. Collected, asserted in its own test.
      if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(body.error_description as string)) {
        descriptionViolations.set(String(body.error_description).replace(/"[^"]*"/g, '"…"').slice(0, 120), what.slice(0, 160));
      }
    }
  }
  if (kind === 'json') {
    assert.match(type, /^application\/json/, `not JSON: ${ctx}`);
    if (res.status >= 400) assert.ok(text.length > 0, ctx);
  }
  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location') ?? '';
    if (location.startsWith('/')) return; // our own pages (e.g. /account)
    const target = REGISTERED_REDIRECTS.find((r) => location.startsWith(`${r}?`));
    assert.ok(target, `redirect to an unregistered place: ${location.slice(0, 200)} (${what})`);
    const params = new URL(location).searchParams;
    assert.equal(params.get('iss'), server.url, `iss missing from authorization response: ${location.slice(0, 200)}`);
  }
}

const healthy = async (server: HardenedServer) => {
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200, 'the server stopped answering');
};

// ---------------------------------------------------------------------------

describe('fuzzing the HTTP endpoints (fast-check, real Redis)', () => {
  let server: HardenedServer;
  /** A live access token, refresh token and device code, so mutations start from valid requests. */
  let access = '';
  let refresh = '';
  let deviceCode = '';
  let userCode = '';

  before(async () => {
    server = await startHardenedServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const granted = await tokenCall(server.url, { grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid offline_access xmpp' });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    access = granted.body.access_token as string;
    refresh = granted.body.refresh_token as string;
    const dev = await fetch(`${server.url}/oauth2/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'tv', scope: 'openid offline_access' }),
    });
    const devBody = (await dev.json()) as Record<string, string>;
    deviceCode = devBody.device_code!;
    userCode = devBody.user_code!;
    assert.ok(deviceCode && userCode, JSON.stringify(devBody));
  });

  afterEach(async () => {
    await healthy(server);
    assert.deepEqual(unhandled, [], 'unhandled promise rejection');
    assert.deepEqual(uncaught, [], 'uncaught exception');
  });

  after(async () => {
    const errors = server.errorLogs();
    await server.stop();
    assert.deepEqual(errors, [], 'remote input produced error-level log lines');
  });

  const post = (path: string, w: Wire, authorization?: string, browser?: FormBrowser) => {
    const headers: Record<string, string> = {};
    if (w.contentType !== undefined) headers['content-type'] = w.contentType;
    if (w.contentEncoding !== undefined) headers['content-encoding'] = w.contentEncoding;
    if (authorization !== undefined) headers.authorization = authorization;
    const init: RequestInit = { method: 'POST', headers, body: w.body, redirect: 'manual' };
    return browser ? browser.request(`${server.url}${path}`, init) : fetch(`${server.url}${path}`, init);
  };

  const authorizeBase = () => {
    const { challenge } = pkcePair();
    return {
      response_type: 'code', client_id: 'webapp', redirect_uri: REDIRECT, scope: 'openid offline_access',
      state: 'st', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent', max_age: '60',
    };
  };
  const AUTHORIZE_NAMES = [...Object.keys(authorizeBase()), 'request', 'request_uri', 'response_mode', 'login_hint', 'ui_locales', 'claims', 'display'];

  it('GET /oauth2/authorize: no 5xx; redirects only to a registered URI, with iss', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 5, arbitrary: mutated(authorizeBase, AUTHORIZE_NAMES).map((p) => new URLSearchParams(p).toString()) },
          { weight: 1, arbitrary: fc.string({ unit: RAW_UNIT, maxLength: 300 }) },
        ),
        async (query) => {
          const res = await fetch(`${server.url}/oauth2/authorize?${query}`, { redirect: 'manual' });
          await checkResponse(server, res, 'page', `GET /oauth2/authorize?${query.slice(0, 200)}`);
        },
      ),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/authorize: same, with any body encoding', async () => {
    await fc.assert(
      fc.asyncProperty(wire(mutated(authorizeBase, AUTHORIZE_NAMES)), async (w) => {
        const res = await post('/oauth2/authorize', w);
        await checkResponse(server, res, 'page', `POST /oauth2/authorize ${JSON.stringify(w).slice(0, 200)}`);
      }),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/token: every grant type, mutated; always an OAuth JSON answer', async () => {
    const bases: Array<() => Record<string, string>> = [
      () => ({ grant_type: 'authorization_code', code: 'c0de', redirect_uri: REDIRECT, code_verifier: pkcePair().verifier }),
      () => ({ grant_type: 'refresh_token', refresh_token: refresh, scope: 'openid' }),
      () => ({ grant_type: 'password', username: 'alice@localhost', password: 'wrong password', scope: 'openid xmpp' }),
      () => ({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: 'tv' }),
    ];
    const names = ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'username', 'password', 'device_code', 'client_id', 'client_secret', 'resource', 'audience'];
    await fc.assert(
      fc.asyncProperty(fc.oneof(...bases.map((b) => wire(mutated(b, names)))), clientAuth, async (w, auth) => {
        const res = await post('/oauth2/token', w, auth);
        await checkResponse(server, res, 'json', `token ${JSON.stringify(w).slice(0, 200)}`);
        if (res.status !== 431) assert.equal(res.headers.get('cache-control'), 'no-store');
      }),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/introspect: JWT-shaped garbage, real tokens damaged; active:false or an OAuth error', async () => {
    const base = () => ({ token: access, token_type_hint: 'access_token' });
    const damaged = fc.tuple(fc.nat(), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 3 })).map(([i, s]) => {
      const at = i % access.length;
      return access.slice(0, at) + s + access.slice(at + s.length);
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(wire(mutated(base, ['token', 'token_type_hint', 'client_id', 'client_secret'])), fc.oneof(jwtish, damaged).map((t) => ({ contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ token: t }).toString() }))),
        clientAuth,
        async (w, auth) => {
          const res = await post('/oauth2/introspect', w, auth);
          await checkResponse(server, res, 'json', `introspect ${JSON.stringify(w).slice(0, 200)}`);
        },
      ),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/revoke: 200 or an OAuth error, never a crash', async () => {
    const base = () => ({ token: 'not-a-live-token', token_type_hint: 'refresh_token' });
    await fc.assert(
      fc.asyncProperty(wire(mutated(base, ['token', 'token_type_hint', 'client_id', 'client_secret'])), clientAuth, async (w, auth) => {
        const res = await post('/oauth2/revoke', w, auth);
        assert.ok(res.status < 500, `5xx from revoke ${JSON.stringify(w).slice(0, 200)}`);
        if (res.status !== 200) await checkResponse(server, res, 'json', `revoke ${JSON.stringify(w).slice(0, 200)}`);
        else await res.arrayBuffer();
      }),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/device: device authorization requests', async () => {
    const base = () => ({ client_id: 'tv', scope: 'openid offline_access' });
    await fc.assert(
      fc.asyncProperty(wire(mutated(base, ['client_id', 'scope', 'client_secret', 'audience'])), fc.option(clientAuth, { nil: undefined }), async (w, auth) => {
        const res = await post('/oauth2/device', w, auth);
        await checkResponse(server, res, 'json', `device ${JSON.stringify(w).slice(0, 200)}`);
      }),
      { numRuns: RUNS.http },
    );
  });

  it('GET and POST /oauth2/userinfo: arbitrary Authorization headers and form tokens', async () => {
    const bearer = fc.oneof(
      jwtish.map((t) => `Bearer ${t}`),
      headerText.map((h) => `Bearer ${h}`),
      headerText,
      fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'BEARER ====', 'Basic Og==', `Bearer ${'A'.repeat(9000)}`),
      fc.constant(null).map(() => `Bearer ${access}`),
      fc.constant(null).map(() => `Bearer ${access}x`),
      fc.constant(null).map(() => `Bearer ${b64u('{"alg":"none","typ":"at+jwt"}')}.${access.split('.')[1]}.`),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(bearer, { nil: undefined }), fc.boolean(), wire(mutated(() => ({ access_token: access }), ['access_token'])), async (auth, usePost, w) => {
        const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
        const res = usePost ? await post('/oauth2/userinfo', w, auth) : await fetch(`${server.url}/oauth2/userinfo`, { headers });
        await checkResponse(server, res, 'json', `userinfo ${String(auth).slice(0, 200)}`);
        if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
      }),
      { numRuns: RUNS.http },
    );
  });

  it('POST /oauth2/register: arbitrary JSON metadata, wrong media types, broken JSON', async () => {
    const META_KEYS = [
      'client_name', 'client_uri', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'scope',
      'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version', 'contacts', 'jwks_uri', 'jwks', 'application_type',
      'client_name#fr', 'client_name#', 'software_statement', 'client_id', 'client_secret', '__proto__', 'constructor',
    ];
    const good = {
      client_name: 'Fuzz', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'],
      grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid xmpp',
    };
    const jsonish = fc.oneof(fc.jsonValue(), value, fc.array(value, { maxLength: 12 }), fc.array(fc.jsonValue(), { maxLength: 3 }));
    const metadata = fc.oneof(
      { weight: 3, arbitrary: fc.record(Object.fromEntries(Object.entries(good).map(([k, v]) => [k, fc.oneof({ weight: 3, arbitrary: fc.constant(v) }, { weight: 1, arbitrary: jsonish })])), { requiredKeys: [] }) },
      { weight: 2, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...META_KEYS), text), jsonish, { maxKeys: 8 }) },
      { weight: 1, arbitrary: fc.jsonValue() },
    );
    const body = fc.oneof(
      { weight: 6, arbitrary: metadata.map((m) => ({ contentType: 'application/json', body: JSON.stringify(m) ?? 'null' })) },
      { weight: 1, arbitrary: fc.tuple(metadata, fc.nat()).map(([m, n]) => { const s = JSON.stringify(m) ?? ''; return { contentType: 'application/json', body: s.slice(0, n % (s.length + 1)) }; }) },
      { weight: 1, arbitrary: text.map((t) => ({ contentType: 'application/json', body: t })) },
      { weight: 1, arbitrary: longString.map((t) => ({ contentType: 'application/json', body: JSON.stringify({ client_name: t.repeat(3), redirect_uris: [t] }) })) },
      {
        weight: 1,
        arbitrary: fc.tuple(metadata, fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/jsonx', 'application/merge-patch+json'), fc.constantFrom(undefined, 'gzip', 'identity', 'bogus'))
          .map(([m, contentType, contentEncoding]) => ({ contentType, contentEncoding, body: JSON.stringify(m) ?? '' })),
      },
    );
    await fc.assert(
      fc.asyncProperty(body, async (w: Wire) => {
        const res = await post('/oauth2/register', w);
        await checkResponse(server, res, 'json', `register ${w.body.slice(0, 200)}`);
        if (res.status !== 201) assert.ok(res.status >= 400, `unexpected status ${res.status}`);
      }),
      { numRuns: RUNS.register },
    );
  });

  it('login form posts (authorization and account pages): fuzzed fields with and without a valid CSRF token', async () => {
    // A browser holding a real CSRF cookie and a real sealed interaction.
    const browser = new FormBrowser();
    const start = authUrl(server.url, authorizeBase());
    const loginPage = await browser.get(start);
    const form = parseForm(await loginPage.text());
    const accountBrowser = new FormBrowser();
    const accountForm = parseForm(await (await accountBrowser.get(`${server.url}/account`)).text());

    const loginBase = () => ({ ...form.hidden, username: 'alice@localhost', password: 'a wrong password' });
    const names = ['csrf', 'interaction', 'username', 'password', 'decision', 'grant'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth2/authorize/login', '/account/login'),
        wire(mutated(loginBase, names)),
        async (path, w) => {
          const b = path === '/account/login' ? accountBrowser : browser;
          if (path === '/account/login') w = { ...w, body: w.body.replace(/csrf=[^&]*/, `csrf=${encodeURIComponent(accountForm.hidden.csrf!)}`) };
          const res = await post(path, w, undefined, b);
          await checkResponse(server, res, 'page', `${path} ${w.body.slice(0, 200)}`);
        },
      ),
      { numRuns: RUNS.login },
    );
  });

  it('consent and account form posts with a signed-in session', async () => {
    const browser = new FormBrowser();
    const start = authUrl(server.url, authorizeBase());
    // Sign in for real, stop at the consent page.
    const login = await browser.get(start);
    const consentPage = await browser.submit(start, await login.text(), { username: 'alice@localhost', password: PASSWORD });
    assert.equal(consentPage.status, 200);
    const consent = parseForm(await consentPage.text());
    const accountForm = parseForm(await (await browser.get(`${server.url}/account`)).text().then((h) => h.replace(/action="\/account\/logout"/, 'action="/account/revoke"')));
    const names = ['csrf', 'interaction', 'decision', 'grant', 'scope'];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          wire(mutated(() => ({ ...consent.hidden, decision: 'deny' }), names)).map((w) => ['/oauth2/authorize/consent', w] as const),
          wire(mutated(() => ({ csrf: accountForm.hidden.csrf!, grant: 'no-such-grant' }), names)).map((w) => ['/account/revoke', w] as const),
        ),
        async ([path, w]) => {
          const res = await post(path, w, undefined, browser);
          await checkResponse(server, res, 'page', `${path} ${w.body.slice(0, 200)}`);
        },
      ),
      { numRuns: RUNS.http },
    );
    // The session survived all that: the flow still completes.
    const cb = await authorizeInBrowser(browser, authUrl(server.url, authorizeBase()), { decision: 'approve' });
    assert.ok(cb.searchParams.get('code') ?? cb.searchParams.get('error'));
  });

  it('device verification pages: login/consent posts, then code entry (guessing gets throttled, not 5xx)', async () => {
    const browser = new FormBrowser();
    const entry = await browser.get(`${server.url}/oauth2/device`);
    const loginPage = await browser.submit(server.url, await entry.text(), { user_code: userCode });
    const loginForm = parseForm(await loginPage.text());
    assert.equal(loginForm.action, '/oauth2/device/login');
    const names = ['csrf', 'interaction', 'user_code', 'username', 'password', 'decision'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth2/device/login', '/oauth2/device/consent'),
        wire(mutated(() => ({ ...loginForm.hidden, username: 'alice@localhost', password: 'nope', decision: 'deny' }), names)),
        async (path, w) => {
          const res = await post(path, w, undefined, browser);
          await checkResponse(server, res, 'page', `${path} ${w.body.slice(0, 200)}`);
        },
      ),
      { numRuns: RUNS.login },
    );
    // Last, because wrong codes use up this address's guessing budget.
    const entryForm = parseForm(await (await browser.get(`${server.url}/oauth2/device`)).text());
    await fc.assert(
      fc.asyncProperty(fc.boolean(), wire(mutated(() => ({ ...entryForm.hidden, user_code: 'BCDF-GHJK' }), names)), async (get, w) => {
        const res = get
          ? await browser.get(`${server.url}/oauth2/device?${w.body.slice(0, 4000)}`)
          : await post('/oauth2/device/verify', w, undefined, browser);
        await checkResponse(server, res, 'page', `device verify ${w.body.slice(0, 200)}`);
      }),
      { numRuns: RUNS.http },
    );
  });

  it('keeps error_description inside RFC 6749 section 5.2\u2019s character set (no " or \\)', async () => {
    // Deterministic triggers, on top of whatever the fuzzers above met.
    const form = (body: string, contentType = 'application/x-www-form-urlencoded') => ({ contentType, body });
    const auth = basic('webapp', CLIENT_SECRET);
    for (const [path, w] of [
      ['/oauth2/token', form('grant_type=urn%3Aexample%3Anonsense')],
      ['/oauth2/token', form('grant_type=refresh_token', 'application/x-www-form-urlencoded; charset=bogus')],
      ['/oauth2/register', form(JSON.stringify({ client_name: 'x', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'], grant_types: [''] }), 'application/json')],
    ] as const) {
      await checkResponse(server, await post(path, w, path === '/oauth2/token' ? auth : undefined), 'json', `${path} ${w.body}`);
    }
    assert.deepEqual(
      [...descriptionViolations].map(([description, where]) => `${description}  (e.g. ${where})`),
      [],
      'error_description values with characters RFC 6749 5.2 forbids',
    );
  });
});

describe('fuzzing the core XMPP login call authenticate(deps, user, host, secret, address)', () => {
  let server: HardenedServer;
  let xmppToken = '';

  before(async () => {
    server = await startHardenedServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const granted = await tokenCall(server.url, { grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' });
    xmppToken = granted.body.access_token as string;
    assert.ok(xmppToken);
  });
  after(async () => {
    const errors = server.errorLogs();
    await server.stop();
    assert.deepEqual(errors, [], 'authenticate produced error-level log lines');
    assert.deepEqual(unhandled, [], 'unhandled promise rejection');
  });

  it('always resolves to a LoginResult, never throws; ok only for alice with her password or her token', async () => {
    const user = fc.oneof(text, fc.constantFrom('alice', 'ALICE', 'Alice', 'alice@localhost', 'bob', '', '@', 'alice\u0000', 'al ice', 'ａｌｉｃｅ'));
    const host = fc.oneof(text, fc.constantFrom('localhost', 'LOCALHOST', 'example.org', 'localhost.', '', 'evil.example', 'localhost/res', '[::1]'));
    const secret = fc.oneof(
      text,
      jwtish,
      fc.constantFrom(PASSWORD, `${PASSWORD} `, PASSWORD.toUpperCase(), ''),
      fc.constant(null).map(() => xmppToken),
      fc.constant(null).map(() => tamperSignature(xmppToken)),
    );
    const address = fc.option(fc.oneof(text, fc.constantFrom('127.0.0.1', '::1', '::ffff:10.0.0.1')), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(user, host, secret, address, async (u, h, s, a) => {
        let result;
        try {
          result = await authenticate(server.app.core, u, h, s, { address: a });
        } catch (err) {
          assert.fail(`authenticate threw for user=${JSON.stringify(u).slice(0, 80)} host=${JSON.stringify(h).slice(0, 80)}: ${String(err)}`);
        }
        assert.equal(typeof result.ok, 'boolean');
        if (result.ok) {
          assert.equal(result.jid, 'alice@localhost');
          assert.ok(s === PASSWORD || s === xmppToken, 'accepted a secret that is neither the password nor the token');
        } else {
          assert.ok(['invalid', 'throttled', 'bad-request'].includes(result.reason), `unknown reason ${result.reason}`);
        }
      }),
      { numRuns: RUNS.core },
    );
    // And the known-good answers still hold after all that.
    assert.equal((await authenticate(server.app.core, 'alice', 'localhost', PASSWORD)).ok, true);
    assert.equal((await authenticate(server.app.core, 'alice', 'localhost', xmppToken)).ok, true);
  });
});
