import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair } from '../helpers/flow.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Dynamic client registration (RFC 7591) over HTTP, against a real server on real Redis.

const REGISTRATION_KEY = 'registration-key-for-tests-0123456789abcdef';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const WEB_APP = {
  client_name: 'Dynamic Chat',
  'client_name#fr': 'Discussion dynamique',
  client_uri: 'https://app.example/',
  redirect_uris: ['https://app.example/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  logo_uri: 'https://app.example/logo.png',
  software_id: 'dyn-chat',
  software_version: '1.0',
  contacts: ['ops@app.example'],
  jwks_uri: 'https://app.example/jwks',
};

type Json = Record<string, unknown>;

async function register(base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(new URL('/oauth2/register', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    assert.fail(`not a JSON response (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body: json };
}

/** A token request that gets past client authentication only with good credentials: 400 invalid_grant, else 401. */
async function tokenAs(base: string, clientId: string, secret?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-real-token' });
  if (secret === undefined) body.set('client_id', clientId);
  else headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const res = await fetch(new URL('/oauth2/token', base), { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Json };
}

const hostKey = (issuer: string) => createHmac('sha256', REGISTRATION_KEY).update(new URL(issuer).hostname).digest();
const secretOf = (issuer: string, clientId: string) => createHmac('sha256', hostKey(issuer)).update(clientId).digest('hex');

describe('dynamic client registration over HTTP', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ registration_key: REGISTRATION_KEY });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(() => server.stop());

  it('answers 201 with the accepted metadata and credentials, not cacheable', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await register(server.url, WEB_APP);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const { client_id, client_secret, client_id_issued_at, client_secret_expires_at, ...meta } = res.body;
    assert.equal(typeof client_id, 'string');
    assert.match(client_secret as string, /^[0-9a-f]{64}$/);
    assert.ok((client_id_issued_at as number) >= before && (client_id_issued_at as number) <= before + 5);
    assert.equal(client_secret_expires_at, 0);
    assert.deepEqual(meta, {
      client_name: 'Dynamic Chat',
      'client_name#fr': 'Discussion dynamique',
      client_uri: 'https://app.example/',
      application_type: 'web',
      redirect_uris: ['https://app.example/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile offline_access xmpp:client:normal xmpp xmpp:account:read xmpp:account:write',
      logo_uri: 'https://app.example/logo.png',
      software_id: 'dyn-chat',
      software_version: '1.0',
      contacts: ['ops@app.example'],
    });
  });

  it('derives client_secret = HMAC-SHA256(per_host_key, client_id), per_host_key = HMAC-SHA256(registration_key, host)', async () => {
    const { body } = await register(server.url, WEB_APP);
    assert.equal(body.client_secret, secretOf(server.url, body.client_id as string));
    const ok = await tokenAs(server.url, body.client_id as string, body.client_secret as string);
    assert.equal(ok.status, 400, 'client authentication passed');
    assert.equal(ok.body.error, 'invalid_grant');
    const wrong = await tokenAs(server.url, body.client_id as string, secretOf(server.url, 'another id'));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
  });

  it('announces the endpoint in discovery', async () => {
    const doc = (await (await fetch(new URL('/.well-known/oauth-authorization-server', server.url))).json()) as Json;
    assert.equal(doc.registration_endpoint, `${server.url}/oauth2/register`);
  });

  it('serves the JSON Schema of accepted metadata at GET /oauth2/register', async () => {
    const res = await fetch(new URL('/oauth2/register', server.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/schema\+json/);
    const schema = (await res.json()) as Json & { properties: Record<string, Json>; required: string[] };
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
    assert.deepEqual(schema.required, ['client_name', 'client_uri']);
    for (const field of ['client_name', 'client_uri', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'scope', 'application_type']) {
      assert.ok(schema.properties[field], field);
    }
    assert.deepEqual((schema.properties.grant_types!.items as Json).enum, ['authorization_code', 'refresh_token', DEVICE_GRANT], 'only what this server allows');
  });

  it('refuses a body over 16 KiB with 413 and a JSON error', async () => {
    const res = await register(server.url, { ...WEB_APP, padding: 'x'.repeat(17 * 1024) });
    assert.equal(res.status, 413);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.error, 'invalid_request');
    assert.match(res.body.error_description as string, /larger than 16 KiB/);
  });

  it('refuses anything but JSON with 415', async () => {
    const form = await register(server.url, new URLSearchParams({ client_name: 'x' }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.equal(form.body.error, 'invalid_request');
    const text = await register(server.url, JSON.stringify(WEB_APP), { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    const gzip = await register(server.url, JSON.stringify(WEB_APP), { 'content-encoding': 'gzip' });
    assert.equal(gzip.status, 415);
  });

  it('answers malformed JSON and bad metadata with 400, never 500', async () => {
    for (const body of ['{"client_name":', '', 'null', '[]', '"string"', '{"client_name": "x", "client_uri": 7}']) {
      const res = await register(server.url, body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error, 'invalid_client_metadata', body);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    const utf16 = await register(server.url, JSON.stringify(WEB_APP), { 'content-type': 'application/json; charset=utf-16' });
    assert.ok(utf16.status === 415 || utf16.status === 400, `charset: ${utf16.status}`);
    const evil = await register(server.url, { ...WEB_APP, redirect_uris: ['https://evil.example/cb'] });
    assert.equal(evil.status, 400);
    assert.equal(evil.body.error, 'invalid_redirect_uri');
    assert.match(evil.body.error_description as string, /redirect_uris/);
    const noName = await register(server.url, { ...WEB_APP, client_name: undefined });
    assert.equal(noName.body.error, 'invalid_client_metadata');
    assert.match(noName.body.error_description as string, /client_name/);
  });

  it('refuses a tampered client_id with 401 invalid_client at the token endpoint', async () => {
    const { body } = await register(server.url, WEB_APP);
    const id = body.client_id as string;
    const [h, p, s] = id.split('.') as [string, string, string];
    const i = Math.floor(p.length / 2);
    const tampered = {
      'one payload character changed': `${h}.${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}.${s}`,
      're-signed with alg none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`,
      're-signed with HS512 (HS256 configured)': await new SignJWT(decodeJwt(id)).setProtectedHeader({ alg: 'HS512' }).sign(hostKey(server.url)),
    };
    for (const [how, forged] of Object.entries(tampered)) {
      // The matching secret is computed so that only the client_id itself can be at fault.
      const res = await tokenAs(server.url, forged, secretOf(server.url, forged));
      assert.equal(res.status, 401, how);
      assert.equal(res.body.error, 'invalid_client', how);
    }
  });

  it('finds a public native client with public=true and authenticates it without a secret', async () => {
    const res = await register(server.url, {
      client_name: 'Desktop Chat',
      client_uri: 'https://app.example/',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/cb', 'org.example.app:/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.client_secret, undefined);
    const id = res.body.client_id as string;
    const client = await server.app.core.clients.find(id);
    assert.ok(client);
    assert.equal(client.public, true);
    assert.equal(client.dynamic, true);
    assert.ok(client.grantTypes.includes('device_code') && client.grantTypes.includes(DEVICE_GRANT));
    const noSecret = await tokenAs(server.url, id);
    assert.equal(noSecret.status, 400, 'authenticated as a public client');
    assert.equal(noSecret.body.error, 'invalid_grant');
    const withSecret = await tokenAs(server.url, id, secretOf(server.url, id));
    assert.equal(withSecret.status, 401, 'a public client has no secret to present');
  });

  it('runs the authorization code flow with a registered client', async () => {
    const { body } = await register(server.url, WEB_APP);
    const clientId = body.client_id as string;
    const { verifier, challenge } = pkcePair();
    const url = authUrl(server.url, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: 'https://app.example/cb',
      scope: 'openid offline_access',
      state: 'st',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const cb = await authorizeInBrowser(new FormBrowser(), url);
    const code = cb.searchParams.get('code');
    assert.ok(code, `expected a code, got ${cb}`);
    const res = await fetch(new URL('/oauth2/token', server.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${body.client_secret as string}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/cb' }),
    });
    const tokens = (await res.json()) as Json;
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
  });
});

describe('dynamic client registration with registration_ttl', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ registration_key: REGISTRATION_KEY, registration_ttl: 2 });
  });
  after(() => server.stop());

  it('sets client_secret_expires_at and refuses the client once expired', async () => {
    // exp is whole seconds: start at the top of a second so the client lives (almost) its full two seconds.
    await sleep(1000 - (Date.now() % 1000) + 20);
    const { status, body } = await register(server.url, WEB_APP);
    assert.equal(status, 201);
    assert.equal(body.client_secret_expires_at, (body.client_id_issued_at as number) + 2);
    const id = body.client_id as string;
    const fresh = await tokenAs(server.url, id, body.client_secret as string);
    assert.equal(fresh.body.error, 'invalid_grant', 'valid before expiry');
    await sleep(2200);
    const expired = await tokenAs(server.url, id, body.client_secret as string);
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error, 'invalid_client');
    assert.equal(await server.app.core.clients.find(id), null);
  });
});
