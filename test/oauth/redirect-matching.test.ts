import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/oauth/clients/clients.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { matchRedirectUri } from '../../src/oauth/grants/redirect.js';
import { checkRedirectUri } from '../../src/oauth/clients/registration/uris.js';
import { authUrl, pkcePair } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Redirect URIs compare as exact strings (RFC 9700 4.1.3); for a native
// client's loopback redirect only the port may differ (RFC 8252 7.3), and a
// fragment is never allowed (RFC 6749 3.1.2).

const native: Client = {
  id: 'cli',
  name: 'CLI',
  public: true,
  authMethod: 'none',
  redirectUris: ['http://127.0.0.1/callback', 'http://[::1]/callback', 'http://localhost/cb?app=1', 'org.example.app:/cb'],
  grantTypes: ['authorization_code'],
  responseTypes: ['code'],
  scope: ['openid'],
  applicationType: 'native',
  dynamic: false,
};
const web: Client = { ...native, id: 'web', public: false, applicationType: 'web', redirectUris: ['https://app.example/cb'] };

const CASES: { name: string; client: Client; uri: string; ok: boolean }[] = [
  { name: 'the registered loopback URI', client: native, uri: 'http://127.0.0.1/callback', ok: true },
  { name: 'the loopback URI on another port', client: native, uri: 'http://127.0.0.1:4444/callback', ok: true },
  { name: 'an IPv6 loopback on another port', client: native, uri: 'http://[::1]:51000/callback', ok: true },
  { name: 'localhost with its query, on another port', client: native, uri: 'http://localhost:8080/cb?app=1', ok: true },
  { name: 'the registered private-use scheme URI', client: native, uri: 'org.example.app:/cb', ok: true },
  { name: 'a fragment `#@evil.example`', client: native, uri: 'http://127.0.0.1:4444/callback#@evil.example', ok: false },
  { name: 'an empty fragment', client: native, uri: 'http://127.0.0.1:4444/callback#', ok: false },
  { name: 'a dot segment `/x/../callback`', client: native, uri: 'http://127.0.0.1:4444/x/../callback', ok: false },
  { name: 'an encoded dot segment `/x/%2e%2e/callback`', client: native, uri: 'http://127.0.0.1:4444/x/%2e%2e/callback', ok: false },
  { name: 'a backslash `\\callback`', client: native, uri: 'http://127.0.0.1:4444\\callback', ok: false },
  { name: 'the short form `127.1`', client: native, uri: 'http://127.1:4444/callback', ok: false },
  { name: 'the hex form `0x7f.1`', client: native, uri: 'http://0x7f.1:4444/callback', ok: false },
  { name: 'the decimal form `2130706433`', client: native, uri: 'http://2130706433:4444/callback', ok: false },
  { name: 'another loopback address `127.0.0.2`', client: native, uri: 'http://127.0.0.2:4444/callback', ok: false },
  { name: 'loopback host swapped `localhost` for `127.0.0.1`', client: native, uri: 'http://localhost:4444/callback', ok: false },
  { name: 'an embedded tab', client: native, uri: 'http://127.0.0.1:4444/call\tback', ok: false },
  { name: 'an embedded newline', client: native, uri: 'http://127.0.0.1:4444/callback\n', ok: false },
  { name: 'an embedded space', client: native, uri: 'http://127.0.0.1:4444/callback ', ok: false },
  { name: 'a NUL character', client: native, uri: 'http://127.0.0.1:4444/callback\u0000', ok: false },
  { name: 'an upper-case host `LOCALHOST`', client: native, uri: 'http://LOCALHOST:4444/cb?app=1', ok: false },
  { name: 'a port above 65535', client: native, uri: 'http://127.0.0.1:99999/callback', ok: false },
  { name: 'a port with a leading zero', client: native, uri: 'http://127.0.0.1:04444/callback', ok: false },
  { name: 'an empty port', client: native, uri: 'http://127.0.0.1:/callback', ok: false },
  { name: 'the highest port', client: native, uri: 'http://127.0.0.1:65535/callback', ok: true },
  { name: 'an extra query', client: native, uri: 'http://127.0.0.1:4444/callback?x=1', ok: false },
  { name: 'a trailing slash', client: native, uri: 'http://127.0.0.1:4444/callback/', ok: false },
  { name: 'credentials `user@`', client: native, uri: 'http://user@127.0.0.1:4444/callback', ok: false },
  { name: 'https instead of http on loopback', client: native, uri: 'https://127.0.0.1:4444/callback', ok: false },
  { name: 'a private-use URI with a fragment', client: native, uri: 'org.example.app:/cb#x', ok: false },
  { name: 'the web redirect', client: web, uri: 'https://app.example/cb', ok: true },
  { name: 'the web redirect with a fragment', client: web, uri: 'https://app.example/cb#x', ok: false },
  { name: 'the web redirect on another port', client: web, uri: 'https://app.example:8443/cb', ok: false },
  { name: 'a loopback port change for a web client', client: { ...web, redirectUris: ['http://127.0.0.1/callback'] }, uri: 'http://127.0.0.1:4444/callback', ok: false },
];

