// Issue 16 acceptance: `xmpp-oauth serve --workers 2` serves the whole flow on
// one port, /metrics shows every worker in one scrape, and SIGTERM stops the
// primary and both workers cleanly.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { FormBrowser } from '../helpers/browser.js';
import { startRedis, type RedisInstance } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { addUser, errorLines, introspect, newGrant, refresh, revoke, startInstance, type Instance } from './instances.js';

describe('issue 16: serve --workers 2', { timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let server: Instance & { child: import('node:child_process').ChildProcess };

  before(async () => {
    redis = await startRedis();
    server = await startInstance({ url: redis.url }, {}, ['--workers', '2']);
    await addUser(server.configFile);
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('issue 16: --workers 2 serves the whole flow (authorize, login, consent, code, refresh, introspect, revoke)', async () => {
    await waitFor('both workers serving', () => server.logs.some((l) => l.msg === 'all workers serving'));
    const workers = new Set(server.logs.filter((l) => l.msg === 'HTTP listening').map((l) => l.worker));
    assert.deepEqual([...workers].sort(), [1, 2], 'each worker logs with its index');
    for (let round = 0; round < 4; round++) {
      const tokens = await newGrant(new FormBrowser(), server.url, server.url);
      assert.equal(await introspect(server.url, tokens.access_token), true);
      const next = await refresh(server.url, tokens.refresh_token);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      await revoke(server.url, String(next.body.refresh_token), 'refresh_token');
      // Whichever worker answers: revoked everywhere at once.
      for (let i = 0; i < 6; i++) assert.equal(await introspect(server.url, tokens.access_token), false);
    }
  });

  it('issue 16: one scrape of /metrics counts the requests of both workers', async () => {
    const before = await fetch(`${server.url}/metrics`).then((r) => r.text());
    const count = (text: string) =>
      text.split('\n').filter((l) => l.startsWith('xmpp_oauth_http_requests_total{') && l.includes('endpoint="/healthz"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    for (let i = 0; i < 20; i++) assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const text = await fetch(`${server.url}/metrics`).then((r) => r.text());
    assert.equal(count(text) - count(before), 20, 'the aggregated counter holds every worker\'s requests');
    assert.match(text, /xmpp_oauth_http_request_duration_seconds_bucket/);
  });

  it('issue 16: SIGTERM stops the primary and both workers, exit code 0, no error logged', async () => {
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.deepEqual(errorLines(server), []);
    assert.ok(server.logs.filter((l) => l.msg === 'shutting down').length >= 3, 'the primary and each worker say so');
  });
});
