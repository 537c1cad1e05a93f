// Issue 16: the back channel's canonical paths are answered on node:http
// without Express (src/http/raw-back-channel.ts). Express still serves the
// other spellings it matches (a trailing slash), with body-parser, so every
// request below is sent to both and the answers must be the same: status,
// body and headers. A real server on a real Redis.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseForm, FormError } from '../../src/http/raw-form.js';
import { CLIENT_SECRET, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'raw path test password, long enough';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** node:http rather than fetch: the test must be able to send any bytes and headers, a wrong length included. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// What may differ between two answers given moments apart.
const VOLATILE = new Set(['date', 'connection', 'keep-alive', 'content-length']);
const comparable = (a: Answer) => ({
  status: a.status,
  // Fresh tokens differ from one answer to the next; everything else must not.
  body: a.body.replace(/"(access_token|refresh_token|id_token)":"[^"]+"/g, '"$1":"…"'),
  headers: Object.fromEntries(Object.entries(a.headers).filter(([k]) => !VOLATILE.has(k)).sort(([x], [y]) => x.localeCompare(y))),
});

describe('issue 16: the raw back channel answers as the Express path does', { timeout: 120_000 }, () => {
  let server: TestServer;
  let access: string;
  before(async () => {
    server = await startServer({
      allowed_grant_types: ['authorization_code', 'refresh_token', 'password'],
      login_throttle: { per_account: 1_000_000, per_address: 1_000_000, window: 60 },
      token_throttle: { per_client: 1_000_000, failed_auth: 1_000_000, window: 60 },
      clients: [
        {
          id: 'webapp',
          name: 'Test Web App',
          secret_hash: `sha256:${(await import('node:crypto')).createHash('sha256').update(CLIENT_SECRET).digest('hex')}`,
          redirect_uris: ['https://app.example/cb'],
          grant_types: ['authorization_code', 'refresh_token', 'password'],
        },
      ],
    });
    await server.app.accounts.create('alice@localhost', PASSWORD);
    const r = await send(server.url, 'POST', '/oauth2/token', { 'content-type': FORM, authorization: basic('webapp', CLIENT_SECRET) },
      new URLSearchParams({ grant_type: 'password', username: 'alice@localhost', password: PASSWORD, scope: 'openid xmpp' }).toString());
    assert.equal(r.status, 200, r.body);
    access = (JSON.parse(r.body) as { access_token: string }).access_token;
  });
  after(async () => server?.stop());

  /** The same request to the canonical path (raw) and with a trailing slash (Express). */
  const both = async (method: string, path: string, headers: Record<string, string>, body?: Buffer | string) => {
    const raw = await send(server.url, method, path, headers, body);
    const viaExpress = await send(server.url, method, `${path}/`, headers, body);
    return { raw, viaExpress };
  };
  const same = async (what: string, method: string, path: string, headers: Record<string, string>, body?: Buffer | string) => {
    const { raw, viaExpress } = await both(method, path, headers, body);
    assert.deepEqual(comparable(raw), comparable(viaExpress), what);
    return raw;
  };

  const client = { 'content-type': FORM, authorization: basic('webapp', CLIENT_SECRET) };
  const cases: Array<[string, string, string, Record<string, string>, string?]> = [
    ['introspection of a live token', 'POST', '/oauth2/introspect', client, ''],
    ['introspection without a token', 'POST', '/oauth2/introspect', client, ''],
    ['introspection of junk', 'POST', '/oauth2/introspect', client, 'token=junk'],
    ['a repeated parameter', 'POST', '/oauth2/introspect', client, 'token=a&token=b'],
    ['a bracketed key (depth 0)', 'POST', '/oauth2/introspect', client, 'token[a]=b'],
    ['malformed percent-encoding', 'POST', '/oauth2/introspect', client, 'token=%E0%A4%A&x=%zz'],
    ['101 parameters', 'POST', '/oauth2/introspect', client, Array.from({ length: 101 }, (_, i) => `p${i}=1`).join('&')],
    ['100 parameters', 'POST', '/oauth2/introspect', client, Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&')],
    ['a parameter over 8 KiB', 'POST', '/oauth2/introspect', client, `token=${'a'.repeat(9000)}`],
    ['a wrong secret', 'POST', '/oauth2/token', { 'content-type': FORM, authorization: basic('webapp', 'wrong') }, 'grant_type=refresh_token&refresh_token=x'],
    ['an unknown client', 'POST', '/oauth2/token', { 'content-type': FORM, authorization: basic('nobody', 'x') }, 'grant_type=refresh_token&refresh_token=x'],
    ['a malformed Basic header', 'POST', '/oauth2/token', { 'content-type': FORM, authorization: 'Basic !!!' }, 'grant_type=refresh_token'],
    ['no client authentication', 'POST', '/oauth2/token', { 'content-type': FORM }, 'grant_type=refresh_token&refresh_token=x'],
    ['an unsupported grant type', 'POST', '/oauth2/token', client, 'grant_type=implicit'],
    ['a form with the charset', 'POST', '/oauth2/token', { ...client, 'content-type': `${FORM}; charset=UTF-8` }, 'grant_type=refresh_token&refresh_token=x'],
    ['revocation of junk', 'POST', '/oauth2/revoke', client, 'token=junk'],
    ['userinfo without a token', 'GET', '/oauth2/userinfo', {}],
    ['userinfo with a malformed header', 'GET', '/oauth2/userinfo', { authorization: 'Bearer a b' }],
    ['userinfo with a junk token', 'GET', '/oauth2/userinfo', { authorization: 'Bearer junk' }],
    ['userinfo by POST without a token', 'POST', '/oauth2/userinfo', { 'content-type': FORM }, ''],
    ['a body with a byte order mark', 'POST', '/oauth2/introspect', client, '\ufefftoken=junk'],
  ];

  it('issue 16: the same status, body and headers for ordinary, refused and malformed requests', async () => {
    for (const [what, method, path, headers, body] of cases) {
      const text = what === 'introspection of a live token' ? `token=${access}` : body;
      await same(what, method, path, headers, text);
    }
  });

  it('issue 16: a live token, userinfo and the documents come back the same, and security headers are on every answer', async () => {
    const live = await same('introspection', 'POST', '/oauth2/introspect', client, `token=${access}`);
    assert.equal((JSON.parse(live.body) as { active: boolean }).active, true);
    const info = await same('userinfo', 'GET', '/oauth2/userinfo', { authorization: `Bearer ${access}` });
    assert.equal(info.status, 200);
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/oauth2/jwks']) {
      const doc = await same(path, 'GET', path, {});
      assert.equal(doc.status, 200);
      assert.equal(doc.headers['x-frame-options'], 'DENY');
      const head = await send(server.url, 'HEAD', path, {});
      assert.equal(head.status, 200);
      assert.equal(head.body, '', 'HEAD has no body');
    }
    assert.equal(live.headers['cache-control'], 'no-store');
    assert.equal(live.headers['x-content-type-options'], 'nosniff');
    assert.match(String(live.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  it('issue 16: property: any form body gets the same answer on both paths', async () => {
    const key = fc.constantFrom('token', 'token_type_hint', 'client_id', 'x', 'token[0]', '', '%', 'a%20b');
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('%', '%zz', '+', '%2B', 'é', '\u0000'));
    const bodies = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURI(v).replace(/&/g, '%26')}`).join('&'));
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        await same(`body ${JSON.stringify(body)}`, 'POST', '/oauth2/introspect', client, body);
      }),
      { numRuns: 150 },
    );
  });

  it('issue 16: bodies the raw reader leaves alone still reach the endpoint (gzip, chunked, other types)', async () => {
    const form = `token=${access}`;
    const gz = await send(server.url, 'POST', '/oauth2/introspect', { ...client, 'content-encoding': 'gzip' }, gzipSync(form));
    assert.equal((JSON.parse(gz.body) as { active: boolean }).active, true, 'a gzip body is inflated (body-parser)');
    const chunked = await send(server.url, 'POST', '/oauth2/introspect', { ...client, 'transfer-encoding': 'chunked' }, form);
    assert.equal((JSON.parse(chunked.body) as { active: boolean }).active, true, 'a chunked body is read');
    const json = await same('a JSON body', 'POST', '/oauth2/introspect', { ...client, 'content-type': 'application/json' }, JSON.stringify({ token: access }));
    assert.equal(json.status, 400);
    assert.match(json.body, /x-www-form-urlencoded/);
    const big = await same('a body over 16 KiB', 'POST', '/oauth2/introspect', client, `token=${'a'.repeat(17_000)}`);
    assert.equal(big.status, 413);
    const latin1 = await same('another charset', 'POST', '/oauth2/introspect', { ...client, 'content-type': `${FORM}; charset=iso-8859-1` }, 'token=x');
    assert.equal(latin1.status, 200, 'body-parser reads a Latin-1 form (qs charset)');
  });

  it('issue 16: a query of 101 parameters on a GET endpoint is answered, and the server carries on (review finding: it used to throw out of the listener)', async () => {
    const query = `?${Array.from({ length: 101 }, (_, i) => `p${i}=1`).join('&')}`;
    for (const path of ['/oauth2/userinfo', '/.well-known/openid-configuration', '/oauth2/jwks']) {
      const raw = await send(server.url, 'GET', `${path}${query}`, { authorization: `Bearer ${access}` });
      assert.ok(raw.status === 200 || raw.status === 413, `${path}: ${raw.status} ${raw.body}`);
    }
    const after = await send(server.url, 'POST', '/oauth2/introspect', client, `token=${access}`);
    assert.equal((JSON.parse(after.body) as { active: boolean }).active, true, 'the server carries on');
  });

  it('issue 16: a body shorter than its Content-Length, then a closed socket, neither crashes nor answers twice', async () => {
    const net = await import('node:net');
    const { port } = new URL(server.url);
    await new Promise<void>((resolve) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(`POST /oauth2/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\ntoken=abc`);
        setTimeout(() => sock.destroy(), 50);
      });
      sock.on('close', () => resolve());
      sock.on('error', () => undefined);
    });
    const after = await send(server.url, 'POST', '/oauth2/introspect', client, `token=${access}`);
    assert.equal((JSON.parse(after.body) as { active: boolean }).active, true, 'the server carries on');
  });

  it('issue 16: parseForm follows body-parser: the parameter limit, arrays for repeated keys, depth 0', () => {
    assert.deepEqual(parseForm(''), {});
    assert.deepEqual(parseForm('a=1&b=2+3'), { a: '1', b: '2 3' });
    assert.deepEqual(parseForm('a=1&a=2'), { a: ['1', '2'] });
    assert.throws(() => parseForm(Array.from({ length: 101 }, () => 'a=1').join('&')), (e: unknown) => e instanceof FormError && e.status === 413);
  });
});
