import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/oauth/errors.js';
import {
  DEVICE_GRANT,
  validateClientMetadata,
  type ClientMetadata,
  type RegistrationPolicy,
} from '../../src/oauth/clients/registration/metadata.js';
import { isLoopbackHost } from '../../src/oauth/clients/registration/uris.js';

// Every registration rule, with one accepted and one refused example each,
// against the pure validator (no server).

const SERVER: RegistrationPolicy = { allowedGrantTypes: ['authorization_code', 'refresh_token', 'device_code'], allowedResponseTypes: ['code'] };
const WITH_PASSWORD: RegistrationPolicy = { ...SERVER, allowedGrantTypes: [...SERVER.allowedGrantTypes, 'password'] };
const NO_DEVICE: RegistrationPolicy = { ...SERVER, allowedGrantTypes: ['authorization_code', 'refresh_token'] };

const BASE = { client_name: 'Chat', client_uri: 'https://app.example/', redirect_uris: ['https://app.example/cb'] };
const NATIVE = { ...BASE, application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] };
const DEVICE_ONLY = { client_name: 'TV', client_uri: 'https://tv.example/', grant_types: [DEVICE_GRANT] };

type Body = Record<string, unknown>;
interface Example {
  body: unknown;
  policy?: RegistrationPolicy;
  /** Accepted examples: what the accepted metadata must show. */
  check?: (m: ClientMetadata) => void;
}
interface Rule {
  rule: string;
  accept: Example[];
  refuse: (Example & { error?: 'invalid_client_metadata' | 'invalid_redirect_uri'; field: RegExp })[];
}

/** BASE with some fields replaced; undefined removes a field. */
function patch(base: Body, changes: Body): Body {
  const out: Body = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}
const web = (changes: Body) => ({ body: patch(BASE, changes) });
const native = (changes: Body) => ({ body: patch(NATIVE, changes) });

