import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { PASSWORD, authUrl, authorizeInBrowser, pkcePair, tokenCall } from '../helpers/flow.js';
import { startRedis } from '../helpers/redis.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('operations: readiness, metrics, Redis outage', () => {
  let server: TestServer;
  let redis: Awaited<ReturnType<typeof startRedis>>;

  before(async () => {
    redis = await startRedis({ persist: true });
    server = await startServer({}, { redis: redis.url });
    await server.app.accounts.create('alice@localhost', PASSWORD);
  });
  after(async () => {
    await server.stop();
    await redis.stop();
  });

  async function refreshToken(): Promise<string> {
    const { verifier, challenge } = pkcePair();
    const cb = await authorizeInBrowser(new FormBrowser(), authUrl(server.url, {
      response_type: 'code', client_id: 'webapp', redirect_uri: 'https://app.example/cb', scope: 'openid offline_access',
      code_challenge: challenge, code_challenge_method: 'S256',
    }));
    const res = await tokenCall(server.url, { grant_type: 'authorization_code', code: cb.searchParams.get('code')!, code_verifier: verifier, redirect_uri: 'https://app.example/cb' });
    return res.body.refresh_token as string;
  }

  it('reports readiness with the store and the XMPP link', async () => {
    const res = await fetch(`${server.url}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { store: { ok: boolean; kind: string }; xmpp: { enabled: boolean } };
    assert.deepEqual([body.store.ok, body.store.kind, body.xmpp.enabled], [true, 'redis', false]);
  });

  it('exposes Prometheus metrics for requests, logins and tokens, with no secrets in labels', async () => {
    await refreshToken();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /xmpp_oauth_http_requests_total\{method="POST",endpoint="\/oauth2\/token",status="200"\} \d+/);
    assert.match(text, /xmpp_oauth_logins_total\{via="web",outcome="ok"\} \d+/);
    assert.match(text, /xmpp_oauth_tokens_issued_total\{grant_type="authorization_code"\} \d+/);
    assert.match(text, /xmpp_oauth_store_latency_seconds \d/);
    assert.match(text, /xmpp_oauth_password_hashes\{state="waiting"\} 0/);
    assert.doesNotMatch(text, /code=|refresh_token=|eyJ/);
  });

  it('answers 503 temporarily_unavailable while Redis is down, and recovers without a restart', async () => {
    const rt = await refreshToken();
    await redis.kill();
    const res = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt });
    assert.equal(res.status, 503);
    assert.equal(res.body.error, 'temporarily_unavailable');
    assert.equal(res.headers.get('retry-after'), '5');
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    // People get a page, not JSON: the login form still renders, signing in says "try later".
    const browser = new FormBrowser();
    const login = await browser.get(`${server.url}/account`);
    assert.equal(login.status, 200);
    const page = await browser.submit(server.url, await login.text(), { username: 'alice@localhost', password: PASSWORD });
    assert.equal(page.status, 503);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /temporarily unavailable/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'liveness does not depend on Redis');

    await redis.restart();
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await fetch(`${server.url}/readyz`)).status === 200;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'ready again after Redis returned');
    const again = await tokenCall(server.url, { grant_type: 'refresh_token', refresh_token: rt });
    assert.equal(again.status, 200, 'the refresh token survived the outage (nothing half-written)');
  });
});
