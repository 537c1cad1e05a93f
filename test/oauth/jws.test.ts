import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { silentLogger } from '../../src/log.js';
import { isHighS, signJws, verifyJws, type JwsAlg } from '../../src/oauth/tokens/jws.js';
import { KeyManager, rotateKeys } from '../../src/oauth/tokens/keys.js';
import { ACCESS_TOKEN_TYPE, TokenSigner } from '../../src/oauth/tokens/tokens.js';
import { MemoryStore } from '../../src/store/memory.js';

const ISSUER = 'https://auth.example';

async function keyPair(alg: JwsAlg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  return {
    privateJwk,
    publicJwk,
    priv: createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' }),
    pub: createPublicKey({ key: publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }),
  };
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('compact JWS on node:crypto', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: what we sign, jose verifies; what jose signs, we verify`, async () => {
      const k = await keyPair(alg);
      const ours = signJws(alg, { kid: 'k1', typ: 'at+jwt' }, { iss: ISSUER, n: 1 }, k.priv);
      const { payload, protectedHeader } = await jwtVerify(ours, await importJWK(k.publicJwk as JWK, alg), { issuer: ISSUER, typ: 'at+jwt' });
      assert.equal(payload.n, 1);
      assert.deepEqual(protectedHeader, { alg, kid: 'k1', typ: 'at+jwt' });

      const theirs = await new SignJWT({ iss: ISSUER, n: 2 }).setProtectedHeader({ alg, kid: 'k1' }).sign(await importJWK(k.privateJwk as JWK, alg));
      assert.equal(verifyJws(theirs, alg, k.pub)?.payload.n, 2);
    });
  }

  it('refuses tampering, a foreign key, a header alg other than the key’s, crit, and malformed tokens', async () => {
    const k = await keyPair('ES256');
    const other = await keyPair('ES256');
    const token = signJws('ES256', { kid: 'k1' }, { sub: 'alice' }, k.priv);
    const [h, p, s] = token.split('.') as [string, string, string];
    assert.ok(verifyJws(token, 'ES256', k.pub), 'the untouched token verifies');
    const cases: Record<string, string> = {
      'payload changed': `${h}.${b64({ sub: 'mallory' })}.${s}`,
      'signed by another key': signJws('ES256', { kid: 'k1' }, { sub: 'alice' }, other.priv),
      'alg none, no signature': `${b64({ alg: 'none', kid: 'k1' })}.${p}.`,
      'alg HS256 in the header': `${b64({ alg: 'HS256', kid: 'k1' })}.${p}.${s}`,
      'crit header': signJws('ES256', { kid: 'k1', crit: ['exp'] }, { sub: 'alice' }, k.priv),
      'signature of the wrong length': `${h}.${p}.${s.slice(0, 40)}`,
      'signature in DER form': `${h}.${p}.${Buffer.alloc(72, 1).toString('base64url')}`,
      'two segments': `${h}.${p}`,
      'four segments': `${token}.x`,
      'payload not JSON': `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
      'payload an array': `${h}.${b64([1, 2])}.${s}`,
      'characters outside base64url': `${h}.${p}.${s.slice(0, -2)}+/`,
      'empty string': '',
    };
    for (const [name, bad] of Object.entries(cases)) assert.equal(verifyJws(bad, 'ES256', k.pub), null, name);
    assert.equal(verifyJws(token, 'EdDSA', k.pub), null, 'a key is used only with its own algorithm');
  });
});