const RULES: Rule[] = [
  {
    rule: 'the body is a JSON object',
    accept: [{ body: BASE }],
    refuse: [
      { body: [BASE], field: /JSON object/ },
      { body: null, field: /JSON object/ },
      { body: 'client_name=Chat', field: /JSON object/ },
    ],
  },
  {
    rule: 'client_name is required, a short plain string',
    accept: [web({ client_name: '  Chat  ' }), web({ client_name: 'Chat \u{1F4AC} Ω' })],
    refuse: [
      { ...web({ client_name: undefined }), field: /client_name is required/ },
      { ...web({ client_name: '' }), field: /client_name/ },
      { ...web({ client_name: 42 }), field: /client_name must be a string/ },
      { ...web({ client_name: 'x'.repeat(101) }), field: /client_name is longer/ },
      { ...web({ client_name: 'Bank\u202eevil' }), field: /client_name must not contain control/ },
      { ...web({ client_name: 'two\nlines' }), field: /client_name must not contain control/ },
      { ...web({ client_name: 'Evil\uffff' }), field: /client_name must not contain control/ },
    ],
  },
  {
    rule: 'localised client_name#xx is kept, xx a BCP 47 tag',
    accept: [
      {
        body: patch(BASE, { 'client_name#fr': 'Discussion', 'client_name#pt-BR': 'Bate-papo', 'client_name#EN-gb': 'Chat' }),
        check: (m) => {
          assert.equal(m['client_name#fr'], 'Discussion');
          assert.equal(m['client_name#pt-BR'], 'Bate-papo');
          assert.equal(m['client_name#en-GB'], 'Chat', 'tag canonicalised');
        },
      },
    ],
    refuse: [
      { ...web({ 'client_name#not a tag': 'x' }), field: /client_name#not a tag/ },
      { ...web({ 'client_name#': 'x' }), field: /client_name#/ },
      { ...web({ 'client_name#fr': 7 }), field: /client_name#fr must be a string/ },
    ],
  },
  {
    rule: 'client_uri is required, https, not a loopback host',
    accept: [web({}), web({ client_uri: 'https://app.example:8443/home', redirect_uris: ['https://app.example/cb'] })],
    refuse: [
      { ...web({ client_uri: undefined }), field: /client_uri is required/ },
      { ...web({ client_uri: 'http://app.example/' }), field: /client_uri must be an https/ },
      { ...web({ client_uri: 'https://127.0.0.1/' }), field: /client_uri must not point to a loopback/ },
      { ...web({ client_uri: 'https://127.8.9.10/' }), field: /client_uri must not point to a loopback/ },
      { ...web({ client_uri: 'https://127.1/' }), field: /client_uri must not point to a loopback/ },
      { ...web({ client_uri: 'https://localhost/' }), field: /client_uri must not point to a loopback/ },
      { ...web({ client_uri: 'https://[::1]/' }), field: /client_uri must not point to a loopback/ },
      { ...web({ client_uri: 'app.example' }), field: /client_uri must be an absolute URI/ },
      { ...web({ client_uri: ['https://app.example/'] }), field: /client_uri must be a non-empty string/ },
    ],
  },
  {
    rule: 'application_type is web (default) or native',
    accept: [{ body: BASE, check: (m) => assert.equal(m.application_type, 'web') }, native({})],
    refuse: [{ ...web({ application_type: 'desktop' }), field: /application_type/ }],
  },
  {
    rule: 'web: every redirect URI is https on the client_uri host',
    accept: [
      web({ redirect_uris: ['https://app.example/cb', 'https://app.example:8443/other?x=1'] }),
      { body: patch(BASE, { redirect_uris: ['https://app.example/cb', 'https://app.example/cb'] }), check: (m) => assert.deepEqual(m.redirect_uris, ['https://app.example/cb']) },
    ],
    refuse: [
      { ...web({ redirect_uris: ['http://app.example/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris: .* must be an https/ },
      { ...web({ redirect_uris: ['https://evil.example/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris: .* same host as client_uri/ },
      { ...web({ redirect_uris: ['https://app.example.evil/cb'] }), error: 'invalid_redirect_uri', field: /same host/ },
      { ...web({ redirect_uris: ['http://127.0.0.1/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ },
      { ...web({ redirect_uris: ['org.example.app:/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ },
      { ...web({ redirect_uris: ['urn:ietf:wg:oauth:2.0:oob'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ },
      { ...web({ redirect_uris: 'https://app.example/cb' }), error: 'invalid_redirect_uri', field: /redirect_uris must be an array/ },
    ],
  },
  {
    rule: 'native: loopback http on any port',
    accept: [native({ redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost:51234/callback'] })],
    refuse: [
      { ...native({ redirect_uris: ['http://app.example/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris: .* 127\.0\.0\.1/ },
      { ...native({ redirect_uris: ['http://127.0.0.2/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ },
    ],
  },
  {
    rule: 'native: private-use scheme containing a dot',
    accept: [native({ redirect_uris: ['org.example.app:/cb'] }), native({ redirect_uris: ['com.example.chat://oauth'] })],
    refuse: [
      { ...native({ redirect_uris: ['myapp:/cb'] }), error: 'invalid_redirect_uri', field: /private-use scheme/ },
      { ...native({ redirect_uris: ['javascript:alert(1)'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ },
    ],
  },
  {
    rule: 'native: out-of-band URN',
    accept: [native({ redirect_uris: ['urn:ietf:wg:oauth:2.0:oob'] })],
    refuse: [{ ...native({ redirect_uris: ['urn:ietf:wg:oauth:2.0:oob:other'] }), error: 'invalid_redirect_uri', field: /redirect_uris/ }],
  },
  {
    rule: 'redirect URIs: no fragment, no relative URI, no credentials, no whitespace',
    accept: [web({ redirect_uris: ['https://app.example/cb?next=%23top'] })],
    refuse: [
      { ...web({ redirect_uris: ['https://app.example/cb#x'] }), error: 'invalid_redirect_uri', field: /redirect_uris must not contain a fragment/ },
      { ...web({ redirect_uris: ['https://app.example/cb#'] }), error: 'invalid_redirect_uri', field: /fragment/ },
      { ...native({ redirect_uris: ['org.example.app:/cb#x'] }), error: 'invalid_redirect_uri', field: /fragment/ },
      { ...web({ redirect_uris: ['/cb'] }), error: 'invalid_redirect_uri', field: /redirect_uris must be an absolute URI/ },
      { ...web({ redirect_uris: ['//app.example/cb'] }), error: 'invalid_redirect_uri', field: /absolute URI/ },
      { ...web({ redirect_uris: ['https://u:p@app.example/cb'] }), error: 'invalid_redirect_uri', field: /credentials/ },
      { ...web({ redirect_uris: ['https://app.example/c b'] }), error: 'invalid_redirect_uri', field: /whitespace/ },
      { ...web({ redirect_uris: [`https://app.example/${'a'.repeat(1100)}`] }), error: 'invalid_redirect_uri', field: /longer than/ },
    ],
  },
  {
    rule: 'at least one redirect URI when the authorization_code grant is used',
    accept: [{ body: DEVICE_ONLY, check: (m) => assert.deepEqual(m.redirect_uris, []) }],
    refuse: [
      { ...web({ redirect_uris: undefined }), error: 'invalid_redirect_uri', field: /redirect_uris must hold at least one/ },
      { ...web({ redirect_uris: [] }), error: 'invalid_redirect_uri', field: /redirect_uris must hold at least one/ },
    ],
  },
  {
    rule: 'logo_uri, tos_uri, policy_uri: https on the client_uri host',
    accept: [
      {
        body: patch(BASE, { logo_uri: 'https://app.example/logo.png', tos_uri: 'https://app.example/tos', policy_uri: 'https://app.example/privacy' }),
        check: (m) => assert.deepEqual([m.logo_uri, m.tos_uri, m.policy_uri], ['https://app.example/logo.png', 'https://app.example/tos', 'https://app.example/privacy']),
      },
    ],
    refuse: [
      { ...web({ logo_uri: 'https://cdn.example/logo.png' }), field: /logo_uri must be on the same host/ },
      { ...web({ logo_uri: 'http://app.example/logo.png' }), field: /logo_uri must be an https/ },
      { ...web({ tos_uri: 'https://evil.example/tos' }), field: /tos_uri must be on the same host/ },
      { ...web({ policy_uri: 'data:text/html,hi' }), field: /policy_uri must be an https/ },
    ],
  },
  {
    rule: 'grant_types: default authorization_code; only known values',
    accept: [
      { body: BASE, check: (m) => assert.deepEqual(m.grant_types, ['authorization_code']) },
      { body: patch(BASE, { grant_types: ['refresh_token', 'authorization_code'] }), check: (m) => assert.deepEqual(m.grant_types, ['authorization_code', 'refresh_token']) },
    ],
    refuse: [
      { ...web({ grant_types: ['implicit'] }), field: /grant_types: "implicit" is not supported/ },
      { ...web({ grant_types: ['authorization_code', 'client_credentials'] }), field: /grant_types: "client_credentials"/ },
      { ...web({ grant_types: 'authorization_code' }), field: /grant_types must be an array/ },
      { ...web({ grant_types: [] }), field: /grant_types must name at least one/ },
    ],
  },
  {
    rule: 'grant_types: the device grant by its URN',
    accept: [
      { body: DEVICE_ONLY, check: (m) => { assert.deepEqual(m.grant_types, [DEVICE_GRANT]); assert.deepEqual(m.response_types, []); } },
      web({ grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT] }),
    ],
    refuse: [{ body: patch(DEVICE_ONLY, { grant_types: ['device_code'] }), field: /grant_types: "device_code" .*use urn:ietf/ }],
  },
  {
    rule: 'grant_types: refresh_token only along a grant that issues it',
    accept: [web({ grant_types: ['authorization_code', 'refresh_token'] })],
    refuse: [{ ...web({ grant_types: ['refresh_token'], response_types: [] }), field: /refresh_token needs/ }],
  },
  {
    rule: 'grant_types: within what the server allows (password only if enabled)',
    accept: [
      { ...web({ grant_types: ['authorization_code', 'password'] }), policy: WITH_PASSWORD },
      { body: DEVICE_ONLY, policy: SERVER },
    ],
    refuse: [
      { ...web({ grant_types: ['authorization_code', 'password'] }), policy: SERVER, field: /grant_types: "password" is disabled/ },
      { body: DEVICE_ONLY, policy: NO_DEVICE, field: /grant_types: .*device_code" is disabled/ },
    ],
  },
  {
    rule: 'response_types: default code; only code, and only if the server allows it',
    accept: [{ body: BASE, check: (m) => assert.deepEqual(m.response_types, ['code']) }, web({ response_types: ['code'] })],
    refuse: [
      { ...web({ response_types: ['token'] }), field: /response_types: "token" is not supported/ },
      { ...web({ response_types: ['code id_token'] }), field: /response_types/ },
      { ...web({ response_types: 'code' }), field: /response_types must be an array/ },
      { ...web({}), policy: { ...SERVER, allowedResponseTypes: [] }, field: /response_types: "code" is disabled/ },
      { ...web({ response_types: ['code'] }), policy: { ...SERVER, allowedResponseTypes: [] }, field: /response_types: "code" is disabled/ },
    ],
  },
  {
    rule: 'response_types and grant_types agree: code ⇔ authorization_code',
    accept: [
      { body: patch(BASE, { response_types: ['code'], grant_types: undefined }), check: (m) => assert.deepEqual(m.grant_types, ['authorization_code']) },
      { body: patch(DEVICE_ONLY, { response_types: [] }) },
    ],
    refuse: [
      { body: patch(DEVICE_ONLY, { response_types: ['code'] }), field: /grant_types and response_types disagree/ },
      { ...web({ grant_types: ['authorization_code'], response_types: [] }), field: /grant_types and response_types disagree/ },
    ],
  },
  {
    rule: 'token_endpoint_auth_method: client_secret_basic (default), client_secret_post, none',
    accept: [
      { body: BASE, check: (m) => assert.equal(m.token_endpoint_auth_method, 'client_secret_basic') },
      web({ token_endpoint_auth_method: 'client_secret_post' }),
      { body: patch(BASE, { token_endpoint_auth_method: null }), check: (m) => assert.equal(m.token_endpoint_auth_method, 'client_secret_basic', 'null means absent') },
      { ...native({ token_endpoint_auth_method: 'none' }), check: (m) => assert.equal(m.token_endpoint_auth_method, 'none') },
    ],
    refuse: [
      { ...web({ token_endpoint_auth_method: 'private_key_jwt' }), field: /token_endpoint_auth_method must be one of/ },
      { ...web({ token_endpoint_auth_method: 'tls_client_auth' }), field: /token_endpoint_auth_method/ },
    ],
  },
  {
    rule: 'scope: space-separated, unknown scopes dropped, default all known',
    accept: [
      { body: BASE, check: (m) => assert.equal(m.scope, 'openid profile offline_access xmpp:client:normal xmpp xmpp:account:read xmpp:account:write') },
      { body: patch(BASE, { scope: 'xmpp  openid nonsense' }), check: (m) => assert.equal(m.scope, 'openid xmpp') },
    ],
    refuse: [
      { ...web({ scope: 'email phone' }), field: /scope names none of the scopes/ },
      { ...web({ scope: ['openid'] }), field: /scope must be a space-separated string/ },
    ],
  },
  {
    rule: 'software_id, software_version, contacts are kept',
    accept: [
      {
        body: patch(BASE, { software_id: '4NRB1-0XZABZI9E6-5SM3R', software_version: '2.1.0', contacts: ['ops@app.example', 'ops@app.example', 'dev@app.example'] }),
        check: (m) => {
          assert.equal(m.software_id, '4NRB1-0XZABZI9E6-5SM3R');
          assert.equal(m.software_version, '2.1.0');
          assert.deepEqual(m.contacts, ['ops@app.example', 'dev@app.example']);
        },
      },
    ],
    refuse: [
      { ...web({ contacts: ['not an address'] }), field: /contacts: "not an address" is not an e-mail/ },
      { ...web({ contacts: 'ops@app.example' }), field: /contacts must be an array/ },
      { ...web({ contacts: Array.from({ length: 6 }, (_, i) => `p${i}@app.example`) }), field: /contacts may hold at most/ },
      { ...web({ software_id: 12 }), field: /software_id must be a string/ },
      { ...web({ software_version: 'v'.repeat(101) }), field: /software_version is longer/ },
    ],
  },
  {
    rule: 'unknown fields are dropped',
    accept: [
      {
        // As JSON.parse builds it: "__proto__" is an own key there.
        body: JSON.parse(
          JSON.stringify({ ...BASE, jwks_uri: 'https://evil.example/jwks', client_id: 'admin', client_secret: 'x', 'tos_uri#fr': 'https://evil.example/' })
            .replace(/^\{/, '{"__proto__":{"polluted":1},'),
        ),
        check: (m) => {
          for (const k of ['jwks_uri', 'client_id', 'client_secret', 'tos_uri#fr', 'polluted']) assert.ok(!(k in m), `${k} dropped`);
        },
      },
    ],
    refuse: [],
  },
];

describe('registration rules (pure validator)', () => {
  for (const { rule, accept, refuse } of RULES) {
    describe(rule, () => {
      accept.forEach((ex, i) => {
        it(`accepts example ${i + 1}`, () => {
          const meta = validateClientMetadata(ex.body, ex.policy ?? SERVER);
          ex.check?.(meta);
        });
      });
      refuse.forEach((ex, i) => {
        it(`refuses example ${i + 1}`, () => {
          assert.throws(
            () => validateClientMetadata(ex.body, ex.policy ?? SERVER),
            (err: unknown) => {
              assert.ok(err instanceof OAuthError, `expected an OAuthError, got ${String(err)}`);
              assert.equal(err.status, 400);
              assert.equal(err.error, ex.error ?? 'invalid_client_metadata');
              assert.match(err.description, ex.field);
              return true;
            },
          );
        });
      });
    });
  }

  it('returns the whole accepted document, defaults filled in', () => {
    assert.deepEqual(validateClientMetadata(BASE, SERVER), {
      client_name: 'Chat',
      client_uri: 'https://app.example/',
      application_type: 'web',
      redirect_uris: ['https://app.example/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile offline_access xmpp:client:normal xmpp xmpp:account:read xmpp:account:write',
    });
  });

  it('knows the loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.255.0.9', 'localhost', 'LOCALHOST', 'localhost.', 'app.localhost', '[::1]', '[::ffff:7f00:1]', '0.0.0.0', '[::]']) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ['app.example', '128.0.0.1', '10.0.0.1', 'localhost.example', '[::2]', '127.example']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });
});
