// Issue 22 #8: /metrics (without metrics.token) and ejabberd's token lookup
// (without ejabberd_lookup.secret) answer only callers on this machine, and a
// request through a reverse proxy is never one: not with a proxy's headers,
// and not at all once http.trust_proxy is set (getting-started.md's set-up:
// loopback behind a proxy on the same machine).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PROXY_HEADERS: Record<string, string>[] = [
  { 'x-forwarded-for': '203.0.113.9' },
  { forwarded: 'for=203.0.113.9;proto=https' },
  { 'x-real-ip': '203.0.113.9' },
  { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.org' },
];

const metrics = (server: TestServer, headers: Record<string, string> = {}) => fetch(`${server.url}/metrics`, { headers });
const lookup = (server: TestServer, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/oauth/lookup`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token: 'nope' }) });

describe('issue 22 #8: loopback is not local behind a reverse proxy', () => {
  let direct: TestServer;
  let proxied: TestServer;
  let proxiedWithToken: TestServer;
  before(async () => {
    direct = await startServer({ ejabberd_lookup: { enabled: true } });
    // getting-started.md: http.host 127.0.0.1 with trust_proxy: loopback, a proxy in front.
    const behindProxy = async () => {
      const port = await freePort();
      return { issuer: `http://127.0.0.1:${port}`, http: { host: '127.0.0.1', port, trust_proxy: 'loopback' } };
    };
    proxied = await startServer({ ...(await behindProxy()), ejabberd_lookup: { enabled: true } }, { redis: direct.redisUrl! });
    proxiedWithToken = await startServer(
      { ...(await behindProxy()), metrics: { token: 'metrics-token-0123456789' }, ejabberd_lookup: { enabled: true, secret: 'lookup-secret-0123456789abcdef' } },
      { redis: direct.redisUrl! },
    );
  });
  after(async () => {
    await proxiedWithToken?.stop();
    await proxied?.stop();
    await direct?.stop();
  });

  it('review #8: without trust_proxy, a loopback request carrying proxy headers gets neither /metrics nor the lookup', async () => {
    // A local caller without proxy headers is still served (Prometheus, ejabberd on this machine).
    assert.equal((await metrics(direct)).status, 200);
    assert.equal((await lookup(direct)).status, 404, 'past the guard: the token is unknown');
    for (const headers of PROXY_HEADERS) {
      const m = await metrics(direct, headers);
      assert.equal(m.status, 403, `/metrics with ${JSON.stringify(headers)}`);
      assert.doesNotMatch(await m.text(), /xmpp_oauth_/);
      assert.equal((await lookup(direct, headers)).status, 403, `/oauth/lookup with ${JSON.stringify(headers)}`);
    }
  });

  it('review #8: with http.trust_proxy set (the documented set-up), no loopback caller is local, with or without headers', async () => {
    const m = await metrics(proxied);
    assert.equal(m.status, 404, '/metrics is not served on the public listener');
    assert.doesNotMatch(await m.text(), /xmpp_oauth_/);
    assert.equal((await metrics(proxied, { 'x-forwarded-for': '203.0.113.9' })).status, 404);
    assert.equal((await lookup(proxied)).status, 403, 'a lookup without a secret is refused');
    assert.equal((await lookup(proxied, { 'x-forwarded-for': '203.0.113.9' })).status, 403);
  });

  it('behind a proxy, metrics.token and ejabberd_lookup.secret still open the two endpoints', async () => {
    assert.equal((await metrics(proxiedWithToken)).status, 401);
    assert.equal((await metrics(proxiedWithToken, { authorization: 'Bearer metrics-token-0123456789', 'x-forwarded-for': '203.0.113.9' })).status, 200);
    assert.equal((await lookup(proxiedWithToken)).status, 403);
    assert.equal((await lookup(proxiedWithToken, { 'x-lookup-secret': 'lookup-secret-0123456789abcdef', 'x-forwarded-for': '203.0.113.9' })).status, 404);
  });
});