describe('TokenSigner: access tokens and the verified-token cache', () => {
  async function signer(ttl = 3600) {
    const store = new MemoryStore();
    const keys = new KeyManager(store, { algorithm: 'ES256', maxTokenTtl: ttl }, silentLogger);
    await keys.init();
    return { store, keys, signer: new TokenSigner(keys, { issuer: ISSUER, accessTokenTtl: ttl, refreshTokenTtl: ttl }) };
  }
  const input = { jid: 'alice@localhost', clientId: 'app', scope: ['openid', 'xmpp'], grantId: 'g'.repeat(22) };

  it('verifies its own tokens, the same verdict from the cache, and refuses other issuers and types', async () => {
    const { keys, signer: s, store } = await signer();
    const { token, claims } = await s.accessToken(input);
    assert.deepEqual(await s.verifyAccessToken(token), claims);
    assert.deepEqual(await s.verifyAccessToken(token), claims, 'second time, from the cache');
    assert.ok(Object.isFrozen(await s.verifyAccessToken(token)), 'cached claims cannot be changed by a caller');

    const { kid, alg, key } = keys.current();
    const foreignIssuer = signJws(alg, { kid, typ: ACCESS_TOKEN_TYPE }, { ...claims, iss: 'https://evil.example' }, key);
    assert.equal(await s.verifyAccessToken(foreignIssuer), null);
    const idTokenType = signJws(alg, { kid, typ: 'JWT' }, claims, key);
    assert.equal(await s.verifyAccessToken(idTokenType), null, 'an ID token is not an access token');
    const { gid: _gid, ...noGrant } = claims;
    assert.equal(await s.verifyAccessToken(signJws(alg, { kid, typ: ACCESS_TOKEN_TYPE }, noGrant, key)), null);
    keys.stop();
    await store.close();
  });

  it('an expired token is refused even after a cached success; ignoreExpiry still reads it', async () => {
    const { keys, signer: s, store } = await signer(60);
    const now = Math.floor(Date.now() / 1000);
    const { token } = await s.accessToken(input, now - 59);
    assert.ok(await s.verifyAccessToken(token), 'live for one more second');
    const { token: old } = await s.accessToken(input, now - 120);
    assert.equal(await s.verifyAccessToken(old), null, 'expired on first sight');
    assert.ok(await s.verifyAccessToken(old, { ignoreExpiry: true }));
    assert.equal(await s.verifyAccessToken(old), null, 'expired, though now in the cache');
    keys.stop();
    await store.close();
  });

  it('a token whose signing key left the key set is refused although it was cached', async () => {
    const { keys, signer: s, store } = await signer(60);
    const { token } = await s.accessToken(input);
    assert.ok(await s.verifyAccessToken(token));
    const oldKid = keys.current().kid;
    await rotateKeys(store, 'ES256', 0, 60);
    await store.removeSigningKey(oldKid); // an operator pulling a compromised key
    await keys.reload();
    assert.equal(await s.verifyAccessToken(token), null);
    keys.stop();
    await store.close();
  });

  it('issue 12 #9: ES256 twins of a token: a non-canonical base64url character is refused, (r, n−s) is cached under the same jti and dies with the grant', async () => {
    const { keys, signer: s, store } = await signer();
    const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const cache = (s as unknown as { verified: Map<string, unknown> }).verified;
    // Every signature we mint is low-s: one token, one signature.
    for (let i = 0; i < 40; i++) {
      const sig = Buffer.from((await s.accessToken(input)).token.split('.')[2]!, 'base64url');
      assert.equal(isHighS(sig), false);
    }
    cache.clear();
    const { token, claims } = await s.accessToken(input);
    const [h, p, sig] = token.split('.') as [string, string, string];
    const raw = Buffer.from(sig, 'base64url');
    const flippedS = (N - BigInt(`0x${raw.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0');
    const highS = `${h}.${p}.${Buffer.concat([raw.subarray(0, 32), Buffer.from(flippedS, 'hex')]).toString('base64url')}`;
    // 64 bytes = 86 base64url characters, the last carrying 4 unused bits: set one of them.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twinChar = last[last.indexOf(sig.at(-1)!) ^ 1]!;
    const nonCanonical = `${h}.${p}.${sig.slice(0, -1)}${twinChar}`;
    assert.deepEqual(Buffer.from(nonCanonical.split('.')[2]!, 'base64url'), raw, 'decodes to the same signature bytes');
    const payloadTwin = `${h}.${p.slice(0, -1)}${last[last.indexOf(p.at(-1)!) ^ 1]}.${sig}`;

    assert.deepEqual(await s.verifyAccessToken(token), claims);
    assert.equal(await s.verifyAccessToken(nonCanonical), null, 'non-canonical signature encoding refused');
    assert.equal(await s.verifyAccessToken(payloadTwin), null, 'non-canonical payload encoding refused');
    // High-s: the same claims, accepted so tokens minted before low-s signing live out their TTL,
    // but never a second cache entry, and never taking the original's place.
    assert.deepEqual(await s.verifyAccessToken(highS), claims);
    assert.equal(cache.size, 1, 'twins share the jti entry');
    assert.deepEqual([...cache.keys()], [claims.jti]);
    // Issue 16: the by-text index in front of it holds the original only.
    const byText = (s as unknown as { byText: Map<string, unknown> }).byText;
    assert.deepEqual([...byText.keys()], [token], 'a twin is never looked up by its own text');
    assert.deepEqual(await s.verifyAccessToken(token), claims);

    // Revocation is by grant: the twin is refused with the original.
    const { validateAccessToken } = await import('../../src/oauth/tokens/validate-token.js');
    await store.saveGrant({ id: input.grantId, jid: input.jid, clientId: input.clientId, scope: input.scope, createdAt: Date.now(), lastUsedAt: Date.now() });
    assert.ok(await validateAccessToken(s, store, highS));
    await store.revokeGrant(input.grantId);
    assert.equal(await validateAccessToken(s, store, highS), null);
    assert.equal(await validateAccessToken(s, store, token), null);
    keys.stop();
    await store.close();
  });

  it('the cache stays bounded', async () => {
    const { keys, signer: s, store } = await signer();
    const { token: first, claims: firstClaims } = await s.accessToken(input);
    await s.verifyAccessToken(first);
    for (let i = 0; i < 4200; i++) await s.verifyAccessToken((await s.accessToken(input)).token);
    const cache = (s as unknown as { verified: Map<string, unknown> }).verified;
    assert.ok(cache.size <= 4096, `cache holds ${cache.size}`);
    assert.equal(cache.has(firstClaims.jti), false, 'the oldest entry went first');
    assert.ok(await s.verifyAccessToken(first), 'an evicted token still verifies the slow way');
    keys.stop();
    await store.close();
  });
});
