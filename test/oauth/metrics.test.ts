import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Distinct values of one label of one metric in a Prometheus text exposition. */
function labelValues(text: string, metric: string, label: string): Set<string> {
  const out = new Set<string>();
  const re = new RegExp(`^${metric}\\{[^}]*\\b${label}="([^"]*)"`, 'gm');
  for (const m of text.matchAll(re)) out.add(m[1]!);
  return out;
}

const rand = (n = 12) => randomBytes(n).toString('hex');

describe('issue 12 #3: metric labels are bounded', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  /** Requests to paths no caller chose before, under every prefix we serve. */
  async function junk(n: number) {
    const paths = (i: number) =>
      [
        `/oauth2/${rand()}`,
        `/oauth2/authorize/${rand()}`,
        `/account/${rand(400)}`,
        `/.well-known/${rand()}`,
        `/static/${rand()}.css`,
        `/${rand()}`,
      ][i % 6]!;
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'MKCOL'];
    for (let i = 0; i < n; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, n - i) }, (_, j) =>
          fetch(`${server.url}${paths(i + j)}`, { method: methods[(i + j) % methods.length] }).then((r) => r.arrayBuffer()),
        ),
      );
    }
  }

  it('issue 12 #3: thousands of random paths leave the label set and /metrics size bounded', async () => {
    await fetch(`${server.url}/healthz`);
    await fetch(`${server.url}/oauth2/jwks`);
    await fetch(`${server.url}/metrics`);
    await junk(70);
    const first = await (await fetch(`${server.url}/metrics`)).text();
    const endpoints = labelValues(first, 'xmpp_oauth_http_requests_total', 'endpoint');
    const methods = labelValues(first, 'xmpp_oauth_http_requests_total', 'method');
    assert.ok(endpoints.has('unmatched'), `unknown paths share one label: ${[...endpoints]}`);
    assert.ok(endpoints.has('/healthz') && endpoints.has('/oauth2/jwks'), `matched routes keep their name: ${[...endpoints]}`);

    await junk(3000);
    const second = await (await fetch(`${server.url}/metrics`)).text();
    assert.deepEqual(labelValues(second, 'xmpp_oauth_http_requests_total', 'endpoint'), endpoints);
    assert.deepEqual(labelValues(second, 'xmpp_oauth_http_request_duration_seconds_bucket', 'endpoint'), labelValues(first, 'xmpp_oauth_http_request_duration_seconds_bucket', 'endpoint'));
    assert.deepEqual(labelValues(second, 'xmpp_oauth_http_requests_total', 'method'), methods);
    // Only counter digits and process gauges may change.
    assert.ok(second.length < first.length + 2000, `/metrics grew from ${first.length} to ${second.length} bytes`);
    assert.doesNotMatch(second, /[0-9a-f]{24}/, 'no random path part in any label');
  });

  it('issue 12 #3: a route with a parameterless pattern is labelled by its pattern, a 404 below it is not', async () => {
    await fetch(`${server.url}/oauth2/token`, { method: 'POST' });
    await fetch(`${server.url}/oauth2/token/${rand()}`, { method: 'POST' });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /xmpp_oauth_http_requests_total\{method="POST",endpoint="\/oauth2\/token",status="400"\} \d+/);
    assert.match(text, /xmpp_oauth_http_requests_total\{method="POST",endpoint="unmatched",status="404"\} \d+/);
  });
});

describe('issue 12 #3: where /metrics is served', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function start(overrides: Record<string, unknown>) {
    const s = await startServer(overrides, { redis: false });
    servers.push(s);
    return s;
  }
  const publicHost = async () => ({ host: '0.0.0.0', port: await freePort() });

  it('issue 12 #3: on a non-loopback http.host, /metrics is off on the public listener by default', async () => {
    const s = await start({ http: await publicHost() });
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 404);
    assert.doesNotMatch(await res.text(), /xmpp_oauth_/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the rest is served');
  });

  it('issue 12 #3: metrics.token puts /metrics behind a bearer token', async () => {
    const s = await start({ http: await publicHost(), metrics: { token: TOKEN } });
    const none = await fetch(`${s.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.doesNotMatch(await none.text(), /xmpp_oauth_/);
    const wrong = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 200);
    assert.match(await right.text(), /xmpp_oauth_http_requests_total/);
  });

  it('issue 12 #3: metrics.port serves /metrics on its own listener and takes it off the public one', async () => {
    const metricsPort = await freePort();
    const s = await start({ http: await publicHost(), metrics: { port: metricsPort } });
    assert.equal(s.app.metricsPort, metricsPort);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 404);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /xmpp_oauth_http_requests_total/);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/oauth2/jwks`)).status, 404, 'nothing else on the metrics listener');
  });

  it('a loopback http.host keeps /metrics open on the one listener', async () => {
    const s = await start({});
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
  });

  it('config print masks metrics.token', async () => {
    const { printableConfig } = await import('../../src/config/print.js');
    const { validate } = await import('../../src/config/load.js');
    const text = printableConfig(validate({ metrics: { token: TOKEN } }));
    assert.doesNotMatch(text, new RegExp(TOKEN));
    assert.match(text, /token: "?\*{8}/);
  });

  it('metrics.token is refused when too short', async () => {
    await assert.rejects(start({ metrics: { token: 'short' } }), /metrics\.token.*16 characters|16 characters/);
  });
});