describe('issue 12 #7: redirect URI matching is exact', () => {
  for (const c of CASES) {
    it(`issue 12 #7: ${c.ok ? 'accepts' : 'refuses'} ${c.name}`, () => {
      assert.equal(matchRedirectUri(c.client, c.uri), c.ok, JSON.stringify(c.uri));
    });
  }

  const REGISTRATION: { name: string; uri: string }[] = [
    { name: 'the short form `127.1`', uri: 'http://127.1/callback' },
    { name: 'the hex form `0x7f.1`', uri: 'http://0x7f.1/callback' },
    { name: 'a dot segment', uri: 'http://127.0.0.1/x/../callback' },
    { name: 'a backslash', uri: 'http://127.0.0.1\\callback' },
    { name: 'an upper-case host', uri: 'http://LOCALHOST/cb' },
  ];
  for (const c of REGISTRATION) {
    it(`issue 12 #7: registration refuses a redirect URI not in normal form: ${c.name}`, () => {
      assert.throws(
        () => checkRedirectUri(c.uri, 'native', new URL('https://app.example/')),
        (err: unknown) => err instanceof OAuthError && err.error === 'invalid_redirect_uri' && /not in normal form/.test(err.description),
      );
    });
  }
  it('registration still takes a normal loopback, private-use and web URI', () => {
    const site = new URL('https://app.example/');
    assert.equal(checkRedirectUri('http://127.0.0.1/callback', 'native', site), 'http://127.0.0.1/callback');
    assert.equal(checkRedirectUri('org.example.app:/cb', 'native', site), 'org.example.app:/cb');
    assert.equal(checkRedirectUri('https://app.example', 'web', site), 'https://app.example');
  });
});

describe('issue 12 #7: over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  const request = (redirect_uri: string) =>
    authUrl(server.url, {
      response_type: 'code',
      client_id: 'native',
      redirect_uri,
      scope: 'openid',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });

  it('issue 12 #7: a loopback redirect with a fragment `#@evil.example` is refused with an error page, not a redirect', async () => {
    const res = await fetch(request('http://127.0.0.1:4444/callback#@evil.example'), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /redirect_uri does not match/);
  });

  it('issue 12 #7: the same loopback redirect on another port without a fragment is still taken', async () => {
    const res = await fetch(request('http://127.0.0.1:4444/callback'), { redirect: 'manual' });
    assert.notEqual(res.status, 400, 'the port may change');
    assert.doesNotMatch(await res.text(), /redirect_uri does not match/);
  });

  it('issue 12 #7: a loopback redirect on an impossible port gets the error page, not a server error', async () => {
    const res = await fetch(request('http://127.0.0.1:99999/callback'), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /redirect_uri does not match/);
  });

  it('issue 12 #7: a static client with a fragment in a redirect URI is refused at start-up', async () => {
    const { validate } = await import('../../src/config/load.js');
    assert.throws(
      () => validate({ issuer: 'http://127.0.0.1:1', clients: [{ id: 'x', name: 'X', public: true, redirect_uris: ['https://x.example/cb#frag'] }] }),
      /fragment/,
    );
  });
});
