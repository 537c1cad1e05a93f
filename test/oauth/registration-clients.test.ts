import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { DynamicClients } from '../../src/oauth/clients/registration/dynamic-clients.js';
import { DEVICE_GRANT, validateClientMetadata, type RegistrationPolicy } from '../../src/oauth/clients/registration/metadata.js';

// Stateless client_ids without a server: what find() accepts and what it refuses.

const KEY = 'registration-key-for-tests-0123456789abcdef';
const ISSUER = 'https://auth.example';
const POLICY: RegistrationPolicy = { allowedGrantTypes: ['authorization_code', 'refresh_token', 'device_code'], allowedResponseTypes: ['code'] };
const hostKey = createHmac('sha256', KEY).update('auth.example').digest();

const clients = (opts: { ttl?: number; algorithm?: 'HS256' | 'HS384' | 'HS512'; issuer?: string } = {}) =>
  new DynamicClients({ registrationKey: KEY, algorithm: opts.algorithm ?? 'HS256', issuer: opts.issuer ?? ISSUER, ttl: opts.ttl });

const WEB = validateClientMetadata(
  { client_name: 'Chat', 'client_name#fr': 'Discussion', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code', 'refresh_token'] },
  POLICY,
);
const NATIVE = validateClientMetadata(
  {
    client_name: 'Desktop chat',
    client_uri: 'https://app.example/',
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/cb', 'org.example.app:/cb'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', DEVICE_GRANT],
    scope: 'openid xmpp',
  },
  POLICY,
);

/** Changes one character in the middle of the payload, keeping it base64url. */
function flipPayloadChar(jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const i = Math.floor(p.length / 2);
  const flipped = p[i] === 'A' ? 'B' : 'A';
  return `${h}.${p.slice(0, i)}${flipped}${p.slice(i + 1)}.${s}`;
}

