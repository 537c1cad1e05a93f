import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authorizeInBrowser } from '../helpers/flow.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';

// The end-to-end acceptance test of the OAuth core, driven by openid-client,
// a certified relying-party library, against a real server on real Redis.
describe('openid-client end to end', () => {
  let server: TestServer;
  let config: oidc.Configuration;

  before(async () => {
    server = await startServer();
    await server.app.accounts.create('alice@localhost', PASSWORD);
    config = await oidc.discovery(new URL(server.url), 'webapp', CLIENT_SECRET, oidc.ClientSecretBasic(CLIENT_SECRET), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(() => server.stop());

  it('runs discovery, code + PKCE, ID token, userinfo, refresh, introspection and revocation', async () => {
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, server.url);
    assert.equal(meta.jwks_uri, `${server.url}/oauth2/jwks`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'https://app.example/cb',
      scope: 'openid profile offline_access xmpp',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const callback = await authorizeInBrowser(new FormBrowser(), url.toString());
    assert.equal(callback.origin + callback.pathname, 'https://app.example/cb');
    assert.equal(callback.searchParams.get('iss'), server.url);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    assert.ok(tokens.refresh_token, 'a refresh token for offline_access');
    assert.equal(tokens.token_type, 'bearer');
    const claims = tokens.claims()!;
    assert.equal(claims.sub, 'xmpp:alice@localhost');
    assert.equal(claims.aud, 'webapp');
    assert.equal(claims.nonce, nonce);

    // The ID token verifies against the published JWKS, and the JWKS holds no private parts.
    const jwks = createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    const verified = await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: 'webapp' });
    assert.equal(verified.payload.at_hash !== undefined, true);
    const jwksDoc = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: Record<string, unknown>[] };
    assert.ok(jwksDoc.keys.length >= 1);
    for (const k of jwksDoc.keys) assert.equal(k.d, undefined, 'no private key material in JWKS');

    // The access token is an RFC 9068 JWT that resource servers can verify offline.
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
    const at = await jwtVerify(tokens.access_token, jwks, { issuer: server.url, typ: 'at+jwt' });
    assert.equal(at.payload.jid, 'alice@localhost');
    assert.equal(at.payload.client_id, 'webapp');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'xmpp:alice@localhost');
    assert.equal(info.preferred_username, 'alice');
    assert.equal(info.jid, 'alice@localhost');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
    assert.notEqual(refreshed.access_token, tokens.access_token);

    const active = await oidc.tokenIntrospection(config, refreshed.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, 'webapp');
    assert.equal(active.username, 'alice@localhost');
    assert.equal(active.sub, 'xmpp:alice@localhost');
    assert.equal(typeof active.exp, 'number');

    await oidc.tokenRevocation(config, refreshed.access_token);
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);
    assert.equal((await oidc.tokenIntrospection(config, refreshed.refresh_token!)).active, false, 'the whole grant is gone');
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), (err: Error & { error?: string }) => {
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });
});