function resignedWithNone(jwt: string): string {
  const [, p] = jwt.split('.') as [string, string];
  return `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
}

describe('DynamicClients (stateless client_ids)', () => {
  it('round-trips the accepted metadata through the client_id', async () => {
    const dc = clients();
    const reg = await dc.register(WEB, 1_700_000_000);
    assert.equal(reg.client_id_issued_at, 1_700_000_000);
    assert.equal(reg.client_secret_expires_at, 0, 'unlimited by default');
    const client = await dc.find(reg.client_id);
    assert.ok(client);
    assert.equal(client.id, reg.client_id);
    assert.equal(client.name, 'Chat');
    assert.deepEqual(client.localizedNames, { fr: 'Discussion' });
    assert.equal(client.public, false);
    assert.equal(client.dynamic, true);
    assert.equal(client.authMethod, 'client_secret_basic');
    assert.deepEqual(client.redirectUris, ['https://app.example/cb']);
    assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
    assert.deepEqual(client.responseTypes, ['code']);
    assert.deepEqual(client.scope, ['openid', 'profile', 'offline_access', 'xmpp:client:normal', 'xmpp', 'xmpp:account:read', 'xmpp:account:write']);
    assert.equal(client.applicationType, 'web');
    assert.equal(client.clientUri, 'https://app.example/');
  });

  it('derives the secret as hex HMAC-SHA256(per_host_key, client_id) and checks it', async () => {
    const dc = clients();
    const reg = await dc.register(WEB);
    const expected = createHmac('sha256', hostKey).update(reg.client_id).digest('hex');
    assert.equal(reg.client_secret, expected);
    const client = (await dc.find(reg.client_id))!;
    assert.equal(client.checkSecret?.(expected), true);
    assert.equal(client.checkSecret?.(expected.toUpperCase()), false);
    assert.equal(client.checkSecret?.(expected.slice(0, -1)), false);
    assert.equal(client.checkSecret?.(''), false);
  });

  it('gives identical metadata two different client_ids (nonce)', async () => {
    const dc = clients();
    const [a, b] = [await dc.register(WEB, 1_700_000_000), await dc.register(WEB, 1_700_000_000)];
    assert.notEqual(a.client_id, b.client_id);
    assert.notEqual(a.client_secret, b.client_secret);
  });

  it('keeps the client_id compact', async () => {
    const reg = await clients().register(validateClientMetadata({ client_name: 'Chat', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'] }, POLICY));
    assert.ok(reg.client_id.length < 256, `client_id is ${reg.client_id.length} characters`);
    const claims = decodeJwt(reg.client_id);
    assert.deepEqual(Object.keys(claims).sort(), ['iat', 'jti', 'n', 'r', 'u']);
  });

  it('finds a public native client: public, no secret, device grant under both names', async () => {
    const dc = clients();
    const reg = await dc.register(NATIVE);
    assert.equal(reg.client_secret, undefined);
    const client = (await dc.find(reg.client_id))!;
    assert.equal(client.public, true);
    assert.equal(client.authMethod, 'none');
    assert.equal(client.checkSecret, undefined);
    assert.equal(client.applicationType, 'native');
    assert.deepEqual(client.redirectUris, ['http://127.0.0.1/cb', 'org.example.app:/cb']);
    assert.deepEqual(client.grantTypes, ['authorization_code', 'device_code', DEVICE_GRANT]);
    assert.deepEqual(client.scope, ['openid', 'xmpp']);
  });

  it('refuses a client_id with any changed byte', async () => {
    const dc = clients();
    const id = (await dc.register(WEB)).client_id;
    assert.equal(await dc.find(flipPayloadChar(id)), null, 'payload');
    const [h, p, s] = id.split('.') as [string, string, string];
    assert.equal(await dc.find(`${h}.${p}.${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`), null, 'signature');
    assert.equal(await dc.find(`${h}.${p}.`), null, 'signature removed');
    assert.equal(await dc.find(`${id}x`), null, 'appended');
  });

  it('refuses alg none and any algorithm but the configured one', async () => {
    const dc = clients({ algorithm: 'HS256' });
    const id = (await dc.register(WEB)).client_id;
    assert.equal(await dc.find(resignedWithNone(id)), null, 'alg none');
    const payload = decodeJwt(id);
    for (const alg of ['HS384', 'HS512'] as const) {
      const resigned = await new SignJWT(payload).setProtectedHeader({ alg }).sign(hostKey);
      assert.equal(await dc.find(resigned), null, alg);
    }
    const same = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(hostKey);
    assert.ok(await dc.find(same), 'control: the same claims re-signed properly are accepted');
  });

  it('honours registration_algorithm', async () => {
    const dc = clients({ algorithm: 'HS512' });
    const id = (await dc.register(WEB)).client_id;
    assert.ok(await dc.find(id));
    assert.equal(await clients({ algorithm: 'HS256' }).find(id), null);
  });

  it('refuses a client_id from another issuer host or another registration_key', async () => {
    const id = (await clients().register(WEB)).client_id;
    assert.equal(await clients({ issuer: 'https://other.example' }).find(id), null);
    const otherKey = new DynamicClients({ registrationKey: `${KEY}-rotated`, algorithm: 'HS256', issuer: ISSUER });
    assert.equal(await otherKey.find(id), null);
    assert.ok(await clients({ issuer: 'https://auth.example:8443/prefix' }).find(id), 'the port and path are not part of the host key');
  });

  it('sets exp from registration_ttl and refuses expired client_ids', async () => {
    const dc = clients({ ttl: 60 });
    const now = Math.floor(Date.now() / 1000);
    const fresh = await dc.register(WEB, now);
    assert.equal(fresh.client_secret_expires_at, now + 60);
    assert.equal(decodeJwt(fresh.client_id).exp, now + 60);
    assert.ok(await dc.find(fresh.client_id));
    const old = await dc.register(WEB, now - 61);
    assert.equal(await dc.find(old.client_id), null);
  });

  it('refuses client_ids without exp once a TTL is configured', async () => {
    const id = (await clients().register(WEB)).client_id;
    assert.equal(await clients({ ttl: 60 }).find(id), null);
  });

  it('refuses claims that are not a registration, even when properly signed', async () => {
    const dc = clients();
    for (const claims of [{}, { n: 'x' }, { n: 1, u: 'https://a.example/' }, { n: 'x', u: 'https://a.example/', g: 'az' }, { n: 'x', u: 'https://a.example/', r: 'https://a.example/cb' }, { n: 'x', u: 'https://a.example/', l: ['fr'] }]) {
      const id = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(hostKey);
      assert.equal(await dc.find(id), null, JSON.stringify(claims));
    }
  });

  it('returns null, never throws, on garbage', async () => {
    const dc = clients();
    const garbage = ['', 'webapp', 'a.b.c', '..', 'a..', 'x'.repeat(10_000), 'eyJhbGciOiJIUzI1NiJ9.e30.', 'eyJ.eyJ.sig', '\u0000.\u0000.\u0000', `${'e'.repeat(50)}.${'e'.repeat(50)}.${'e'.repeat(43)}`];
    for (const g of garbage) assert.equal(await dc.find(g), null, JSON.stringify(g.slice(0, 40)));
    assert.equal(await dc.find(undefined as unknown as string), null);
  });
});
